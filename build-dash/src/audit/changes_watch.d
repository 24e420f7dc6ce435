build-dash/src/audit/changes_watch.o: src/audit/changes_watch.c \
 src/audit/changes_internal.h src/audit/changes.h src/util/cleanup.h \
 src/util/weaken.h
src/audit/changes_internal.h:
src/audit/changes.h:
src/util/cleanup.h:
src/util/weaken.h:

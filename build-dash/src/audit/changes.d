build-dash/src/audit/changes.o: src/audit/changes.c src/audit/changes.h \
 src/audit/changes_internal.h src/util/digest.h src/util/weaken.h \
 src/util/bytes_json.h
src/audit/changes.h:
src/audit/changes_internal.h:
src/util/digest.h:
src/util/weaken.h:
src/util/bytes_json.h:

build-dash/src/workspace/store.o: src/workspace/store.c \
 src/workspace/store.h src/util/error.h src/workspace/session.h \
 src/util/strv.h src/util/cleanup.h src/workspace/fsops.h \
 src/workspace/upper_copy.h
src/workspace/store.h:
src/util/error.h:
src/workspace/session.h:
src/util/strv.h:
src/util/cleanup.h:
src/workspace/fsops.h:
src/workspace/upper_copy.h:

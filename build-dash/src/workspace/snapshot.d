build-dash/src/workspace/snapshot.o: src/workspace/snapshot.c \
 src/workspace/snapshot.h src/util/error.h src/workspace/session.h \
 src/util/strv.h src/util/cleanup.h src/util/walk.h src/workspace/fsops.h
src/workspace/snapshot.h:
src/util/error.h:
src/workspace/session.h:
src/util/strv.h:
src/util/cleanup.h:
src/util/walk.h:
src/workspace/fsops.h:

build-dash/src/workspace/fsops.o: src/workspace/fsops.c \
 src/workspace/fsops.h src/util/cleanup.h src/util/walk.h \
 src/util/error.h
src/workspace/fsops.h:
src/util/cleanup.h:
src/util/walk.h:
src/util/error.h:

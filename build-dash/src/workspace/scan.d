build-dash/src/workspace/scan.o: src/workspace/scan.c \
 src/workspace/scan.h src/util/error.h src/util/array.h \
 src/util/cleanup.h src/util/path.h src/util/walk.h src/workspace/fsops.h
src/workspace/scan.h:
src/util/error.h:
src/util/array.h:
src/util/cleanup.h:
src/util/path.h:
src/util/walk.h:
src/workspace/fsops.h:

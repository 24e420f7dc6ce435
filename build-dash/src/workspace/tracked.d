build-dash/src/workspace/tracked.o: src/workspace/tracked.c \
 src/workspace/tracked.h src/util/cleanup.h src/util/fileio.h \
 src/workspace/fsops.h
src/workspace/tracked.h:
src/util/cleanup.h:
src/util/fileio.h:
src/workspace/fsops.h:

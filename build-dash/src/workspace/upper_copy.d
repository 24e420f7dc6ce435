build-dash/src/workspace/upper_copy.o: src/workspace/upper_copy.c \
 src/workspace/upper_copy.h src/util/cleanup.h src/util/walk.h \
 src/util/error.h src/workspace/fsops.h
src/workspace/upper_copy.h:
src/util/cleanup.h:
src/util/walk.h:
src/util/error.h:
src/workspace/fsops.h:

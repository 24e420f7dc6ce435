build-dash/src/workspace/base_capture.o: src/workspace/base_capture.c \
 src/workspace/base.h src/util/error.h src/workspace/scan.h \
 src/workspace/session.h src/util/strv.h src/util/array.h \
 src/util/cleanup.h src/util/path.h src/util/walk.h \
 src/workspace/base_internal.h src/workspace/fsops.h
src/workspace/base.h:
src/util/error.h:
src/workspace/scan.h:
src/workspace/session.h:
src/util/strv.h:
src/util/array.h:
src/util/cleanup.h:
src/util/path.h:
src/util/walk.h:
src/workspace/base_internal.h:
src/workspace/fsops.h:

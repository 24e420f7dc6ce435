build-dash/src/workspace/base.o: src/workspace/base.c \
 src/workspace/base.h src/util/error.h src/workspace/scan.h \
 src/workspace/session.h src/util/strv.h src/util/array.h \
 src/util/cleanup.h src/util/digest.h src/util/fileio.h src/util/path.h \
 src/workspace/base_internal.h src/workspace/fsops.h
src/workspace/base.h:
src/util/error.h:
src/workspace/scan.h:
src/workspace/session.h:
src/util/strv.h:
src/util/array.h:
src/util/cleanup.h:
src/util/digest.h:
src/util/fileio.h:
src/util/path.h:
src/workspace/base_internal.h:
src/workspace/fsops.h:

build-dash/src/workspace/session.o: src/workspace/session.c \
 src/workspace/session.h src/util/error.h src/util/strv.h \
 src/audit/dirs.h src/util/cleanup.h src/util/bytes_json.h \
 src/util/path.h src/util/fileio.h src/workspace/fsops.h
src/workspace/session.h:
src/util/error.h:
src/util/strv.h:
src/audit/dirs.h:
src/util/cleanup.h:
src/util/bytes_json.h:
src/util/path.h:
src/util/fileio.h:
src/workspace/fsops.h:

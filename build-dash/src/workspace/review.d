build-dash/src/workspace/review.o: src/workspace/review.c \
 src/workspace/review.h src/util/error.h src/workspace/scan.h \
 src/util/array.h src/util/cleanup.h src/util/bytes_json.h \
 src/util/path.h src/util/text_escape.h src/util/fileio.h \
 src/workspace/fsops.h src/workspace/gitformat.h src/workspace/textdiff.h
src/workspace/review.h:
src/util/error.h:
src/workspace/scan.h:
src/util/array.h:
src/util/cleanup.h:
src/util/bytes_json.h:
src/util/path.h:
src/util/text_escape.h:
src/util/fileio.h:
src/workspace/fsops.h:
src/workspace/gitformat.h:
src/workspace/textdiff.h:

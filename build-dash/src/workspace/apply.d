build-dash/src/workspace/apply.o: src/workspace/apply.c \
 src/workspace/apply.h src/util/error.h src/workspace/scan.h \
 src/workspace/session.h src/util/strv.h src/util/bytes_json.h \
 src/util/cleanup.h src/util/text_escape.h src/workspace/base.h \
 src/workspace/fsops.h src/workspace/review.h
src/workspace/apply.h:
src/util/error.h:
src/workspace/scan.h:
src/workspace/session.h:
src/util/strv.h:
src/util/bytes_json.h:
src/util/cleanup.h:
src/util/text_escape.h:
src/workspace/base.h:
src/workspace/fsops.h:
src/workspace/review.h:

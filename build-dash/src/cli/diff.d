build-dash/src/cli/diff.o: src/cli/diff.c src/cli/cli.h src/cli/notice.h \
 src/util/error.h src/util/notice.h src/util/cleanup.h \
 src/util/bytes_json.h src/util/text_escape.h src/util/path.h \
 src/workspace/base.h src/workspace/scan.h src/workspace/session.h \
 src/util/strv.h src/workspace/gitcommits.h src/workspace/protect.h \
 src/workspace/review.h
src/cli/cli.h:
src/cli/notice.h:
src/util/error.h:
src/util/notice.h:
src/util/cleanup.h:
src/util/bytes_json.h:
src/util/text_escape.h:
src/util/path.h:
src/workspace/base.h:
src/workspace/scan.h:
src/workspace/session.h:
src/util/strv.h:
src/workspace/gitcommits.h:
src/workspace/protect.h:
src/workspace/review.h:

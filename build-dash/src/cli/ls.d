build-dash/src/cli/ls.o: src/cli/ls.c src/audit/text.h src/cli/cli.h \
 src/cli/notice.h src/util/error.h src/util/notice.h \
 src/util/bytes_json.h src/util/text_escape.h src/workspace/protect.h \
 src/util/strv.h src/workspace/scan.h src/workspace/session.h
src/audit/text.h:
src/cli/cli.h:
src/cli/notice.h:
src/util/error.h:
src/util/notice.h:
src/util/bytes_json.h:
src/util/text_escape.h:
src/workspace/protect.h:
src/util/strv.h:
src/workspace/scan.h:
src/workspace/session.h:

build-dash/src/cli/apply.o: src/cli/apply.c src/audit/keys.h \
 src/util/error.h src/cli/cli.h src/cli/notice.h src/util/notice.h \
 src/util/bytes_json.h src/util/cleanup.h src/util/text_escape.h \
 src/workspace/apply.h src/workspace/scan.h src/workspace/session.h \
 src/util/strv.h src/workspace/gitcommits.h src/workspace/protect.h \
 src/workspace/record.h src/audit/event.h
src/audit/keys.h:
src/util/error.h:
src/cli/cli.h:
src/cli/notice.h:
src/util/notice.h:
src/util/bytes_json.h:
src/util/cleanup.h:
src/util/text_escape.h:
src/workspace/apply.h:
src/workspace/scan.h:
src/workspace/session.h:
src/util/strv.h:
src/workspace/gitcommits.h:
src/workspace/protect.h:
src/workspace/record.h:
src/audit/event.h:

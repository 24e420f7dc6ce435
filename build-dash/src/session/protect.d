build-dash/src/session/protect.o: src/session/protect.c \
 src/session/protect.h src/audit/event.h src/sandbox/plan.h \
 src/policy/policy.h src/util/error.h src/util/strv.h \
 src/workspace/gitdir.h src/workspace/session.h src/audit/text.h \
 src/util/bytes_json.h src/util/notice.h src/util/text_escape.h \
 src/workspace/protect.h src/workspace/scan.h
src/session/protect.h:
src/audit/event.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/workspace/gitdir.h:
src/workspace/session.h:
src/audit/text.h:
src/util/bytes_json.h:
src/util/notice.h:
src/util/text_escape.h:
src/workspace/protect.h:
src/workspace/scan.h:

build-dash/src/cli/approve.o: src/cli/approve.c src/cli/approve.h \
 src/cli/cli.h src/cli/daemon_sessions.h src/cli/daemon_client.h \
 src/util/error.h src/session/control_client.h src/cli/notice.h \
 src/util/notice.h src/audit/runtime.h src/util/strv.h \
 src/govern/answer_sign.h src/audit/keys.h src/govern/approvals.h \
 src/govern/identity.h src/policy/parse_units.h src/util/cleanup.h \
 src/util/text_escape.h
src/cli/approve.h:
src/cli/cli.h:
src/cli/daemon_sessions.h:
src/cli/daemon_client.h:
src/util/error.h:
src/session/control_client.h:
src/cli/notice.h:
src/util/notice.h:
src/audit/runtime.h:
src/util/strv.h:
src/govern/answer_sign.h:
src/audit/keys.h:
src/govern/approvals.h:
src/govern/identity.h:
src/policy/parse_units.h:
src/util/cleanup.h:
src/util/text_escape.h:

build-dash/src/cli/ps.o: src/cli/ps.c src/audit/clock.h \
 src/audit/runtime.h src/util/error.h src/util/strv.h src/govern/risk.h \
 src/policy/risk_rules.h src/audit/text.h src/cli/cli.h \
 src/cli/daemon_sessions.h src/cli/daemon_client.h src/cli/notice.h \
 src/util/notice.h src/util/text_escape.h
src/audit/clock.h:
src/audit/runtime.h:
src/util/error.h:
src/util/strv.h:
src/govern/risk.h:
src/policy/risk_rules.h:
src/audit/text.h:
src/cli/cli.h:
src/cli/daemon_sessions.h:
src/cli/daemon_client.h:
src/cli/notice.h:
src/util/notice.h:
src/util/text_escape.h:

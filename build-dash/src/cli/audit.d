build-dash/src/cli/audit.o: src/cli/audit.c src/audit/anchor.h \
 src/audit/session_key.h src/audit/clock.h src/audit/keys.h \
 src/util/error.h src/audit/bench.h src/audit/export.h src/audit/text.h \
 src/audit/follow.h src/audit/format.h src/audit/locate.h src/util/strv.h \
 src/audit/trail.h src/policy/policy.h src/audit/trail_internal.h \
 src/audit/verify.h src/cli/audit_daemon.h src/cli/daemon_sessions.h \
 src/cli/daemon_client.h src/cli/cli.h src/cli/notice.h src/util/notice.h \
 src/policy/parse_units.h src/util/cleanup.h src/util/text_escape.h
src/audit/anchor.h:
src/audit/session_key.h:
src/audit/clock.h:
src/audit/keys.h:
src/util/error.h:
src/audit/bench.h:
src/audit/export.h:
src/audit/text.h:
src/audit/follow.h:
src/audit/format.h:
src/audit/locate.h:
src/util/strv.h:
src/audit/trail.h:
src/policy/policy.h:
src/audit/trail_internal.h:
src/audit/verify.h:
src/cli/audit_daemon.h:
src/cli/daemon_sessions.h:
src/cli/daemon_client.h:
src/cli/cli.h:
src/cli/notice.h:
src/util/notice.h:
src/policy/parse_units.h:
src/util/cleanup.h:
src/util/text_escape.h:

build-dash/src/cli/stop.o: src/cli/stop.c src/audit/runtime.h \
 src/util/error.h src/util/strv.h src/cli/cli.h src/cli/daemon_sessions.h \
 src/cli/daemon_client.h src/cli/notice.h src/util/notice.h \
 src/policy/parse_units.h src/util/cleanup.h
src/audit/runtime.h:
src/util/error.h:
src/util/strv.h:
src/cli/cli.h:
src/cli/daemon_sessions.h:
src/cli/daemon_client.h:
src/cli/notice.h:
src/util/notice.h:
src/policy/parse_units.h:
src/util/cleanup.h:

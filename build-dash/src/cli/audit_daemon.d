build-dash/src/cli/audit_daemon.o: src/cli/audit_daemon.c \
 src/cli/audit_daemon.h src/cli/daemon_sessions.h src/cli/daemon_client.h \
 src/util/error.h src/util/cleanup.h
src/cli/audit_daemon.h:
src/cli/daemon_sessions.h:
src/cli/daemon_client.h:
src/util/error.h:
src/util/cleanup.h:

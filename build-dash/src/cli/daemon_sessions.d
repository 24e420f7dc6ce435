build-dash/src/cli/daemon_sessions.o: src/cli/daemon_sessions.c \
 src/cli/daemon_sessions.h src/cli/daemon_client.h src/util/error.h \
 src/util/cleanup.h
src/cli/daemon_sessions.h:
src/cli/daemon_client.h:
src/util/error.h:
src/util/cleanup.h:

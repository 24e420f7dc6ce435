build-dash/src/cli/daemon_client.o: src/cli/daemon_client.c \
 src/cli/daemon_client.h src/util/error.h src/audit/runtime.h \
 src/util/strv.h src/util/cleanup.h src/util/path.h
src/cli/daemon_client.h:
src/util/error.h:
src/audit/runtime.h:
src/util/strv.h:
src/util/cleanup.h:
src/util/path.h:

build-dash/src/serve/daemon_key.o: src/serve/daemon_key.c \
 src/serve/daemon_key.h src/audit/keys.h src/util/error.h \
 src/govern/identity.h src/util/cleanup.h src/util/path.h
src/serve/daemon_key.h:
src/audit/keys.h:
src/util/error.h:
src/govern/identity.h:
src/util/cleanup.h:
src/util/path.h:

build-dash/src/cli/thaw.o: src/cli/thaw.c src/cli/cli.h src/cli/notice.h \
 src/util/error.h src/util/notice.h src/session/control_client.h \
 src/govern/identity.h src/audit/keys.h
src/cli/cli.h:
src/cli/notice.h:
src/util/error.h:
src/util/notice.h:
src/session/control_client.h:
src/govern/identity.h:
src/audit/keys.h:

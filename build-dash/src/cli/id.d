build-dash/src/cli/id.o: src/cli/id.c src/cli/cli.h src/cli/notice.h \
 src/util/error.h src/util/notice.h src/govern/identity.h \
 src/audit/keys.h
src/cli/cli.h:
src/cli/notice.h:
src/util/error.h:
src/util/notice.h:
src/govern/identity.h:
src/audit/keys.h:

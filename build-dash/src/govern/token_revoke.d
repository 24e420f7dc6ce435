build-dash/src/govern/token_revoke.o: src/govern/token_revoke.c \
 src/govern/token_revoke.h src/util/error.h src/util/strv.h \
 src/audit/dirs.h src/govern/token.h src/govern/token_sign.h \
 src/net/rules.h src/util/cleanup.h src/util/path.h
src/govern/token_revoke.h:
src/util/error.h:
src/util/strv.h:
src/audit/dirs.h:
src/govern/token.h:
src/govern/token_sign.h:
src/net/rules.h:
src/util/cleanup.h:
src/util/path.h:

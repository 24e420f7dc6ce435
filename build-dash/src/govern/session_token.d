build-dash/src/govern/session_token.o: src/govern/session_token.c \
 src/govern/session_token.h src/govern/token.h src/govern/token_sign.h \
 src/net/rules.h src/util/error.h src/util/strv.h src/audit/dirs.h \
 src/govern/token_revoke.h src/util/cleanup.h src/util/path.h
src/govern/session_token.h:
src/govern/token.h:
src/govern/token_sign.h:
src/net/rules.h:
src/util/error.h:
src/util/strv.h:
src/audit/dirs.h:
src/govern/token_revoke.h:
src/util/cleanup.h:
src/util/path.h:

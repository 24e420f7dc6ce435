build-dash/src/govern/token.o: src/govern/token.c src/govern/token.h \
 src/govern/token_sign.h src/net/rules.h src/util/error.h src/util/strv.h \
 src/audit/keys.h src/govern/token_internal.h src/util/cleanup.h
src/govern/token.h:
src/govern/token_sign.h:
src/net/rules.h:
src/util/error.h:
src/util/strv.h:
src/audit/keys.h:
src/govern/token_internal.h:
src/util/cleanup.h:

build-dash/src/govern/token_decode.o: src/govern/token_decode.c \
 src/audit/keys.h src/util/error.h src/govern/token.h \
 src/govern/token_sign.h src/net/rules.h src/util/strv.h \
 src/govern/token_internal.h src/util/glob.h src/util/cleanup.h
src/audit/keys.h:
src/util/error.h:
src/govern/token.h:
src/govern/token_sign.h:
src/net/rules.h:
src/util/strv.h:
src/govern/token_internal.h:
src/util/glob.h:
src/util/cleanup.h:

build-dash/src/govern/token_rights.o: src/govern/token_rights.c \
 src/govern/token.h src/govern/token_sign.h src/net/rules.h \
 src/util/error.h src/util/strv.h src/util/glob.h src/util/cleanup.h
src/govern/token.h:
src/govern/token_sign.h:
src/net/rules.h:
src/util/error.h:
src/util/strv.h:
src/util/glob.h:
src/util/cleanup.h:

build-dash/src/govern/token_meet.o: src/govern/token_meet.c \
 src/govern/token_meet.h src/govern/token.h src/govern/token_sign.h \
 src/net/rules.h src/util/error.h src/util/strv.h src/util/glob.h
src/govern/token_meet.h:
src/govern/token.h:
src/govern/token_sign.h:
src/net/rules.h:
src/util/error.h:
src/util/strv.h:
src/util/glob.h:

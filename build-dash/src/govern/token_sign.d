build-dash/src/govern/token_sign.o: src/govern/token_sign.c \
 src/govern/token_sign.h
src/govern/token_sign.h:

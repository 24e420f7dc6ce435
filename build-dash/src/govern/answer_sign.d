build-dash/src/govern/answer_sign.o: src/govern/answer_sign.c \
 src/govern/answer_sign.h src/audit/keys.h src/util/error.h
src/govern/answer_sign.h:
src/audit/keys.h:
src/util/error.h:

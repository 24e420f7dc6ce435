build-dash/src/audit/checkpoint.o: src/audit/checkpoint.c \
 src/audit/checkpoint.h src/audit/keys.h src/util/error.h \
 src/audit/merkle.h
src/audit/checkpoint.h:
src/audit/keys.h:
src/util/error.h:
src/audit/merkle.h:

build-dash/src/audit/merkle.o: src/audit/merkle.c src/audit/merkle.h \
 src/util/digest.h
src/audit/merkle.h:
src/util/digest.h:

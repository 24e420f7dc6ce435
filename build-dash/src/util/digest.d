build-dash/src/util/digest.o: src/util/digest.c src/util/digest.h
src/util/digest.h:

build-dash/src/util/array.o: src/util/array.c src/util/array.h
src/util/array.h:

build-dash/src/util/path.o: src/util/path.c src/util/path.h
src/util/path.h:

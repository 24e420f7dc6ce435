build-dash/src/util/glob.o: src/util/glob.c src/util/glob.h
src/util/glob.h:

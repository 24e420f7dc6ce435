build-dash/src/util/fileio.o: src/util/fileio.c src/util/fileio.h
src/util/fileio.h:

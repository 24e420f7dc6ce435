build-dash/src/serve/record.o: src/serve/record.c src/serve/record.h \
 src/util/error.h src/util/array.h src/util/cleanup.h src/util/fileio.h \
 src/util/path.h
src/serve/record.h:
src/util/error.h:
src/util/array.h:
src/util/cleanup.h:
src/util/fileio.h:
src/util/path.h:

build-dash/src/serve/cursor.o: src/serve/cursor.c src/serve/cursor.h \
 src/util/cleanup.h src/util/fileio.h
src/serve/cursor.h:
src/util/cleanup.h:
src/util/fileio.h:

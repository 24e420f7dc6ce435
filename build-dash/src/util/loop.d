build-dash/src/util/loop.o: src/util/loop.c src/util/loop.h \
 src/util/array.h
src/util/loop.h:
src/util/array.h:

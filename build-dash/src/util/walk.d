build-dash/src/util/walk.o: src/util/walk.c src/util/walk.h \
 src/util/error.h src/util/array.h
src/util/walk.h:
src/util/error.h:
src/util/array.h:

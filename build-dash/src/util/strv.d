build-dash/src/util/strv.o: src/util/strv.c src/util/strv.h \
 src/util/array.h
src/util/strv.h:
src/util/array.h:

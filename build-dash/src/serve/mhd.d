build-dash/src/serve/mhd.o: src/serve/mhd.c src/serve/mhd.h \
 src/util/error.h
src/serve/mhd.h:
src/util/error.h:

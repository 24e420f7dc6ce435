build-dash/src/sandbox/remount.o: src/sandbox/remount.c \
 src/sandbox/remount.h src/util/error.h
src/sandbox/remount.h:
src/util/error.h:

build-dash/src/sandbox/caps.o: src/sandbox/caps.c src/sandbox/caps.h \
 src/util/error.h src/util/weaken.h
src/sandbox/caps.h:
src/util/error.h:
src/util/weaken.h:

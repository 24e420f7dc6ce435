build-dash/src/util/weaken.o: src/util/weaken.c src/util/weaken.h
src/util/weaken.h:

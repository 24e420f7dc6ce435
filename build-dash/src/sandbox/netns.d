build-dash/src/sandbox/netns.o: src/sandbox/netns.c src/sandbox/netns.h \
 src/util/error.h src/util/cleanup.h
src/sandbox/netns.h:
src/util/error.h:
src/util/cleanup.h:

build-dash/src/sandbox/peer.o: src/sandbox/peer.c src/sandbox/peer.h \
 src/util/error.h src/util/weaken.h src/util/cleanup.h
src/sandbox/peer.h:
src/util/error.h:
src/util/weaken.h:
src/util/cleanup.h:

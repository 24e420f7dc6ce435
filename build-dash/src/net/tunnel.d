build-dash/src/net/tunnel.o: src/net/tunnel.c src/net/tunnel.h
src/net/tunnel.h:

build-dash/src/net/sni.o: src/net/sni.c src/net/sni.h
src/net/sni.h:

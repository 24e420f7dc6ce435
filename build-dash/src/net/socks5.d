build-dash/src/net/socks5.o: src/net/socks5.c src/net/socks5.h \
 src/net/rules.h src/util/error.h src/util/strv.h
src/net/socks5.h:
src/net/rules.h:
src/util/error.h:
src/util/strv.h:

build-dash/src/net/resolve.o: src/net/resolve.c src/net/resolve.h \
 src/net/addr.h src/util/error.h src/util/strv.h
src/net/resolve.h:
src/net/addr.h:
src/util/error.h:
src/util/strv.h:

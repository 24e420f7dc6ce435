build-dash/src/net/addr.o: src/net/addr.c src/net/addr.h src/util/error.h \
 src/util/strv.h src/net/rules.h
src/net/addr.h:
src/util/error.h:
src/util/strv.h:
src/net/rules.h:

build-dash/src/net/rules.o: src/net/rules.c src/net/rules.h \
 src/util/error.h src/util/strv.h
src/net/rules.h:
src/util/error.h:
src/util/strv.h:

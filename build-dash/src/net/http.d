build-dash/src/net/http.o: src/net/http.c src/net/http.h src/net/rules.h \
 src/util/error.h src/util/strv.h
src/net/http.h:
src/net/rules.h:
src/util/error.h:
src/util/strv.h:

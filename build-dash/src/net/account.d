build-dash/src/net/account.o: src/net/account.c src/net/account.h \
 src/net/rules.h src/util/error.h src/util/strv.h
src/net/account.h:
src/net/rules.h:
src/util/error.h:
src/util/strv.h:

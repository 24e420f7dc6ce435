build-dash/src/serve/roles.o: src/serve/roles.c src/serve/roles.h \
 src/serve/config.h src/serve/targets.h src/util/error.h src/util/strv.h \
 src/util/cleanup.h
src/serve/roles.h:
src/serve/config.h:
src/serve/targets.h:
src/util/error.h:
src/util/strv.h:
src/util/cleanup.h:

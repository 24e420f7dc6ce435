build-dash/src/serve/runas.o: src/serve/runas.c src/serve/runas.h \
 src/util/error.h src/serve/launch.h src/util/strv.h src/util/cleanup.h
src/serve/runas.h:
src/util/error.h:
src/serve/launch.h:
src/util/strv.h:
src/util/cleanup.h:

build-dash/src/serve/launch.o: src/serve/launch.c src/serve/launch.h \
 src/util/error.h src/util/strv.h src/util/cleanup.h src/util/path.h
src/serve/launch.h:
src/util/error.h:
src/util/strv.h:
src/util/cleanup.h:
src/util/path.h:

build-dash/src/serve/tokens.o: src/serve/tokens.c src/serve/tokens.h \
 src/serve/config.h src/serve/targets.h src/util/error.h src/util/strv.h \
 src/audit/clock.h src/util/cleanup.h src/util/digest.h src/util/fileio.h \
 src/util/path.h
src/serve/tokens.h:
src/serve/config.h:
src/serve/targets.h:
src/util/error.h:
src/util/strv.h:
src/audit/clock.h:
src/util/cleanup.h:
src/util/digest.h:
src/util/fileio.h:
src/util/path.h:

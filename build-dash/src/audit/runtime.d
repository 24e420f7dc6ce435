build-dash/src/audit/runtime.o: src/audit/runtime.c src/audit/runtime.h \
 src/util/error.h src/util/strv.h src/audit/clock.h src/audit/dirs.h \
 src/util/fileio.h src/util/cleanup.h src/util/path.h
src/audit/runtime.h:
src/util/error.h:
src/util/strv.h:
src/audit/clock.h:
src/audit/dirs.h:
src/util/fileio.h:
src/util/cleanup.h:
src/util/path.h:

build-dash/src/audit/dirs.o: src/audit/dirs.c src/audit/dirs.h \
 src/util/error.h src/util/cleanup.h src/util/path.h
src/audit/dirs.h:
src/util/error.h:
src/util/cleanup.h:
src/util/path.h:

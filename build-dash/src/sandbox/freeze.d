build-dash/src/sandbox/freeze.o: src/sandbox/freeze.c \
 src/sandbox/freeze.h src/util/error.h src/sandbox/freeze_internal.h \
 src/util/cleanup.h
src/sandbox/freeze.h:
src/util/error.h:
src/sandbox/freeze_internal.h:
src/util/cleanup.h:

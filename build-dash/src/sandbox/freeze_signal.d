build-dash/src/sandbox/freeze_signal.o: src/sandbox/freeze_signal.c \
 src/sandbox/freeze_internal.h src/sandbox/freeze.h src/util/error.h
src/sandbox/freeze_internal.h:
src/sandbox/freeze.h:
src/util/error.h:

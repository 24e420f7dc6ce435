build-dash/src/sandbox/freeze_watchdog.o: src/sandbox/freeze_watchdog.c \
 src/sandbox/freeze_internal.h src/sandbox/freeze.h src/util/error.h \
 src/util/cleanup.h
src/sandbox/freeze_internal.h:
src/sandbox/freeze.h:
src/util/error.h:
src/util/cleanup.h:

build-dash/src/sandbox/seccomp.o: src/sandbox/seccomp.c \
 src/sandbox/seccomp.h src/util/error.h src/util/strv.h \
 src/util/cleanup.h
src/sandbox/seccomp.h:
src/util/error.h:
src/util/strv.h:
src/util/cleanup.h:

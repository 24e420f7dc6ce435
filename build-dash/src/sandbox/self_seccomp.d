build-dash/src/sandbox/self_seccomp.o: src/sandbox/self_seccomp.c \
 src/sandbox/self_seccomp.h src/util/error.h
src/sandbox/self_seccomp.h:
src/util/error.h:

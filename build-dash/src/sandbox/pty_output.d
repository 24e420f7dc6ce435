build-dash/src/sandbox/pty_output.o: src/sandbox/pty_output.c \
 src/sandbox/pty_output.h
src/sandbox/pty_output.h:

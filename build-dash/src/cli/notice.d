build-dash/src/cli/notice.o: src/cli/notice.c src/cli/notice.h \
 src/util/error.h src/util/notice.h src/sandbox/pty_output.h \
 src/util/fileio.h src/util/text_escape.h
src/cli/notice.h:
src/util/error.h:
src/util/notice.h:
src/sandbox/pty_output.h:
src/util/fileio.h:
src/util/text_escape.h:

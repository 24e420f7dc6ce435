build-dash/src/cli/serve.o: src/cli/serve.c src/cli/cli.h \
 src/cli/notice.h src/util/error.h src/util/notice.h src/serve/serve.h
src/cli/cli.h:
src/cli/notice.h:
src/util/error.h:
src/util/notice.h:
src/serve/serve.h:

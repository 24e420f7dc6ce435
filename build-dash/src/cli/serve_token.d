build-dash/src/cli/serve_token.o: src/cli/serve_token.c src/cli/cli.h \
 src/cli/notice.h src/util/error.h src/util/notice.h src/serve/serve.h \
 src/serve/tokens.h src/serve/config.h src/serve/targets.h \
 src/util/strv.h
src/cli/cli.h:
src/cli/notice.h:
src/util/error.h:
src/util/notice.h:
src/serve/serve.h:
src/serve/tokens.h:
src/serve/config.h:
src/serve/targets.h:
src/util/strv.h:

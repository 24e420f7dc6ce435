build-dash/src/cli/run_notices.o: src/cli/run_notices.c \
 src/cli/run_notices.h src/util/notice.h src/util/text_escape.h
src/cli/run_notices.h:
src/util/notice.h:
src/util/text_escape.h:

build-dash/src/workspace/textdiff.o: src/workspace/textdiff.c \
 src/workspace/textdiff.h src/util/cleanup.h src/util/text_escape.h
src/workspace/textdiff.h:
src/util/cleanup.h:
src/util/text_escape.h:

build-dash/src/util/text_escape.o: src/util/text_escape.c \
 src/util/text_escape.h
src/util/text_escape.h:

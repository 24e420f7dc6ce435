build-dash/src/util/notice.o: src/util/notice.c src/util/notice.h \
 src/util/text_escape.h
src/util/notice.h:
src/util/text_escape.h:

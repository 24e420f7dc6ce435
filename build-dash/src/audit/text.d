build-dash/src/audit/text.o: src/audit/text.c src/audit/text.h \
 src/util/text_escape.h
src/audit/text.h:
src/util/text_escape.h:

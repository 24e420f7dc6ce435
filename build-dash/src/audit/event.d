build-dash/src/audit/event.o: src/audit/event.c src/audit/event.h \
 src/util/notice.h src/util/text_escape.h
src/audit/event.h:
src/util/notice.h:
src/util/text_escape.h:

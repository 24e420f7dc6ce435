build-dash/src/audit/export.o: src/audit/export.c src/audit/export.h \
 src/audit/text.h src/audit/clock.h src/audit/format.h \
 src/util/text_escape.h
src/audit/export.h:
src/audit/text.h:
src/audit/clock.h:
src/audit/format.h:
src/util/text_escape.h:

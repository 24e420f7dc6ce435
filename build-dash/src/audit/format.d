build-dash/src/audit/format.o: src/audit/format.c src/audit/format.h \
 src/audit/text.h
src/audit/format.h:
src/audit/text.h:

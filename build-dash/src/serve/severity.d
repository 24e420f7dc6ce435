build-dash/src/serve/severity.o: src/serve/severity.c \
 src/serve/severity.h src/audit/format.h src/audit/text.h \
 src/serve/targets.h src/util/error.h src/util/strv.h src/util/cleanup.h
src/serve/severity.h:
src/audit/format.h:
src/audit/text.h:
src/serve/targets.h:
src/util/error.h:
src/util/strv.h:
src/util/cleanup.h:

build-dash/src/govern/canary.o: src/govern/canary.c src/govern/canary.h \
 src/util/error.h src/audit/runtime.h src/util/strv.h src/util/cleanup.h \
 src/util/path.h
src/govern/canary.h:
src/util/error.h:
src/audit/runtime.h:
src/util/strv.h:
src/util/cleanup.h:
src/util/path.h:

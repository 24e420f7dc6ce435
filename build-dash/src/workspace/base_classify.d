build-dash/src/workspace/base_classify.o: src/workspace/base_classify.c \
 src/workspace/base.h src/util/error.h src/workspace/scan.h \
 src/workspace/session.h src/util/strv.h src/util/cleanup.h \
 src/util/weaken.h src/workspace/base_internal.h src/workspace/fsops.h \
 src/workspace/protect.h
src/workspace/base.h:
src/util/error.h:
src/workspace/scan.h:
src/workspace/session.h:
src/util/strv.h:
src/util/cleanup.h:
src/util/weaken.h:
src/workspace/base_internal.h:
src/workspace/fsops.h:
src/workspace/protect.h:

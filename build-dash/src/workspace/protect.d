build-dash/src/workspace/protect.o: src/workspace/protect.c \
 src/workspace/protect.h src/util/strv.h src/workspace/scan.h \
 src/util/error.h src/workspace/base.h src/workspace/session.h \
 src/util/glob.h src/util/weaken.h
src/workspace/protect.h:
src/util/strv.h:
src/workspace/scan.h:
src/util/error.h:
src/workspace/base.h:
src/workspace/session.h:
src/util/glob.h:
src/util/weaken.h:

build-dash/src/workspace/gitdir.o: src/workspace/gitdir.c \
 src/workspace/gitdir.h src/util/error.h src/util/strv.h \
 src/util/cleanup.h src/util/path.h src/workspace/apply.h \
 src/workspace/scan.h src/workspace/session.h src/workspace/fsops.h \
 src/workspace/protect.h
src/workspace/gitdir.h:
src/util/error.h:
src/util/strv.h:
src/util/cleanup.h:
src/util/path.h:
src/workspace/apply.h:
src/workspace/scan.h:
src/workspace/session.h:
src/workspace/fsops.h:
src/workspace/protect.h:

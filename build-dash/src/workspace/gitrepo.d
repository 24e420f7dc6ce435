build-dash/src/workspace/gitrepo.o: src/workspace/gitrepo.c \
 src/workspace/gitcommits_internal.h src/util/error.h src/util/strv.h \
 src/workspace/gitcommits.h src/workspace/session.h \
 src/workspace/gitrun.h src/util/cleanup.h src/util/path.h \
 src/util/walk.h src/workspace/fsops.h
src/workspace/gitcommits_internal.h:
src/util/error.h:
src/util/strv.h:
src/workspace/gitcommits.h:
src/workspace/session.h:
src/workspace/gitrun.h:
src/util/cleanup.h:
src/util/path.h:
src/util/walk.h:
src/workspace/fsops.h:

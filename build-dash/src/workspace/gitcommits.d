build-dash/src/workspace/gitcommits.o: src/workspace/gitcommits.c \
 src/workspace/gitcommits.h src/util/error.h src/workspace/session.h \
 src/util/strv.h src/util/array.h src/util/cleanup.h src/util/path.h \
 src/workspace/gitcommits_internal.h src/workspace/gitrun.h
src/workspace/gitcommits.h:
src/util/error.h:
src/workspace/session.h:
src/util/strv.h:
src/util/array.h:
src/util/cleanup.h:
src/util/path.h:
src/workspace/gitcommits_internal.h:
src/workspace/gitrun.h:

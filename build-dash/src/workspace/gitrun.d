build-dash/src/workspace/gitrun.o: src/workspace/gitrun.c \
 src/workspace/gitrun.h src/util/error.h src/util/array.h \
 src/util/cleanup.h src/workspace/gitcommits.h src/workspace/session.h \
 src/util/strv.h
src/workspace/gitrun.h:
src/util/error.h:
src/util/array.h:
src/util/cleanup.h:
src/workspace/gitcommits.h:
src/workspace/session.h:
src/util/strv.h:

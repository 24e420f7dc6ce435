build-dash/src/workspace/gitformat.o: src/workspace/gitformat.c \
 src/workspace/gitformat.h src/util/digest.h
src/workspace/gitformat.h:
src/util/digest.h:

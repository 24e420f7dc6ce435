build-dash/src/util/cache_dir.o: src/util/cache_dir.c \
 src/util/cache_dir.h
src/util/cache_dir.h:

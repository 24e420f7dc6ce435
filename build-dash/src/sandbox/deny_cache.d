build-dash/src/sandbox/deny_cache.o: src/sandbox/deny_cache.c \
 src/sandbox/deny_cache.h src/util/strv.h src/util/cache_dir.h \
 src/util/fileio.h src/util/fs_times.h src/util/glob.h src/util/cleanup.h
src/sandbox/deny_cache.h:
src/util/strv.h:
src/util/cache_dir.h:
src/util/fileio.h:
src/util/fs_times.h:
src/util/glob.h:
src/util/cleanup.h:

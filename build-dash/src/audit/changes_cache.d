build-dash/src/audit/changes_cache.o: src/audit/changes_cache.c \
 src/audit/changes_internal.h src/audit/changes.h src/util/cache_dir.h \
 src/util/cleanup.h src/util/digest.h src/util/fileio.h \
 src/util/fs_times.h src/util/weaken.h
src/audit/changes_internal.h:
src/audit/changes.h:
src/util/cache_dir.h:
src/util/cleanup.h:
src/util/digest.h:
src/util/fileio.h:
src/util/fs_times.h:
src/util/weaken.h:

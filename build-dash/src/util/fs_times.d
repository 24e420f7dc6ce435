build-dash/src/util/fs_times.o: src/util/fs_times.c src/util/fs_times.h
src/util/fs_times.h:

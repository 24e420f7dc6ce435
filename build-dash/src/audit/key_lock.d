build-dash/src/audit/key_lock.o: src/audit/key_lock.c \
 src/audit/key_lock.h src/audit/keys.h src/util/error.h
src/audit/key_lock.h:
src/audit/keys.h:
src/util/error.h:

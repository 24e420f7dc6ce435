build-dash/src/audit/keys.o: src/audit/keys.c src/audit/keys.h \
 src/util/error.h src/audit/dirs.h src/audit/key_lock.h src/audit/trail.h \
 src/policy/policy.h src/util/strv.h src/util/cleanup.h src/util/path.h
src/audit/keys.h:
src/util/error.h:
src/audit/dirs.h:
src/audit/key_lock.h:
src/audit/trail.h:
src/policy/policy.h:
src/util/strv.h:
src/util/cleanup.h:
src/util/path.h:

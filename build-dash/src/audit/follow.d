build-dash/src/audit/follow.o: src/audit/follow.c src/audit/follow.h \
 src/util/error.h src/audit/locate.h src/util/strv.h \
 src/audit/trail_internal.h src/audit/keys.h src/audit/trail.h \
 src/policy/policy.h src/util/cleanup.h src/util/path.h
src/audit/follow.h:
src/util/error.h:
src/audit/locate.h:
src/util/strv.h:
src/audit/trail_internal.h:
src/audit/keys.h:
src/audit/trail.h:
src/policy/policy.h:
src/util/cleanup.h:
src/util/path.h:

build-dash/src/audit/locate.o: src/audit/locate.c src/audit/locate.h \
 src/util/error.h src/util/strv.h src/audit/trail.h src/policy/policy.h \
 src/audit/trail_internal.h src/audit/keys.h src/audit/verify.h \
 src/util/cleanup.h src/util/path.h
src/audit/locate.h:
src/util/error.h:
src/util/strv.h:
src/audit/trail.h:
src/policy/policy.h:
src/audit/trail_internal.h:
src/audit/keys.h:
src/audit/verify.h:
src/util/cleanup.h:
src/util/path.h:

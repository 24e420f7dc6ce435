build-dash/src/audit/trail.o: src/audit/trail.c src/audit/trail.h \
 src/util/error.h src/policy/policy.h src/util/strv.h \
 src/audit/checkpoint.h src/audit/keys.h src/audit/merkle.h \
 src/audit/clock.h src/audit/dirs.h src/util/digest.h \
 src/audit/trail_bound.h src/audit/trail_internal.h src/audit/event.h \
 src/util/weaken.h src/util/cleanup.h src/util/path.h
src/audit/trail.h:
src/util/error.h:
src/policy/policy.h:
src/util/strv.h:
src/audit/checkpoint.h:
src/audit/keys.h:
src/audit/merkle.h:
src/audit/clock.h:
src/audit/dirs.h:
src/util/digest.h:
src/audit/trail_bound.h:
src/audit/trail_internal.h:
src/audit/event.h:
src/util/weaken.h:
src/util/cleanup.h:
src/util/path.h:

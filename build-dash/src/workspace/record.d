build-dash/src/workspace/record.o: src/workspace/record.c \
 src/workspace/record.h src/audit/event.h src/util/error.h \
 src/audit/session_key.h src/audit/clock.h src/audit/keys.h \
 src/audit/trail.h src/policy/policy.h src/util/strv.h \
 src/audit/trail_internal.h src/util/cleanup.h
src/workspace/record.h:
src/audit/event.h:
src/util/error.h:
src/audit/session_key.h:
src/audit/clock.h:
src/audit/keys.h:
src/audit/trail.h:
src/policy/policy.h:
src/util/strv.h:
src/audit/trail_internal.h:
src/util/cleanup.h:

build-dash/src/audit/trail_reserve.o: src/audit/trail_reserve.c \
 src/audit/trail.h src/util/error.h src/policy/policy.h src/util/strv.h \
 src/util/cleanup.h
src/audit/trail.h:
src/util/error.h:
src/policy/policy.h:
src/util/strv.h:
src/util/cleanup.h:

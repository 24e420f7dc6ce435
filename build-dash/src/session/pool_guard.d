build-dash/src/session/pool_guard.o: src/session/pool_guard.c \
 src/session/pool_guard.h src/util/error.h src/sandbox/plan.h \
 src/policy/policy.h src/util/strv.h src/util/cleanup.h
src/session/pool_guard.h:
src/util/error.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/strv.h:
src/util/cleanup.h:

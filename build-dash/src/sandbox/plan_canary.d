build-dash/src/sandbox/plan_canary.o: src/sandbox/plan_canary.c \
 src/sandbox/plan_internal.h src/sandbox/plan.h src/policy/policy.h \
 src/util/error.h src/util/strv.h src/util/path.h
src/sandbox/plan_internal.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/util/path.h:

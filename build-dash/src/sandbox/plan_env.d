build-dash/src/sandbox/plan_env.o: src/sandbox/plan_env.c \
 src/sandbox/plan_internal.h src/sandbox/plan.h src/policy/policy.h \
 src/util/error.h src/util/strv.h src/util/weaken.h
src/sandbox/plan_internal.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/util/weaken.h:

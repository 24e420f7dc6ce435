build-dash/src/sandbox/plan_mounts.o: src/sandbox/plan_mounts.c \
 src/sandbox/plan_internal.h src/sandbox/plan.h src/policy/policy.h \
 src/util/error.h src/util/strv.h src/util/cleanup.h src/util/weaken.h \
 src/util/path.h
src/sandbox/plan_internal.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/util/cleanup.h:
src/util/weaken.h:
src/util/path.h:

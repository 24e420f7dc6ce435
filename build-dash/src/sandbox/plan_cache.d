build-dash/src/sandbox/plan_cache.o: src/sandbox/plan_cache.c \
 src/audit/dirs.h src/util/error.h src/sandbox/plan_internal.h \
 src/sandbox/plan.h src/policy/policy.h src/util/strv.h \
 src/util/cleanup.h src/util/digest.h src/util/path.h
src/audit/dirs.h:
src/util/error.h:
src/sandbox/plan_internal.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/strv.h:
src/util/cleanup.h:
src/util/digest.h:
src/util/path.h:

build-dash/src/sandbox/plan_deny.o: src/sandbox/plan_deny.c \
 src/audit/dirs.h src/util/error.h src/audit/runtime.h src/util/strv.h \
 src/sandbox/deny_cache.h src/util/glob.h src/sandbox/plan_internal.h \
 src/sandbox/plan.h src/policy/policy.h src/util/cleanup.h \
 src/util/weaken.h src/util/path.h
src/audit/dirs.h:
src/util/error.h:
src/audit/runtime.h:
src/util/strv.h:
src/sandbox/deny_cache.h:
src/util/glob.h:
src/sandbox/plan_internal.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/cleanup.h:
src/util/weaken.h:
src/util/path.h:

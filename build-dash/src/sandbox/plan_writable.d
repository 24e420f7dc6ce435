build-dash/src/sandbox/plan_writable.o: src/sandbox/plan_writable.c \
 src/util/glob.h src/sandbox/plan_internal.h src/sandbox/plan.h \
 src/policy/policy.h src/util/error.h src/util/strv.h src/util/path.h
src/util/glob.h:
src/sandbox/plan_internal.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/util/path.h:

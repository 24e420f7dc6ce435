build-dash/src/sandbox/plan_git.o: src/sandbox/plan_git.c \
 src/sandbox/plan_internal.h src/sandbox/plan.h src/policy/policy.h \
 src/util/error.h src/util/strv.h src/util/path.h
src/sandbox/plan_internal.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/util/path.h:

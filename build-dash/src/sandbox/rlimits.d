build-dash/src/sandbox/rlimits.o: src/sandbox/rlimits.c \
 src/sandbox/rlimits.h src/sandbox/plan.h src/policy/policy.h \
 src/util/error.h src/util/strv.h src/util/weaken.h
src/sandbox/rlimits.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/util/weaken.h:

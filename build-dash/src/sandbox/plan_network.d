build-dash/src/sandbox/plan_network.o: src/sandbox/plan_network.c \
 src/sandbox/netns.h src/util/error.h src/sandbox/plan_internal.h \
 src/sandbox/plan.h src/policy/policy.h src/util/strv.h
src/sandbox/netns.h:
src/util/error.h:
src/sandbox/plan_internal.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/strv.h:

build-dash/src/sandbox/cgroup.o: src/sandbox/cgroup.c \
 src/sandbox/cgroup.h src/sandbox/plan.h src/policy/policy.h \
 src/util/error.h src/util/strv.h src/sandbox/freeze.h src/util/weaken.h \
 src/util/cleanup.h
src/sandbox/cgroup.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/sandbox/freeze.h:
src/util/weaken.h:
src/util/cleanup.h:

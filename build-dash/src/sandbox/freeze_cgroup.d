build-dash/src/sandbox/freeze_cgroup.o: src/sandbox/freeze_cgroup.c \
 src/sandbox/cgroup.h src/sandbox/plan.h src/policy/policy.h \
 src/util/error.h src/util/strv.h src/sandbox/freeze_internal.h \
 src/sandbox/freeze.h src/util/cleanup.h
src/sandbox/cgroup.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/sandbox/freeze_internal.h:
src/sandbox/freeze.h:
src/util/cleanup.h:

build-dash/src/sandbox/child_init.o: src/sandbox/child_init.c \
 src/sandbox/child.h src/sandbox/spawn.h src/sandbox/cgroup.h \
 src/sandbox/plan.h src/policy/policy.h src/util/error.h src/util/strv.h \
 src/sandbox/seccomp.h
src/sandbox/child.h:
src/sandbox/spawn.h:
src/sandbox/cgroup.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/sandbox/seccomp.h:

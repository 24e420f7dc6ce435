build-dash/src/sandbox/child.o: src/sandbox/child.c src/sandbox/child.h \
 src/sandbox/spawn.h src/sandbox/cgroup.h src/sandbox/plan.h \
 src/policy/policy.h src/util/error.h src/util/strv.h \
 src/sandbox/seccomp.h src/sandbox/caps.h src/sandbox/mounts.h \
 src/sandbox/netns.h src/sandbox/pty.h src/sandbox/rlimits.h \
 src/util/weaken.h
src/sandbox/child.h:
src/sandbox/spawn.h:
src/sandbox/cgroup.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/sandbox/seccomp.h:
src/sandbox/caps.h:
src/sandbox/mounts.h:
src/sandbox/netns.h:
src/sandbox/pty.h:
src/sandbox/rlimits.h:
src/util/weaken.h:

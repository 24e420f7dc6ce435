build-dash/src/sandbox/child_exec.o: src/sandbox/child_exec.c \
 src/sandbox/child.h src/sandbox/spawn.h src/sandbox/cgroup.h \
 src/sandbox/plan.h src/policy/policy.h src/util/error.h src/util/strv.h \
 src/sandbox/seccomp.h src/sandbox/landlock.h src/sandbox/pty.h \
 src/util/weaken.h
src/sandbox/child.h:
src/sandbox/spawn.h:
src/sandbox/cgroup.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/sandbox/seccomp.h:
src/sandbox/landlock.h:
src/sandbox/pty.h:
src/util/weaken.h:

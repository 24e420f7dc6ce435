build-dash/src/sandbox/spawn.o: src/sandbox/spawn.c src/sandbox/spawn.h \
 src/sandbox/cgroup.h src/sandbox/plan.h src/policy/policy.h \
 src/util/error.h src/util/strv.h src/sandbox/seccomp.h \
 src/sandbox/child.h src/sandbox/pty.h src/util/weaken.h \
 src/util/cleanup.h
src/sandbox/spawn.h:
src/sandbox/cgroup.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/sandbox/seccomp.h:
src/sandbox/child.h:
src/sandbox/pty.h:
src/util/weaken.h:
src/util/cleanup.h:

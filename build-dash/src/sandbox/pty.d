build-dash/src/sandbox/pty.o: src/sandbox/pty.c src/sandbox/pty.h \
 src/sandbox/spawn.h src/sandbox/cgroup.h src/sandbox/plan.h \
 src/policy/policy.h src/util/error.h src/util/strv.h \
 src/sandbox/seccomp.h src/sandbox/child.h src/util/cleanup.h
src/sandbox/pty.h:
src/sandbox/spawn.h:
src/sandbox/cgroup.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/sandbox/seccomp.h:
src/sandbox/child.h:
src/util/cleanup.h:

build-dash/src/sandbox/supervise.o: src/sandbox/supervise.c \
 src/sandbox/supervise.h src/audit/event.h src/net/proxy.h \
 src/util/error.h src/util/strv.h src/sandbox/seccomp_notify.h \
 src/sandbox/exec_notify.h src/sandbox/protect_notify.h \
 src/sandbox/plan.h src/policy/policy.h src/sandbox/spawn.h \
 src/sandbox/cgroup.h src/sandbox/seccomp.h src/util/loop.h \
 src/sandbox/child.h src/sandbox/pty.h src/sandbox/pty_output.h \
 src/util/fileio.h src/util/weaken.h src/util/cleanup.h
src/sandbox/supervise.h:
src/audit/event.h:
src/net/proxy.h:
src/util/error.h:
src/util/strv.h:
src/sandbox/seccomp_notify.h:
src/sandbox/exec_notify.h:
src/sandbox/protect_notify.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/sandbox/spawn.h:
src/sandbox/cgroup.h:
src/sandbox/seccomp.h:
src/util/loop.h:
src/sandbox/child.h:
src/sandbox/pty.h:
src/sandbox/pty_output.h:
src/util/fileio.h:
src/util/weaken.h:
src/util/cleanup.h:

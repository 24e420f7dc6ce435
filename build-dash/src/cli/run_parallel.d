build-dash/src/cli/run_parallel.o: src/cli/run_parallel.c \
 src/cli/run_parallel.h src/cli/cli.h src/session/events.h \
 src/audit/event.h src/sandbox/cgroup.h src/sandbox/plan.h \
 src/policy/policy.h src/util/error.h src/util/strv.h src/sandbox/spawn.h \
 src/sandbox/seccomp.h src/sandbox/supervise.h src/net/proxy.h \
 src/sandbox/seccomp_notify.h src/sandbox/exec_notify.h \
 src/sandbox/protect_notify.h src/util/loop.h src/util/notice.h
src/cli/run_parallel.h:
src/cli/cli.h:
src/session/events.h:
src/audit/event.h:
src/sandbox/cgroup.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/sandbox/spawn.h:
src/sandbox/seccomp.h:
src/sandbox/supervise.h:
src/net/proxy.h:
src/sandbox/seccomp_notify.h:
src/sandbox/exec_notify.h:
src/sandbox/protect_notify.h:
src/util/loop.h:
src/util/notice.h:

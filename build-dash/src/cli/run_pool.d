build-dash/src/cli/run_pool.o: src/cli/run_pool.c src/cli/run_pool.h \
 src/session/session.h src/audit/event.h src/policy/policy.h \
 src/util/error.h src/util/strv.h src/sandbox/cgroup.h src/sandbox/plan.h \
 src/sandbox/spawn.h src/sandbox/seccomp.h src/sandbox/supervise.h \
 src/net/proxy.h src/sandbox/seccomp_notify.h src/sandbox/exec_notify.h \
 src/sandbox/protect_notify.h src/util/loop.h src/session/pool_guard.h \
 src/util/notice.h
src/cli/run_pool.h:
src/session/session.h:
src/audit/event.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/sandbox/cgroup.h:
src/sandbox/plan.h:
src/sandbox/spawn.h:
src/sandbox/seccomp.h:
src/sandbox/supervise.h:
src/net/proxy.h:
src/sandbox/seccomp_notify.h:
src/sandbox/exec_notify.h:
src/sandbox/protect_notify.h:
src/util/loop.h:
src/session/pool_guard.h:
src/util/notice.h:

build-dash/src/serve/pool.o: src/serve/pool.c src/serve/pool.h \
 src/util/error.h src/audit/runtime.h src/util/strv.h src/policy/policy.h \
 src/serve/launch.h src/serve/record.h src/serve/serve_internal.h \
 src/govern/identity.h src/audit/keys.h src/serve/config.h \
 src/serve/targets.h src/serve/mhd.h src/serve/roles.h src/serve/trail.h \
 src/audit/event.h src/audit/trail.h src/session/events.h \
 src/sandbox/cgroup.h src/sandbox/plan.h src/sandbox/spawn.h \
 src/sandbox/seccomp.h src/sandbox/supervise.h src/net/proxy.h \
 src/sandbox/seccomp_notify.h src/sandbox/exec_notify.h \
 src/sandbox/protect_notify.h src/util/loop.h src/util/cleanup.h
src/serve/pool.h:
src/util/error.h:
src/audit/runtime.h:
src/util/strv.h:
src/policy/policy.h:
src/serve/launch.h:
src/serve/record.h:
src/serve/serve_internal.h:
src/govern/identity.h:
src/audit/keys.h:
src/serve/config.h:
src/serve/targets.h:
src/serve/mhd.h:
src/serve/roles.h:
src/serve/trail.h:
src/audit/event.h:
src/audit/trail.h:
src/session/events.h:
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
src/util/cleanup.h:

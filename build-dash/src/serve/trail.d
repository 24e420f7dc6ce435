build-dash/src/serve/trail.o: src/serve/trail.c src/serve/trail.h \
 src/audit/event.h src/audit/trail.h src/util/error.h src/policy/policy.h \
 src/util/strv.h src/session/events.h src/sandbox/cgroup.h \
 src/sandbox/plan.h src/sandbox/spawn.h src/sandbox/seccomp.h \
 src/sandbox/supervise.h src/net/proxy.h src/sandbox/seccomp_notify.h \
 src/sandbox/exec_notify.h src/sandbox/protect_notify.h src/util/loop.h \
 src/util/path.h
src/serve/trail.h:
src/audit/event.h:
src/audit/trail.h:
src/util/error.h:
src/policy/policy.h:
src/util/strv.h:
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
src/util/path.h:

build-dash/src/session/workspace.o: src/session/workspace.c \
 src/session/workspace.h src/audit/event.h src/policy/policy.h \
 src/util/error.h src/util/strv.h src/sandbox/plan.h \
 src/workspace/session.h src/session/events.h src/sandbox/cgroup.h \
 src/sandbox/spawn.h src/sandbox/seccomp.h src/sandbox/supervise.h \
 src/net/proxy.h src/sandbox/seccomp_notify.h src/sandbox/exec_notify.h \
 src/sandbox/protect_notify.h src/util/loop.h src/util/bytes_json.h \
 src/util/notice.h src/workspace/base.h src/workspace/scan.h \
 src/workspace/store.h
src/session/workspace.h:
src/audit/event.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/sandbox/plan.h:
src/workspace/session.h:
src/session/events.h:
src/sandbox/cgroup.h:
src/sandbox/spawn.h:
src/sandbox/seccomp.h:
src/sandbox/supervise.h:
src/net/proxy.h:
src/sandbox/seccomp_notify.h:
src/sandbox/exec_notify.h:
src/sandbox/protect_notify.h:
src/util/loop.h:
src/util/bytes_json.h:
src/util/notice.h:
src/workspace/base.h:
src/workspace/scan.h:
src/workspace/store.h:

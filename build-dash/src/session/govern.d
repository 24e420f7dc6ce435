build-dash/src/session/govern.o: src/session/govern.c \
 src/session/govern.h src/audit/event.h src/session/control.h \
 src/audit/keys.h src/util/error.h src/govern/gate.h \
 src/govern/approvals.h src/govern/session_token.h src/govern/token.h \
 src/govern/token_sign.h src/net/rules.h src/util/strv.h src/net/proxy.h \
 src/govern/identity.h src/policy/policy.h src/sandbox/plan.h \
 src/sandbox/supervise.h src/sandbox/seccomp_notify.h \
 src/sandbox/exec_notify.h src/sandbox/protect_notify.h \
 src/sandbox/spawn.h src/sandbox/cgroup.h src/sandbox/seccomp.h \
 src/util/loop.h src/util/notice.h
src/session/govern.h:
src/audit/event.h:
src/session/control.h:
src/audit/keys.h:
src/util/error.h:
src/govern/gate.h:
src/govern/approvals.h:
src/govern/session_token.h:
src/govern/token.h:
src/govern/token_sign.h:
src/net/rules.h:
src/util/strv.h:
src/net/proxy.h:
src/govern/identity.h:
src/policy/policy.h:
src/sandbox/plan.h:
src/sandbox/supervise.h:
src/sandbox/seccomp_notify.h:
src/sandbox/exec_notify.h:
src/sandbox/protect_notify.h:
src/sandbox/spawn.h:
src/sandbox/cgroup.h:
src/sandbox/seccomp.h:
src/util/loop.h:
src/util/notice.h:

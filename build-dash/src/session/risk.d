build-dash/src/session/risk.o: src/session/risk.c src/session/risk.h \
 src/audit/event.h src/audit/trail.h src/util/error.h src/policy/policy.h \
 src/util/strv.h src/session/govern.h src/session/control.h \
 src/audit/keys.h src/govern/gate.h src/govern/approvals.h \
 src/govern/session_token.h src/govern/token.h src/govern/token_sign.h \
 src/net/rules.h src/net/proxy.h src/govern/identity.h src/sandbox/plan.h \
 src/sandbox/supervise.h src/sandbox/seccomp_notify.h \
 src/sandbox/exec_notify.h src/sandbox/protect_notify.h \
 src/sandbox/spawn.h src/sandbox/cgroup.h src/sandbox/seccomp.h \
 src/util/loop.h src/govern/risk.h src/policy/risk_rules.h \
 src/sandbox/freeze.h src/workspace/session.h src/govern/canary.h \
 src/govern/egress_scan.h src/govern/token_revoke.h \
 src/workspace/snapshot.h src/sandbox/remount.h src/util/notice.h
src/session/risk.h:
src/audit/event.h:
src/audit/trail.h:
src/util/error.h:
src/policy/policy.h:
src/util/strv.h:
src/session/govern.h:
src/session/control.h:
src/audit/keys.h:
src/govern/gate.h:
src/govern/approvals.h:
src/govern/session_token.h:
src/govern/token.h:
src/govern/token_sign.h:
src/net/rules.h:
src/net/proxy.h:
src/govern/identity.h:
src/sandbox/plan.h:
src/sandbox/supervise.h:
src/sandbox/seccomp_notify.h:
src/sandbox/exec_notify.h:
src/sandbox/protect_notify.h:
src/sandbox/spawn.h:
src/sandbox/cgroup.h:
src/sandbox/seccomp.h:
src/util/loop.h:
src/govern/risk.h:
src/policy/risk_rules.h:
src/sandbox/freeze.h:
src/workspace/session.h:
src/govern/canary.h:
src/govern/egress_scan.h:
src/govern/token_revoke.h:
src/workspace/snapshot.h:
src/sandbox/remount.h:
src/util/notice.h:

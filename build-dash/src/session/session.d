build-dash/src/session/session.o: src/session/session.c \
 src/session/session.h src/audit/event.h src/policy/policy.h \
 src/util/error.h src/util/strv.h src/sandbox/cgroup.h src/sandbox/plan.h \
 src/sandbox/spawn.h src/sandbox/seccomp.h src/sandbox/supervise.h \
 src/net/proxy.h src/sandbox/seccomp_notify.h src/sandbox/exec_notify.h \
 src/sandbox/protect_notify.h src/util/loop.h src/audit/anchor.h \
 src/audit/session_key.h src/audit/clock.h src/audit/keys.h \
 src/audit/changes.h src/audit/dirs.h src/audit/runtime.h \
 src/audit/trail.h src/audit/trail_internal.h src/govern/canary.h \
 src/govern/gate.h src/govern/approvals.h src/govern/session_token.h \
 src/govern/token.h src/govern/token_sign.h src/net/rules.h \
 src/govern/risk.h src/policy/risk_rules.h src/sandbox/landlock.h \
 src/sandbox/self_seccomp.h src/session/events.h src/session/govern.h \
 src/session/control.h src/govern/identity.h src/session/protect.h \
 src/workspace/gitdir.h src/workspace/session.h src/session/risk.h \
 src/sandbox/freeze.h src/session/workspace.h src/util/bytes_json.h \
 src/util/notice.h src/util/weaken.h
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
src/audit/anchor.h:
src/audit/session_key.h:
src/audit/clock.h:
src/audit/keys.h:
src/audit/changes.h:
src/audit/dirs.h:
src/audit/runtime.h:
src/audit/trail.h:
src/audit/trail_internal.h:
src/govern/canary.h:
src/govern/gate.h:
src/govern/approvals.h:
src/govern/session_token.h:
src/govern/token.h:
src/govern/token_sign.h:
src/net/rules.h:
src/govern/risk.h:
src/policy/risk_rules.h:
src/sandbox/landlock.h:
src/sandbox/self_seccomp.h:
src/session/events.h:
src/session/govern.h:
src/session/control.h:
src/govern/identity.h:
src/session/protect.h:
src/workspace/gitdir.h:
src/workspace/session.h:
src/session/risk.h:
src/sandbox/freeze.h:
src/session/workspace.h:
src/util/bytes_json.h:
src/util/notice.h:
src/util/weaken.h:

build-dash/src/cli/run_report.o: src/cli/run_report.c \
 src/cli/run_report.h src/sandbox/cgroup.h src/sandbox/plan.h \
 src/policy/policy.h src/util/error.h src/util/strv.h src/sandbox/spawn.h \
 src/sandbox/seccomp.h src/sandbox/supervise.h src/audit/event.h \
 src/net/proxy.h src/sandbox/seccomp_notify.h src/sandbox/exec_notify.h \
 src/sandbox/protect_notify.h src/util/loop.h src/cli/cli.h \
 src/policy/parse_units.h src/util/cleanup.h src/util/notice.h \
 src/util/path.h src/workspace/tracked.h
src/cli/run_report.h:
src/sandbox/cgroup.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/sandbox/spawn.h:
src/sandbox/seccomp.h:
src/sandbox/supervise.h:
src/audit/event.h:
src/net/proxy.h:
src/sandbox/seccomp_notify.h:
src/sandbox/exec_notify.h:
src/sandbox/protect_notify.h:
src/util/loop.h:
src/cli/cli.h:
src/policy/parse_units.h:
src/util/cleanup.h:
src/util/notice.h:
src/util/path.h:
src/workspace/tracked.h:

build-dash/src/cli/doctor.o: src/cli/doctor.c src/audit/key_lock.h \
 src/audit/keys.h src/util/error.h src/cli/cli.h src/sandbox/cgroup.h \
 src/sandbox/plan.h src/policy/policy.h src/util/strv.h \
 src/sandbox/landlock.h src/sandbox/seccomp.h src/util/cleanup.h
src/audit/key_lock.h:
src/audit/keys.h:
src/util/error.h:
src/cli/cli.h:
src/sandbox/cgroup.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/strv.h:
src/sandbox/landlock.h:
src/sandbox/seccomp.h:
src/util/cleanup.h:

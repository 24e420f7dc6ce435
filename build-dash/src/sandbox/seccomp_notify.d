build-dash/src/sandbox/seccomp_notify.o: src/sandbox/seccomp_notify.c \
 src/sandbox/seccomp_notify.h src/audit/event.h src/sandbox/exec_notify.h \
 src/sandbox/protect_notify.h src/sandbox/plan.h src/policy/policy.h \
 src/util/error.h src/util/strv.h src/util/bytes_json.h
src/sandbox/seccomp_notify.h:
src/audit/event.h:
src/sandbox/exec_notify.h:
src/sandbox/protect_notify.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/util/bytes_json.h:

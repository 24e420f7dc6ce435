build-dash/src/sandbox/protect_notify.o: src/sandbox/protect_notify.c \
 src/sandbox/protect_notify.h src/audit/event.h src/sandbox/plan.h \
 src/policy/policy.h src/util/error.h src/util/strv.h \
 src/sandbox/exec_notify.h src/util/cleanup.h src/util/bytes_json.h
src/sandbox/protect_notify.h:
src/audit/event.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/sandbox/exec_notify.h:
src/util/cleanup.h:
src/util/bytes_json.h:

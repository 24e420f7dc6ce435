build-dash/src/sandbox/plan_protect.o: src/sandbox/plan_protect.c \
 src/util/glob.h src/sandbox/plan_internal.h src/sandbox/plan.h \
 src/policy/policy.h src/util/error.h src/util/strv.h src/util/weaken.h \
 src/util/cleanup.h src/util/path.h src/workspace/protect.h \
 src/workspace/scan.h
src/util/glob.h:
src/sandbox/plan_internal.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/util/weaken.h:
src/util/cleanup.h:
src/util/path.h:
src/workspace/protect.h:
src/workspace/scan.h:

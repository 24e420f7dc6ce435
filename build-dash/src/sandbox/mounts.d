build-dash/src/sandbox/mounts.o: src/sandbox/mounts.c \
 src/sandbox/mounts.h src/sandbox/plan.h src/policy/policy.h \
 src/util/error.h src/util/strv.h src/sandbox/mounts_internal.h \
 src/util/weaken.h src/util/cleanup.h
src/sandbox/mounts.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/sandbox/mounts_internal.h:
src/util/weaken.h:
src/util/cleanup.h:

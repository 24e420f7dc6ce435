build-dash/src/sandbox/mounts_special.o: src/sandbox/mounts_special.c \
 src/sandbox/mounts_internal.h src/sandbox/plan.h src/policy/policy.h \
 src/util/error.h src/util/strv.h src/util/weaken.h src/util/cleanup.h
src/sandbox/mounts_internal.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/util/weaken.h:
src/util/cleanup.h:

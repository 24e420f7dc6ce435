build-dash/src/sandbox/mounts_overlay.o: src/sandbox/mounts_overlay.c \
 src/sandbox/mounts_internal.h src/sandbox/plan.h src/policy/policy.h \
 src/util/error.h src/util/strv.h src/util/cleanup.h \
 src/workspace/upper_copy.h
src/sandbox/mounts_internal.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/util/cleanup.h:
src/workspace/upper_copy.h:

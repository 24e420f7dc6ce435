build-dash/src/sandbox/landlock.o: src/sandbox/landlock.c \
 src/sandbox/landlock.h src/sandbox/plan.h src/policy/policy.h \
 src/util/error.h src/util/strv.h src/util/weaken.h src/util/cleanup.h
src/sandbox/landlock.h:
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/util/weaken.h:
src/util/cleanup.h:

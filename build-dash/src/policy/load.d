build-dash/src/policy/load.o: src/policy/load.c \
 src/policy/policy_internal.h src/policy/policy.h src/util/error.h \
 src/util/strv.h src/util/cleanup.h
src/policy/policy_internal.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/util/cleanup.h:

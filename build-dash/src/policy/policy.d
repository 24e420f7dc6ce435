build-dash/src/policy/policy.o: src/policy/policy.c \
 src/policy/policy_internal.h src/policy/policy.h src/util/error.h \
 src/util/strv.h
src/policy/policy_internal.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:

build-dash/src/policy/supported.o: src/policy/supported.c \
 src/policy/policy_internal.h src/policy/policy.h src/util/error.h \
 src/util/strv.h
src/policy/policy_internal.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:

build-dash/src/policy/emit.o: src/policy/emit.c \
 src/policy/policy_internal.h src/policy/policy.h src/util/error.h \
 src/util/strv.h
src/policy/policy_internal.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:

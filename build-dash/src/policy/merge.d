build-dash/src/policy/merge.o: src/policy/merge.c \
 src/policy/policy_internal.h src/policy/policy.h src/util/error.h \
 src/util/strv.h
src/policy/policy_internal.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:

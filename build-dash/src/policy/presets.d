build-dash/src/policy/presets.o: src/policy/presets.c \
 src/policy/policy_internal.h src/policy/policy.h src/util/error.h \
 src/util/strv.h
src/policy/policy_internal.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:

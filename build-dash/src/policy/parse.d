build-dash/src/policy/parse.o: src/policy/parse.c \
 src/policy/policy_internal.h src/policy/policy.h src/util/error.h \
 src/util/strv.h src/policy/parse_units.h src/util/cleanup.h
src/policy/policy_internal.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/policy/parse_units.h:
src/util/cleanup.h:

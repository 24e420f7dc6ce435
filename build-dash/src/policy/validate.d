build-dash/src/policy/validate.o: src/policy/validate.c \
 src/policy/policy_internal.h src/policy/policy.h src/util/error.h \
 src/util/strv.h src/policy/risk_rules.h src/util/glob.h \
 src/policy/parse_units.h
src/policy/policy_internal.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/policy/risk_rules.h:
src/util/glob.h:
src/policy/parse_units.h:

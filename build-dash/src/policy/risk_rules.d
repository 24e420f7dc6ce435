build-dash/src/policy/risk_rules.o: src/policy/risk_rules.c \
 src/policy/risk_rules.h
src/policy/risk_rules.h:

build-dash/src/govern/rule_rewrite.o: src/govern/rule_rewrite.c \
 src/govern/rule.h src/govern/risk.h src/policy/risk_rules.h \
 src/util/error.h src/util/cleanup.h
src/govern/rule.h:
src/govern/risk.h:
src/policy/risk_rules.h:
src/util/error.h:
src/util/cleanup.h:

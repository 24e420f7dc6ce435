build-dash/src/govern/risk.o: src/govern/risk.c src/govern/risk.h \
 src/policy/risk_rules.h src/util/error.h src/audit/clock.h \
 src/audit/runtime.h src/util/strv.h src/govern/rule.h
src/govern/risk.h:
src/policy/risk_rules.h:
src/util/error.h:
src/audit/clock.h:
src/audit/runtime.h:
src/util/strv.h:
src/govern/rule.h:

build-dash/src/cli/policy.o: src/cli/policy.c src/cli/cli.h \
 src/cli/notice.h src/util/error.h src/util/notice.h src/govern/risk.h \
 src/policy/risk_rules.h src/policy/policy.h src/util/strv.h
src/cli/cli.h:
src/cli/notice.h:
src/util/error.h:
src/util/notice.h:
src/govern/risk.h:
src/policy/risk_rules.h:
src/policy/policy.h:
src/util/strv.h:

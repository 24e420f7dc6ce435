build-dash/src/serve/sessions.o: src/serve/sessions.c \
 src/serve/sessions.h src/serve/serve_internal.h src/govern/identity.h \
 src/audit/keys.h src/util/error.h src/serve/config.h src/serve/targets.h \
 src/util/strv.h src/serve/mhd.h src/serve/roles.h src/serve/trail.h \
 src/audit/event.h src/audit/trail.h src/policy/policy.h \
 src/audit/runtime.h src/govern/risk.h src/policy/risk_rules.h \
 src/serve/record.h src/util/cleanup.h src/util/path.h
src/serve/sessions.h:
src/serve/serve_internal.h:
src/govern/identity.h:
src/audit/keys.h:
src/util/error.h:
src/serve/config.h:
src/serve/targets.h:
src/util/strv.h:
src/serve/mhd.h:
src/serve/roles.h:
src/serve/trail.h:
src/audit/event.h:
src/audit/trail.h:
src/policy/policy.h:
src/audit/runtime.h:
src/govern/risk.h:
src/policy/risk_rules.h:
src/serve/record.h:
src/util/cleanup.h:
src/util/path.h:

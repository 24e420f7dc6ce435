build-dash/src/serve/api_approvals.o: src/serve/api_approvals.c \
 src/govern/answer_sign.h src/audit/keys.h src/util/error.h \
 src/govern/approvals.h src/govern/identity.h src/policy/parse_units.h \
 src/serve/daemon_key.h src/serve/record.h src/serve/serve_internal.h \
 src/serve/config.h src/serve/targets.h src/util/strv.h src/serve/mhd.h \
 src/serve/roles.h src/serve/trail.h src/audit/event.h src/audit/trail.h \
 src/policy/policy.h src/serve/sessions.h src/session/control_client.h \
 src/util/cleanup.h
src/govern/answer_sign.h:
src/audit/keys.h:
src/util/error.h:
src/govern/approvals.h:
src/govern/identity.h:
src/policy/parse_units.h:
src/serve/daemon_key.h:
src/serve/record.h:
src/serve/serve_internal.h:
src/serve/config.h:
src/serve/targets.h:
src/util/strv.h:
src/serve/mhd.h:
src/serve/roles.h:
src/serve/trail.h:
src/audit/event.h:
src/audit/trail.h:
src/policy/policy.h:
src/serve/sessions.h:
src/session/control_client.h:
src/util/cleanup.h:

build-dash/src/serve/api_events_all.o: src/serve/api_events_all.c \
 src/serve/audit_query.h src/serve/serve_internal.h src/govern/identity.h \
 src/audit/keys.h src/util/error.h src/serve/config.h src/serve/targets.h \
 src/util/strv.h src/serve/mhd.h src/serve/roles.h src/serve/trail.h \
 src/audit/event.h src/audit/trail.h src/policy/policy.h \
 src/serve/events_bus.h src/serve/severity.h src/serve/sessions.h \
 src/util/cleanup.h
src/serve/audit_query.h:
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
src/serve/events_bus.h:
src/serve/severity.h:
src/serve/sessions.h:
src/util/cleanup.h:

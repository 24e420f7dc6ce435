build-dash/src/serve/api_audit_query.o: src/serve/api_audit_query.c \
 src/audit/clock.h src/audit/export.h src/audit/text.h src/audit/format.h \
 src/policy/parse_units.h src/serve/audit_query.h \
 src/serve/serve_internal.h src/govern/identity.h src/audit/keys.h \
 src/util/error.h src/serve/config.h src/serve/targets.h src/util/strv.h \
 src/serve/mhd.h src/serve/roles.h src/serve/trail.h src/audit/event.h \
 src/audit/trail.h src/policy/policy.h src/serve/sessions.h \
 src/util/cleanup.h src/util/fileio.h src/util/path.h
src/audit/clock.h:
src/audit/export.h:
src/audit/text.h:
src/audit/format.h:
src/policy/parse_units.h:
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
src/serve/sessions.h:
src/util/cleanup.h:
src/util/fileio.h:
src/util/path.h:

build-dash/src/serve/api_audit.o: src/serve/api_audit.c src/audit/trail.h \
 src/util/error.h src/policy/policy.h src/util/strv.h src/audit/verify.h \
 src/serve/audit_query.h src/serve/serve_internal.h src/govern/identity.h \
 src/audit/keys.h src/serve/config.h src/serve/targets.h src/serve/mhd.h \
 src/serve/roles.h src/serve/trail.h src/audit/event.h src/serve/record.h \
 src/serve/sessions.h src/util/cleanup.h src/util/fileio.h
src/audit/trail.h:
src/util/error.h:
src/policy/policy.h:
src/util/strv.h:
src/audit/verify.h:
src/serve/audit_query.h:
src/serve/serve_internal.h:
src/govern/identity.h:
src/audit/keys.h:
src/serve/config.h:
src/serve/targets.h:
src/serve/mhd.h:
src/serve/roles.h:
src/serve/trail.h:
src/audit/event.h:
src/serve/record.h:
src/serve/sessions.h:
src/util/cleanup.h:
src/util/fileio.h:

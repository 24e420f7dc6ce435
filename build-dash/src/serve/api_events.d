build-dash/src/serve/api_events.o: src/serve/api_events.c \
 src/audit/runtime.h src/util/error.h src/util/strv.h \
 src/serve/serve_internal.h src/govern/identity.h src/audit/keys.h \
 src/serve/config.h src/serve/targets.h src/serve/mhd.h src/serve/roles.h \
 src/serve/trail.h src/audit/event.h src/audit/trail.h \
 src/policy/policy.h src/util/cleanup.h
src/audit/runtime.h:
src/util/error.h:
src/util/strv.h:
src/serve/serve_internal.h:
src/govern/identity.h:
src/audit/keys.h:
src/serve/config.h:
src/serve/targets.h:
src/serve/mhd.h:
src/serve/roles.h:
src/serve/trail.h:
src/audit/event.h:
src/audit/trail.h:
src/policy/policy.h:
src/util/cleanup.h:

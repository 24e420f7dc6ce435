build-dash/src/serve/events_bus.o: src/serve/events_bus.c \
 src/serve/events_bus.h src/serve/severity.h src/util/error.h \
 src/audit/format.h src/audit/text.h src/audit/runtime.h src/util/strv.h \
 src/audit/trail.h src/policy/policy.h src/serve/record.h \
 src/serve/serve_internal.h src/govern/identity.h src/audit/keys.h \
 src/serve/config.h src/serve/targets.h src/serve/mhd.h src/serve/roles.h \
 src/serve/trail.h src/audit/event.h src/serve/sessions.h \
 src/util/array.h src/util/cleanup.h src/util/fileio.h src/util/path.h
src/serve/events_bus.h:
src/serve/severity.h:
src/util/error.h:
src/audit/format.h:
src/audit/text.h:
src/audit/runtime.h:
src/util/strv.h:
src/audit/trail.h:
src/policy/policy.h:
src/serve/record.h:
src/serve/serve_internal.h:
src/govern/identity.h:
src/audit/keys.h:
src/serve/config.h:
src/serve/targets.h:
src/serve/mhd.h:
src/serve/roles.h:
src/serve/trail.h:
src/audit/event.h:
src/serve/sessions.h:
src/util/array.h:
src/util/cleanup.h:
src/util/fileio.h:
src/util/path.h:

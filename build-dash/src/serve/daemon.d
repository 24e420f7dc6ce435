build-dash/src/serve/daemon.o: src/serve/daemon.c src/serve/serve.h \
 src/util/error.h src/audit/dirs.h src/audit/runtime.h src/util/strv.h \
 src/serve/events_bus.h src/serve/severity.h src/serve/daemon_key.h \
 src/audit/keys.h src/govern/identity.h src/serve/forward.h \
 src/serve/notify.h src/serve/targets.h src/serve/pool.h \
 src/serve/record.h src/serve/serve_internal.h src/serve/config.h \
 src/serve/mhd.h src/serve/roles.h src/serve/trail.h src/audit/event.h \
 src/audit/trail.h src/policy/policy.h src/util/array.h \
 src/util/cleanup.h src/util/fileio.h src/util/path.h
src/serve/serve.h:
src/util/error.h:
src/audit/dirs.h:
src/audit/runtime.h:
src/util/strv.h:
src/serve/events_bus.h:
src/serve/severity.h:
src/serve/daemon_key.h:
src/audit/keys.h:
src/govern/identity.h:
src/serve/forward.h:
src/serve/notify.h:
src/serve/targets.h:
src/serve/pool.h:
src/serve/record.h:
src/serve/serve_internal.h:
src/serve/config.h:
src/serve/mhd.h:
src/serve/roles.h:
src/serve/trail.h:
src/audit/event.h:
src/audit/trail.h:
src/policy/policy.h:
src/util/array.h:
src/util/cleanup.h:
src/util/fileio.h:
src/util/path.h:

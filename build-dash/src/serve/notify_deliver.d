build-dash/src/serve/notify_deliver.o: src/serve/notify_deliver.c \
 src/serve/notify.h src/serve/targets.h src/util/error.h src/util/strv.h \
 src/serve/outbound.h src/serve/tls_client.h src/serve/serve_internal.h \
 src/govern/identity.h src/audit/keys.h src/serve/config.h \
 src/serve/mhd.h src/serve/roles.h src/serve/trail.h src/audit/event.h \
 src/audit/trail.h src/policy/policy.h src/util/cleanup.h \
 src/util/fileio.h
src/serve/notify.h:
src/serve/targets.h:
src/util/error.h:
src/util/strv.h:
src/serve/outbound.h:
src/serve/tls_client.h:
src/serve/serve_internal.h:
src/govern/identity.h:
src/audit/keys.h:
src/serve/config.h:
src/serve/mhd.h:
src/serve/roles.h:
src/serve/trail.h:
src/audit/event.h:
src/audit/trail.h:
src/policy/policy.h:
src/util/cleanup.h:
src/util/fileio.h:

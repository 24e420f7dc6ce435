build-dash/src/serve/web.o: src/serve/web.c src/serve/web.h \
 src/serve/serve_internal.h src/govern/identity.h src/audit/keys.h \
 src/util/error.h src/serve/config.h src/serve/targets.h src/util/strv.h \
 src/serve/mhd.h src/serve/roles.h src/serve/trail.h src/audit/event.h \
 src/audit/trail.h src/policy/policy.h src/serve/tokens.h \
 src/serve/web_assets.h src/util/cleanup.h
src/serve/web.h:
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
src/serve/tokens.h:
src/serve/web_assets.h:
src/util/cleanup.h:

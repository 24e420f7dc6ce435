build-dash/src/cli/approve_watch.o: src/cli/approve_watch.c \
 src/cli/approve.h src/cli/cli.h src/session/control_client.h \
 src/util/error.h src/audit/runtime.h src/util/strv.h \
 src/policy/parse_units.h src/util/text_escape.h
src/cli/approve.h:
src/cli/cli.h:
src/session/control_client.h:
src/util/error.h:
src/audit/runtime.h:
src/util/strv.h:
src/policy/parse_units.h:
src/util/text_escape.h:

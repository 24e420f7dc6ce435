build-dash/src/cli/discard.o: src/cli/discard.c src/cli/cli.h \
 src/cli/notice.h src/util/error.h src/util/notice.h \
 src/policy/parse_units.h src/workspace/record.h src/audit/event.h \
 src/workspace/session.h src/util/strv.h
src/cli/cli.h:
src/cli/notice.h:
src/util/error.h:
src/util/notice.h:
src/policy/parse_units.h:
src/workspace/record.h:
src/audit/event.h:
src/workspace/session.h:
src/util/strv.h:

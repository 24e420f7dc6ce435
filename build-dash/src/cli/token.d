build-dash/src/cli/token.o: src/cli/token.c src/audit/clock.h \
 src/cli/cli.h src/cli/notice.h src/util/error.h src/util/notice.h \
 src/govern/identity.h src/audit/keys.h src/govern/token.h \
 src/govern/token_sign.h src/net/rules.h src/util/strv.h \
 src/govern/token_meet.h src/govern/token_revoke.h \
 src/policy/parse_units.h src/util/cleanup.h
src/audit/clock.h:
src/cli/cli.h:
src/cli/notice.h:
src/util/error.h:
src/util/notice.h:
src/govern/identity.h:
src/audit/keys.h:
src/govern/token.h:
src/govern/token_sign.h:
src/net/rules.h:
src/util/strv.h:
src/govern/token_meet.h:
src/govern/token_revoke.h:
src/policy/parse_units.h:
src/util/cleanup.h:

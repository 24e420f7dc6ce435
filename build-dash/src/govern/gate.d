build-dash/src/govern/gate.o: src/govern/gate.c src/govern/gate.h \
 src/audit/event.h src/govern/approvals.h src/govern/session_token.h \
 src/govern/token.h src/govern/token_sign.h src/net/rules.h \
 src/util/error.h src/util/strv.h src/net/proxy.h src/util/notice.h
src/govern/gate.h:
src/audit/event.h:
src/govern/approvals.h:
src/govern/session_token.h:
src/govern/token.h:
src/govern/token_sign.h:
src/net/rules.h:
src/util/error.h:
src/util/strv.h:
src/net/proxy.h:
src/util/notice.h:

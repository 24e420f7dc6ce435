build-dash/src/session/control.o: src/session/control.c \
 src/session/control.h src/audit/event.h src/audit/keys.h \
 src/util/error.h src/govern/gate.h src/govern/approvals.h \
 src/govern/session_token.h src/govern/token.h src/govern/token_sign.h \
 src/net/rules.h src/util/strv.h src/net/proxy.h src/audit/runtime.h \
 src/govern/answer_sign.h src/sandbox/peer.h src/util/weaken.h \
 src/util/cleanup.h
src/session/control.h:
src/audit/event.h:
src/audit/keys.h:
src/util/error.h:
src/govern/gate.h:
src/govern/approvals.h:
src/govern/session_token.h:
src/govern/token.h:
src/govern/token_sign.h:
src/net/rules.h:
src/util/strv.h:
src/net/proxy.h:
src/audit/runtime.h:
src/govern/answer_sign.h:
src/sandbox/peer.h:
src/util/weaken.h:
src/util/cleanup.h:

build-dash/src/session/control_client.o: src/session/control_client.c \
 src/session/control_client.h src/util/error.h src/audit/runtime.h \
 src/util/strv.h src/govern/answer_sign.h src/audit/keys.h \
 src/util/cleanup.h
src/session/control_client.h:
src/util/error.h:
src/audit/runtime.h:
src/util/strv.h:
src/govern/answer_sign.h:
src/audit/keys.h:
src/util/cleanup.h:

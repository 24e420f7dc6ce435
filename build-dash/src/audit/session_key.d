build-dash/src/audit/session_key.o: src/audit/session_key.c \
 src/audit/session_key.h src/audit/clock.h src/audit/keys.h \
 src/util/error.h
src/audit/session_key.h:
src/audit/clock.h:
src/audit/keys.h:
src/util/error.h:

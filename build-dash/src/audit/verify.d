build-dash/src/audit/verify.o: src/audit/verify.c src/audit/verify.h \
 src/util/error.h src/audit/checkpoint.h src/audit/keys.h \
 src/audit/merkle.h src/audit/session_key.h src/audit/clock.h \
 src/util/fileio.h src/util/digest.h src/util/cleanup.h
src/audit/verify.h:
src/util/error.h:
src/audit/checkpoint.h:
src/audit/keys.h:
src/audit/merkle.h:
src/audit/session_key.h:
src/audit/clock.h:
src/util/fileio.h:
src/util/digest.h:
src/util/cleanup.h:

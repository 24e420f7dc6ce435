build-dash/src/audit/anchor.o: src/audit/anchor.c src/audit/anchor.h \
 src/audit/session_key.h src/audit/clock.h src/audit/keys.h \
 src/util/error.h src/audit/checkpoint.h src/audit/merkle.h \
 src/util/fileio.h src/util/cleanup.h
src/audit/anchor.h:
src/audit/session_key.h:
src/audit/clock.h:
src/audit/keys.h:
src/util/error.h:
src/audit/checkpoint.h:
src/audit/merkle.h:
src/util/fileio.h:
src/util/cleanup.h:

build-dash/src/audit/bench.o: src/audit/bench.c src/audit/bench.h \
 src/util/error.h src/audit/event.h src/audit/trail.h src/policy/policy.h \
 src/util/strv.h src/audit/verify.h
src/audit/bench.h:
src/util/error.h:
src/audit/event.h:
src/audit/trail.h:
src/policy/policy.h:
src/util/strv.h:
src/audit/verify.h:

build-dash/src/sandbox/plan.o: src/sandbox/plan.c src/sandbox/plan.h \
 src/policy/policy.h src/util/error.h src/util/strv.h \
 src/policy/parse_units.h src/sandbox/plan_internal.h src/util/cleanup.h \
 src/util/path.h
src/sandbox/plan.h:
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/policy/parse_units.h:
src/sandbox/plan_internal.h:
src/util/cleanup.h:
src/util/path.h:

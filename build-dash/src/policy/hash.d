build-dash/src/policy/hash.o: src/policy/hash.c src/policy/policy.h \
 src/util/error.h src/util/strv.h src/util/cleanup.h src/util/digest.h
src/policy/policy.h:
src/util/error.h:
src/util/strv.h:
src/util/cleanup.h:
src/util/digest.h:

build-dash/src/govern/identity.o: src/govern/identity.c \
 src/govern/identity.h src/audit/keys.h src/util/error.h \
 src/util/digest.h
src/govern/identity.h:
src/audit/keys.h:
src/util/error.h:
src/util/digest.h:

build-dash/src/audit/trail_bound.o: src/audit/trail_bound.c \
 src/audit/trail_bound.h src/util/digest.h src/audit/text.h
src/audit/trail_bound.h:
src/util/digest.h:
src/audit/text.h:

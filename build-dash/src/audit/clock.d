build-dash/src/audit/clock.o: src/audit/clock.c src/audit/clock.h
src/audit/clock.h:

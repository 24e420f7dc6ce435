build-dash/src/policy/parse_units.o: src/policy/parse_units.c \
 src/policy/parse_units.h
src/policy/parse_units.h:

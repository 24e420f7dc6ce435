build-dash/src/util/bytes_json.o: src/util/bytes_json.c \
 src/util/bytes_json.h
src/util/bytes_json.h:

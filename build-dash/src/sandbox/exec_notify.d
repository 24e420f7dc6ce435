build-dash/src/sandbox/exec_notify.o: src/sandbox/exec_notify.c \
 src/sandbox/exec_notify.h src/util/bytes_json.h
src/sandbox/exec_notify.h:
src/util/bytes_json.h:

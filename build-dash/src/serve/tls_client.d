build-dash/src/serve/tls_client.o: src/serve/tls_client.c \
 src/serve/tls_client.h src/util/error.h
src/serve/tls_client.h:
src/util/error.h:

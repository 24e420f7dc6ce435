build-dash/src/serve/outbound.o: src/serve/outbound.c \
 src/serve/outbound.h src/serve/tls_client.h src/util/error.h \
 src/util/cleanup.h
src/serve/outbound.h:
src/serve/tls_client.h:
src/util/error.h:
src/util/cleanup.h:

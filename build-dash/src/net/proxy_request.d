build-dash/src/net/proxy_request.o: src/net/proxy_request.c \
 src/net/proxy_internal.h src/net/account.h src/net/rules.h \
 src/util/error.h src/util/strv.h src/net/addr.h src/net/http.h \
 src/net/proxy.h src/audit/event.h src/net/resolve.h src/net/sni.h \
 src/net/socks5.h src/net/tunnel.h
src/net/proxy_internal.h:
src/net/account.h:
src/net/rules.h:
src/util/error.h:
src/util/strv.h:
src/net/addr.h:
src/net/http.h:
src/net/proxy.h:
src/audit/event.h:
src/net/resolve.h:
src/net/sni.h:
src/net/socks5.h:
src/net/tunnel.h:

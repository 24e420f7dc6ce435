/* From an allow to a socket (proxy_internal.h): a pinned address, an
 * allowed IP literal or the proxy's own resolution; every address checked
 * (private, loopback, link-local, metadata... refused unless pinned); then a
 * non-blocking connect to the checked address, the next one on failure. */
#include "net/proxy_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/weaken.h"

/* Every address must be public, or the name pinned. A mixed answer is
 * refused whole: a rebinding server would answer public first, then 127.0.0.1. */
static bool conn_check_addresses(struct proxy_conn *c)
{
        for (size_t i = 0; i < c->address_count; i++) {
                const struct sockaddr *sa = (const struct sockaddr *)&c->addresses[i].sa;
                enum net_addr_class cls = net_addr_classify(sa);
                if (cls == NET_ADDR_PUBLIC || weaken("net-address"))
                        continue;
                net_addr_format(sa, c->address_text, sizeof(c->address_text));
                char detail[128];
                snprintf(detail, sizeof(detail),
                         "%s is a %s address; pin the name in "
                         "network.hosts to allow it",
                         c->address_text, net_addr_class_name(cls));
                proxy_conn_deny(c, cls == NET_ADDR_METADATA ? "metadata" : "private-address",
                                detail, NET_SOCKS5_NOT_ALLOWED);
                return false;
        }
        return true;
}

static void conn_go(struct proxy_conn *c)
{
        net_addr_format((const struct sockaddr *)&c->addresses[0].sa, c->address_text,
                        sizeof(c->address_text));
        c->allowed = true;
        proxy_emit_decision(c, true, NULL, NULL);
        c->address_index = 0;
        proxy_conn_connect_next(c, 0);
}

static void conn_resolved(void *ctx, int status, const struct net_address *addresses, size_t count)
{
        struct proxy_conn *c = ctx;
        if (status < 0) {
                char detail[64];
                snprintf(detail, sizeof(detail), "%s",
                         status == -ETIMEDOUT ? "DNS timed out"
                         : status == -ENOENT  ? "no such name"
                                              : "DNS failure");
                proxy_emit_decision(c, false, "dns-failure", detail);
                char message[PROXY_REPLY_MAX / 2];
                snprintf(message, sizeof(message), "%s: %s", c->host, detail);
                proxy_conn_fail(c, status == -ETIMEDOUT ? 504 : 502, NET_SOCKS5_HOST_UNREACHABLE,
                                message);
                return;
        }
        memcpy(c->addresses, addresses, count * sizeof(*addresses));
        c->address_count = count;
        if (conn_check_addresses(c))
                conn_go(c);
}

/* The verdict is allow: find the addresses to connect to and check them. */
void proxy_conn_proceed(struct proxy_conn *c)
{
        struct proxy *proxy = c->proxy;
        const struct net_pin *pin = net_pins_find(&proxy->pins, c->host);
        if (pin) {
                /* pinned: the user named the address, whatever its class */
                c->addresses[0] = pin->address;
                struct sockaddr *sa = (struct sockaddr *)&c->addresses[0].sa;
                if (sa->sa_family == AF_INET)
                        ((struct sockaddr_in *)(void *)sa)->sin_port = htons(c->port);
                else
                        ((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons(c->port);
                c->address_count = 1;
                conn_go(c);
                return;
        }
        if (net_host_is_ip_literal(c->host)) {
                /* only reachable because the literal itself was allowed; the
                 * address classes still apply */
                if (net_addr_from_literal(c->host, c->port, &c->addresses[0]) < 0) {
                        proxy_conn_malformed(c, 400, "bad IP literal");
                        return;
                }
                c->address_count = 1;
                if (conn_check_addresses(c))
                        conn_go(c);
                return;
        }
        c->state = CONN_RESOLVING;
        c->deadline_ms = proxy->now_ms + PROXY_RESOLVE_TIMEOUT_MS;
        proxy_conn_update_events(c);
        if (net_resolve_start(proxy->resolver, c->host, c->port, conn_resolved, c, &c->query) < 0)
                proxy_conn_close(c, "out-of-memory");
}

static void conn_connected(struct proxy_conn *c)
{
        struct proxy *proxy = c->proxy;
        proxy->account.items[c->destination].connections++;
        if (c->protocol == PROTO_HTTP) {
                /* forwarded head, then whatever body bytes came with it */
                size_t total = c->forward_head_len + c->in_len;
                char *buf = realloc(c->forward_head, total ? total : 1);
                if (!buf) {
                        proxy_conn_close(c, "out-of-memory");
                        return;
                }
                memcpy(buf + c->forward_head_len, c->in, c->in_len);
                c->forward_head = NULL;
                free(c->in);
                c->in = buf;
                c->in_len = c->in_cap = total;
                proxy_conn_start_tunnel(c, true);
                return;
        }
        if (c->protocol == PROTO_SOCKS5) {
                uint8_t r[10];
                proxy_conn_queue_reply(c, r, net_socks5_reply(NET_SOCKS5_SUCCEEDED, r));
        } else {
                static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
                proxy_conn_queue_reply(c, ok, sizeof(ok) - 1);
        }
        c->state = CONN_SNI_WAIT;
        c->deadline_ms = proxy->now_ms + proxy->idle_ms;
        if (proxy_conn_flush_reply(c) < 0)
                return;
        if (proxy_conn_terminates(c)) {
                /* a credential's host: TLS ends in the proxy, which checks
                 * the server name itself (net/terminate.c) */
                if (proxy_conn_reply_pending(c))
                        proxy_conn_close(c, "client-slow");
                else
                        proxy_conn_terminate(c);
                return;
        }
        if (c->in_len > 0)
                proxy_conn_check_sni(c);
        else
                proxy_conn_update_events(c);
}

static void conn_upstream_failed(struct proxy_conn *c, int error)
{
        char message[PROXY_REPLY_MAX / 2];
        snprintf(message, sizeof(message), "%s:%u (%s): %s", c->host, (unsigned)c->port,
                 c->address_text, error == ETIMEDOUT ? "connect timed out" : strerror(error));
        event_emit(c->proxy->events, "net.upstream",
                   json_pack("{s:s, s:i, s:s, s:s}", "host", c->host, "port", c->port, "address",
                             c->address_text, "error",
                             error == ETIMEDOUT ? "timeout" : strerror(error)));
        c->allowed = false;
        proxy_conn_fail(c, error == ETIMEDOUT ? 504 : 502,
                        error == ECONNREFUSED  ? NET_SOCKS5_CONNECTION_REFUSED
                        : error == ENETUNREACH ? NET_SOCKS5_NETWORK_UNREACHABLE
                                               : NET_SOCKS5_HOST_UNREACHABLE,
                        message);
}

void proxy_conn_connect_next(struct proxy_conn *c, int last_error)
{
        struct proxy *proxy = c->proxy;
        proxy_handle_close(proxy, &c->upstream);
        while (c->address_index < c->address_count) {
                const struct net_address *a = &c->addresses[c->address_index++];
                net_addr_format((const struct sockaddr *)&a->sa, c->address_text,
                                sizeof(c->address_text));
                int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        last_error = errno;
                        continue;
                }
                /* before connect: the window scale follows the buffer */
                proxy_conn_size_buffers(c, fd);
                if (connect(fd, (const struct sockaddr *)&a->sa, a->len) == 0 ||
                    errno == EINPROGRESS) {
                        c->upstream.fd = fd;
                        c->state = CONN_CONNECTING;
                        c->deadline_ms = proxy->now_ms + PROXY_CONNECT_TIMEOUT_MS;
                        proxy_conn_update_events(c);
                        return;
                }
                last_error = errno;
                close(fd);
        }
        conn_upstream_failed(c, last_error ? last_error : EHOSTUNREACH);
}

void proxy_conn_on_connect_ready(struct proxy_conn *c)
{
        int error = 0;
        socklen_t len = sizeof(error);
        if (getsockopt(c->upstream.fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
                error = errno;
        if (error) {
                proxy_conn_connect_next(c, error);
                return;
        }
        conn_connected(c);
}

/* The egress proxy's event loop (see proxy.h): accept, one state machine per
 * connection, decisions, resolution, connect, the SNI check and the splice
 * tunnel. Everything is non-blocking on one epoll fd, and each event does a
 * bounded amount of work, so no connection's stall blocks another.
 *
 * A connection goes through:
 *   REQUEST    reading an HTTP head or a SOCKS5 greeting + request
 *   RESOLVING  waiting for c-ares (names that are neither pinned nor literals)
 *   CONNECTING non-blocking connect to the checked address (next on failure)
 *   SNI_WAIT   CONNECT/SOCKS: the first client bytes, held until the TLS
 *              ClientHello's server name is known
 *   TUNNEL     splice both ways (after flushing held bytes upstream)
 *   CLOSING    writing a final error reply, then close */
#include "net/proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "net/account.h"
#include "net/addr.h"
#include "net/http.h"
#include "net/resolve.h"
#include "net/rules.h"
#include "net/sni.h"
#include "net/socks5.h"
#include "net/tunnel.h"
#include "sandbox/weaken.h"
#include "util/cleanup.h"

#define PROXY_DEFAULT_IDLE_MS    (5 * 60 * 1000)
#define PROXY_DEFAULT_MAX_CONN   1024
#define PROXY_REQUEST_TIMEOUT_MS 30000 /* to send a complete request head */
#define PROXY_RESOLVE_TIMEOUT_MS 15000 /* c-ares gives up before this */
#define PROXY_CONNECT_TIMEOUT_MS 10000 /* per address */
#define PROXY_BUF_MAX            (NET_HTTP_HEAD_MAX + NET_SNI_MAX_HELLO)
#define PROXY_BUF_INITIAL        4096
#define PROXY_REPLY_MAX          768
#define PROXY_ACCEPT_BATCH       64
#define PROXY_EVENT_BATCH        128
#define PROXY_TICK_MS            500
#define PROXY_FDS_PER_CONN       6

enum handle_kind {
        HANDLE_LISTEN,
        HANDLE_TIMER,
        HANDLE_RESOLVER,
        HANDLE_CLIENT,
        HANDLE_UPSTREAM,
};

struct proxy_conn;

struct handle {
        enum handle_kind kind;
        struct proxy_conn *conn;
        int fd;
        uint32_t events; /* registered interest */
        bool registered;
};

enum conn_state {
        CONN_REQUEST,
        CONN_RESOLVING,
        CONN_CONNECTING,
        CONN_SNI_WAIT,
        CONN_TUNNEL,
        CONN_CLOSING,
};

enum conn_protocol {
        PROTO_UNKNOWN,
        PROTO_CONNECT,
        PROTO_HTTP,
        PROTO_SOCKS5,
};

struct proxy_conn {
        struct proxy *proxy;
        struct proxy_conn *next, *prev; /* live list, or the zombie list once dead */
        bool dead;
        enum conn_state state;
        enum conn_protocol protocol;
        struct handle client, upstream;
        uint64_t deadline_ms;
        uint64_t started_ms;

        /* client bytes not yet consumed (request head, held TLS bytes) */
        char *in;
        size_t in_len, in_cap;
        /* a reply for the client (200, SOCKS replies, errors) */
        char reply[PROXY_REPLY_MAX];
        size_t reply_len, reply_off;
        /* bytes for upstream before the splice starts (forward head, held bytes) */
        char *out;
        size_t out_len, out_off;

        bool socks_greeted;
        char host[NET_HOST_MAX + 1];
        uint16_t port;
        const char *rule; /* pattern text owned by the proxy's rules */
        long destination; /* account index, -1 before the decision */
        bool allowed;     /* an upstream connection was allowed */
        struct net_resolve_query *query;
        struct net_address addresses[NET_RESOLVE_MAX_ADDRESSES];
        size_t address_count, address_index;
        char address_text[64];
        struct net_tunnel tunnel;
        bool tunnel_ready;
        uint64_t bytes_up, bytes_down;
        /* forward-proxy request head (kept until connected) */
        char *forward_head;
        size_t forward_head_len;
};

struct proxy {
        int epoll_fd;
        struct handle listen, timer, resolver_handle;
        struct net_resolver *resolver;
        struct net_rules allow, deny;
        struct net_pins pins;
        struct net_account account;
        struct event_bus *events;
        uint64_t idle_ms;
        unsigned max_connections;
        unsigned conn_count;
        bool accept_paused;
        bool timer_armed;
        uint64_t now_ms;
        struct proxy_conn *conns;   /* live */
        struct proxy_conn *zombies; /* closed this dispatch, freed at its end */
};

static uint64_t monotonic_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *protocol_name(enum conn_protocol p)
{
        switch (p) {
        case PROTO_CONNECT:
                return "connect";
        case PROTO_HTTP:
                return "http";
        case PROTO_SOCKS5:
                return "socks5";
        case PROTO_UNKNOWN:
                break;
        }
        return "unknown";
}

/* ------------------------------------------------------------------ epoll */

static void handle_set(struct proxy *proxy, struct handle *h, uint32_t events)
{
        if (h->fd < 0)
                return;
        if (h->registered && h->events == events)
                return;
        struct epoll_event ev = {.events = events, .data.ptr = h};
        if (epoll_ctl(proxy->epoll_fd, h->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, h->fd, &ev) ==
            0) {
                h->registered = true;
                h->events = events;
        }
}

static void handle_close(struct proxy *proxy, struct handle *h)
{
        if (h->fd < 0)
                return;
        if (h->registered)
                epoll_ctl(proxy->epoll_fd, EPOLL_CTL_DEL, h->fd, NULL);
        close(h->fd);
        h->fd = -1;
        h->registered = false;
}

static void proxy_update_timer(struct proxy *proxy)
{
        bool want = proxy->conn_count > 0 || proxy->accept_paused;
        if (want == proxy->timer_armed)
                return;
        struct itimerspec its = {0};
        if (want) {
                its.it_interval.tv_nsec = PROXY_TICK_MS * 1000000L;
                its.it_value = its.it_interval;
        }
        timerfd_settime(proxy->timer.fd, 0, &its, NULL);
        proxy->timer_armed = want;
}

static void proxy_update_accept(struct proxy *proxy)
{
        bool can = !proxy->accept_paused && proxy->conn_count < proxy->max_connections;
        handle_set(proxy, &proxy->listen, can ? EPOLLIN : 0);
}

/* ------------------------------------------------------------------ events */

static void emit_decision(struct proxy_conn *c, bool allowed, const char *reason,
                          const char *detail)
{
        json_t *fields =
            json_pack("{s:s, s:s?, s:s?, s:s?, s:s?}", "decision", allowed ? "allowed" : "denied",
                      "rule", c->rule, "host", c->host[0] ? c->host : NULL, "address",
                      c->address_text[0] ? c->address_text : NULL, "protocol",
                      c->protocol == PROTO_UNKNOWN ? NULL : protocol_name(c->protocol));
        if (!fields)
                return;
        if (c->port)
                json_object_set_new(fields, "port", json_integer(c->port));
        if (reason)
                json_object_set_new(fields, "reason", json_string(reason));
        if (detail)
                json_object_set_new(fields, "detail", json_string(detail));
        event_emit(c->proxy->events, "net.decision", fields);
}

static void account_bytes(struct proxy_conn *c, uint64_t up, uint64_t down)
{
        if (!up && !down)
                return;
        c->bytes_up += up;
        c->bytes_down += down;
        struct proxy *proxy = c->proxy;
        if (net_account_add(&proxy->account, c->destination, up, down))
                event_emit(proxy->events, "net.budget",
                           json_pack("{s:I, s:I, s:s}", "budget", (json_int_t)proxy->account.budget,
                                     "bytes_up", (json_int_t)proxy->account.bytes_up, "action",
                                     "new connections refused"));
}

/* ------------------------------------------------------------------ lifecycle */

static void conn_close(struct proxy_conn *c, const char *why)
{
        if (c->dead)
                return;
        struct proxy *proxy = c->proxy;
        if (c->allowed)
                event_emit(proxy->events, "net.close",
                           json_pack("{s:s, s:i, s:s, s:s, s:I, s:I, s:I, s:s}", "host", c->host,
                                     "port", c->port, "address", c->address_text, "protocol",
                                     protocol_name(c->protocol), "bytes_up",
                                     (json_int_t)c->bytes_up, "bytes_down",
                                     (json_int_t)c->bytes_down, "duration_ms",
                                     (json_int_t)(proxy->now_ms - c->started_ms), "reason", why));
        net_resolve_cancel(c->query);
        c->query = NULL;
        if (c->tunnel_ready)
                net_tunnel_destroy(&c->tunnel);
        c->tunnel_ready = false;
        handle_close(proxy, &c->client);
        handle_close(proxy, &c->upstream);
        free(c->in);
        free(c->out);
        free(c->forward_head);
        c->in = c->out = c->forward_head = NULL;
        /* unlink from the live list; freed after this dispatch, since events
         * for it may still sit in the current batch */
        if (c->prev)
                c->prev->next = c->next;
        else
                proxy->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->dead = true;
        c->next = proxy->zombies;
        proxy->zombies = c;
        proxy->conn_count--;
        proxy_update_accept(proxy);
}

static void proxy_free_zombies(struct proxy *proxy)
{
        while (proxy->zombies) {
                struct proxy_conn *c = proxy->zombies;
                proxy->zombies = c->next;
                free(c);
        }
}

/* ------------------------------------------------------------------ replies */

static void conn_update_events(struct proxy_conn *c);

/* Write what is pending for the client. -1: the client is gone (closed). */
static int flush_reply(struct proxy_conn *c)
{
        while (c->reply_off < c->reply_len) {
                ssize_t n = send(c->client.fd, c->reply + c->reply_off, c->reply_len - c->reply_off,
                                 MSG_NOSIGNAL);
                if (n > 0) {
                        c->reply_off += (size_t)n;
                } else if (n < 0 && errno == EINTR) {
                        continue;
                } else if (n < 0 && errno == EAGAIN) {
                        return 0;
                } else {
                        conn_close(c, "client-error");
                        return -1;
                }
        }
        return 0;
}

static bool reply_pending(const struct proxy_conn *c)
{
        return c->reply_off < c->reply_len;
}

static void queue_reply(struct proxy_conn *c, const void *data, size_t len)
{
        if (len > sizeof(c->reply) - c->reply_len)
                len = sizeof(c->reply) - c->reply_len;
        memcpy(c->reply + c->reply_len, data, len);
        c->reply_len += len;
}

/* Answer and close: the request is refused or failed. Any further bytes
 * from the client are ignored. */
static void conn_fail(struct proxy_conn *c, int http_status, enum net_socks5_reply socks,
                      const char *message)
{
        if (c->state == CONN_SNI_WAIT || c->state == CONN_TUNNEL) {
                conn_close(c, message); /* the success reply is out: just close */
                return;
        }
        if (c->protocol == PROTO_SOCKS5) {
                uint8_t r[10];
                queue_reply(c, r, net_socks5_reply(socks, r));
        } else {
                char body[PROXY_REPLY_MAX / 2];
                snprintf(body, sizeof(body), "reins: %s\n", message);
                char resp[PROXY_REPLY_MAX];
                size_t n = net_http_response(http_status, body, resp, sizeof(resp));
                queue_reply(c, resp, n);
        }
        handle_close(c->proxy, &c->upstream);
        c->state = CONN_CLOSING;
        c->deadline_ms = c->proxy->now_ms + 5000;
        shutdown(c->client.fd, SHUT_RD);
        if (flush_reply(c) < 0)
                return;
        if (!reply_pending(c)) {
                conn_close(c, message);
                return;
        }
        conn_update_events(c);
}

static void conn_deny(struct proxy_conn *c, const char *reason, const char *detail,
                      enum net_socks5_reply socks)
{
        emit_decision(c, false, reason, detail);
        if (c->destination >= 0)
                c->proxy->account.items[c->destination].denied++;
        char message[PROXY_REPLY_MAX / 2];
        if (c->host[0])
                snprintf(message, sizeof(message), "%s%s%s:%u denied (%s%s%s)",
                         strchr(c->host, ':') ? "[" : "", c->host, strchr(c->host, ':') ? "]" : "",
                         (unsigned)c->port, reason, detail ? ": " : "", detail ? detail : "");
        else
                snprintf(message, sizeof(message), "request refused (%s%s%s)", reason,
                         detail ? ": " : "", detail ? detail : "");
        conn_fail(c, 403, socks, message);
}

static void conn_malformed(struct proxy_conn *c, int status, const char *why)
{
        emit_decision(c, false, "malformed", why);
        char message[PROXY_REPLY_MAX / 2];
        snprintf(message, sizeof(message), "bad request: %s", why);
        conn_fail(c, status, NET_SOCKS5_GENERAL_FAILURE, message);
}

/* ------------------------------------------------------------------ events mask */

static void conn_update_events(struct proxy_conn *c)
{
        if (c->dead)
                return;
        struct proxy *proxy = c->proxy;
        uint32_t client = 0, upstream = 0;
        switch (c->state) {
        case CONN_REQUEST:
                client = reply_pending(c) ? EPOLLOUT : EPOLLIN;
                break;
        case CONN_RESOLVING:
                break;
        case CONN_CONNECTING:
                upstream = EPOLLOUT;
                break;
        case CONN_SNI_WAIT:
                client = reply_pending(c) ? EPOLLOUT : EPOLLIN;
                upstream = EPOLLIN; /* a server that speaks first: not TLS */
                break;
        case CONN_TUNNEL:
                if (reply_pending(c))
                        client = EPOLLOUT;
                else if (c->out_off < c->out_len)
                        upstream = EPOLLOUT;
                else {
                        client = net_tunnel_client_events(&c->tunnel);
                        upstream = net_tunnel_upstream_events(&c->tunnel);
                }
                break;
        case CONN_CLOSING:
                client = EPOLLOUT;
                break;
        }
        handle_set(proxy, &c->client, client);
        handle_set(proxy, &c->upstream, upstream);
}

/* ------------------------------------------------------------------ tunnel */

static void conn_pump(struct proxy_conn *c, unsigned dirs)
{
        uint64_t up = 0, down = 0;
        int r = net_tunnel_pump(&c->tunnel, dirs, &up, &down);
        account_bytes(c, up, down);
        if (up || down)
                c->deadline_ms = c->proxy->now_ms + c->proxy->idle_ms;
        if (r < 0) {
                conn_close(c, "reset");
                return;
        }
        if (r == NET_TUNNEL_DONE) {
                conn_close(c, "done");
                return;
        }
        conn_update_events(c);
}

/* Flush the held bytes upstream, then splice. */
static void conn_tunnel_step(struct proxy_conn *c, unsigned dirs)
{
        if (reply_pending(c) && flush_reply(c) < 0)
                return;
        while (c->out_off < c->out_len) {
                ssize_t n = send(c->upstream.fd, c->out + c->out_off, c->out_len - c->out_off,
                                 MSG_NOSIGNAL);
                if (n > 0) {
                        c->out_off += (size_t)n;
                        account_bytes(c, (uint64_t)n, 0);
                } else if (n < 0 && errno == EINTR) {
                        continue;
                } else if (n < 0 && errno == EAGAIN) {
                        conn_update_events(c);
                        return;
                } else {
                        conn_close(c, "upstream-error");
                        return;
                }
        }
        if (c->out) {
                free(c->out);
                c->out = NULL;
                c->out_len = c->out_off = 0;
        }
        if (!c->tunnel_ready) {
                if (net_tunnel_init(&c->tunnel, c->client.fd, c->upstream.fd) < 0) {
                        conn_close(c, "no-pipes");
                        return;
                }
                c->tunnel_ready = true;
                dirs = NET_TUNNEL_UP | NET_TUNNEL_DOWN;
        }
        conn_pump(c, dirs);
}

static void conn_start_tunnel(struct proxy_conn *c)
{
        /* the held client bytes go first */
        free(c->out);
        c->out = c->in;
        c->out_len = c->in_len;
        c->out_off = 0;
        c->in = NULL;
        c->in_len = c->in_cap = 0;
        c->state = CONN_TUNNEL;
        c->deadline_ms = c->proxy->now_ms + c->proxy->idle_ms;
        conn_tunnel_step(c, NET_TUNNEL_UP | NET_TUNNEL_DOWN);
}

/* ------------------------------------------------------------------ SNI */

static void conn_check_sni(struct proxy_conn *c)
{
        char sni[NET_HOST_MAX + 2];
        enum net_sni_result r = net_sni_parse((const uint8_t *)c->in, c->in_len, sni, sizeof(sni));
        if (weaken("net-sni") && r != NET_SNI_NEED_MORE)
                r = NET_SNI_NOT_TLS;
        switch (r) {
        case NET_SNI_NEED_MORE:
                if (c->in_len >= PROXY_BUF_MAX) {
                        emit_decision(c, false, "sni-mismatch", "ClientHello too large");
                        conn_close(c, "sni-mismatch");
                        return;
                }
                conn_update_events(c);
                return;
        case NET_SNI_NOT_TLS:
                conn_start_tunnel(c);
                return;
        case NET_SNI_FOUND: {
                size_t n = strlen(sni);
                if (n > 1 && sni[n - 1] == '.')
                        sni[n - 1] = '\0';
                if (strcasecmp(sni, c->host) == 0) {
                        conn_start_tunnel(c);
                        return;
                }
                char detail[NET_HOST_MAX + 32];
                snprintf(detail, sizeof(detail), "TLS server name '%s'", sni);
                emit_decision(c, false, "sni-mismatch", detail);
                conn_close(c, "sni-mismatch");
                return;
        }
        case NET_SNI_ABSENT:
                /* no server name is only normal when the client dialled an
                 * address; for a name it would reach whatever the address
                 * serves by default */
                if (net_host_is_ip_literal(c->host)) {
                        conn_start_tunnel(c);
                        return;
                }
                emit_decision(c, false, "sni-mismatch", "TLS ClientHello without a server name");
                conn_close(c, "sni-mismatch");
                return;
        case NET_SNI_MALFORMED:
                emit_decision(c, false, "sni-mismatch", "malformed TLS ClientHello");
                conn_close(c, "sni-mismatch");
                return;
        }
}

/* ------------------------------------------------------------------ buffers */

/* Read what the client has into c->in (bounded). 1: got bytes, 0: nothing
 * now, -1: EOF, -2: the connection was closed. */
static int conn_read_in(struct proxy_conn *c)
{
        if (c->in_len == c->in_cap) {
                if (c->in_cap >= PROXY_BUF_MAX)
                        return 0;
                size_t cap = c->in_cap ? c->in_cap * 2 : PROXY_BUF_INITIAL;
                if (cap > PROXY_BUF_MAX)
                        cap = PROXY_BUF_MAX;
                char *p = realloc(c->in, cap);
                if (!p) {
                        conn_close(c, "out-of-memory");
                        return -2;
                }
                c->in = p;
                c->in_cap = cap;
        }
        ssize_t n = recv(c->client.fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (n > 0) {
                c->in_len += (size_t)n;
                return 1;
        }
        if (n == 0)
                return -1;
        if (errno == EAGAIN || errno == EINTR)
                return 0;
        conn_close(c, "client-error");
        return -2;
}

static void conn_consume_in(struct proxy_conn *c, size_t n)
{
        memmove(c->in, c->in + n, c->in_len - n);
        c->in_len -= n;
}

/* ------------------------------------------------------------------ connect */

static void conn_connect_next(struct proxy_conn *c, int last_error);

static void conn_connected(struct proxy_conn *c)
{
        struct proxy *proxy = c->proxy;
        proxy->account.items[c->destination].connections++;
        if (c->protocol == PROTO_HTTP) {
                /* forwarded head, then whatever body bytes came with it */
                size_t total = c->forward_head_len + c->in_len;
                char *buf = realloc(c->forward_head, total ? total : 1);
                if (!buf) {
                        conn_close(c, "out-of-memory");
                        return;
                }
                memcpy(buf + c->forward_head_len, c->in, c->in_len);
                c->forward_head = NULL;
                free(c->in);
                c->in = buf;
                c->in_len = c->in_cap = total;
                conn_start_tunnel(c);
                return;
        }
        if (c->protocol == PROTO_SOCKS5) {
                uint8_t r[10];
                queue_reply(c, r, net_socks5_reply(NET_SOCKS5_SUCCEEDED, r));
        } else {
                static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
                queue_reply(c, ok, sizeof(ok) - 1);
        }
        c->state = CONN_SNI_WAIT;
        c->deadline_ms = proxy->now_ms + proxy->idle_ms;
        if (flush_reply(c) < 0)
                return;
        if (c->in_len > 0)
                conn_check_sni(c);
        else
                conn_update_events(c);
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
        conn_fail(c, error == ETIMEDOUT ? 504 : 502,
                  error == ECONNREFUSED  ? NET_SOCKS5_CONNECTION_REFUSED
                  : error == ENETUNREACH ? NET_SOCKS5_NETWORK_UNREACHABLE
                                         : NET_SOCKS5_HOST_UNREACHABLE,
                  message);
}

static void conn_connect_next(struct proxy_conn *c, int last_error)
{
        struct proxy *proxy = c->proxy;
        handle_close(proxy, &c->upstream);
        while (c->address_index < c->address_count) {
                const struct net_address *a = &c->addresses[c->address_index++];
                net_addr_format((const struct sockaddr *)&a->sa, c->address_text,
                                sizeof(c->address_text));
                int fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                if (fd < 0) {
                        last_error = errno;
                        continue;
                }
                if (connect(fd, (const struct sockaddr *)&a->sa, a->len) == 0 ||
                    errno == EINPROGRESS) {
                        c->upstream.fd = fd;
                        c->state = CONN_CONNECTING;
                        c->deadline_ms = proxy->now_ms + PROXY_CONNECT_TIMEOUT_MS;
                        conn_update_events(c);
                        return;
                }
                last_error = errno;
                close(fd);
        }
        conn_upstream_failed(c, last_error ? last_error : EHOSTUNREACH);
}

static void conn_on_connect_ready(struct proxy_conn *c)
{
        int error = 0;
        socklen_t len = sizeof(error);
        if (getsockopt(c->upstream.fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
                error = errno;
        if (error) {
                conn_connect_next(c, error);
                return;
        }
        conn_connected(c);
}

/* ------------------------------------------------------------------ decisions */

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
                conn_deny(c, cls == NET_ADDR_METADATA ? "metadata" : "private-address", detail,
                          NET_SOCKS5_NOT_ALLOWED);
                return false;
        }
        return true;
}

static void conn_go(struct proxy_conn *c)
{
        net_addr_format((const struct sockaddr *)&c->addresses[0].sa, c->address_text,
                        sizeof(c->address_text));
        c->allowed = true;
        emit_decision(c, true, NULL, NULL);
        c->address_index = 0;
        conn_connect_next(c, 0);
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
                emit_decision(c, false, "dns-failure", detail);
                char message[PROXY_REPLY_MAX / 2];
                snprintf(message, sizeof(message), "%s: %s", c->host, detail);
                conn_fail(c, status == -ETIMEDOUT ? 504 : 502, NET_SOCKS5_HOST_UNREACHABLE,
                          message);
                return;
        }
        memcpy(c->addresses, addresses, count * sizeof(*addresses));
        c->address_count = count;
        if (conn_check_addresses(c))
                conn_go(c);
}

/* The request names host:port (normalized). Decide on the name, then find
 * the addresses to connect to and check them. */
static void conn_decide(struct proxy_conn *c)
{
        struct proxy *proxy = c->proxy;
        c->destination = net_account_destination(&proxy->account, c->host, c->port);
        if (c->destination < 0) {
                conn_close(c, "out-of-memory");
                return;
        }
        if (!net_account_budget_left(&proxy->account)) {
                c->rule = "egress_budget";
                conn_deny(c, "budget", "network.egress_budget is used up", NET_SOCKS5_NOT_ALLOWED);
                return;
        }
        const char *rule = NULL;
        enum net_verdict v = net_rules_decide(&proxy->allow, &proxy->deny, c->host, c->port, &rule);
        c->rule = rule;
        if (v == NET_VERDICT_DENY_RULE) {
                conn_deny(c, "deny-rule", NULL, NET_SOCKS5_NOT_ALLOWED);
                return;
        }
        if (v == NET_VERDICT_NOT_ALLOWED) {
                c->rule = "default-deny";
                conn_deny(c, "not-allowed", "no network.allow pattern matches",
                          NET_SOCKS5_NOT_ALLOWED);
                return;
        }
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
                        conn_malformed(c, 400, "bad IP literal");
                        return;
                }
                c->address_count = 1;
                if (conn_check_addresses(c))
                        conn_go(c);
                return;
        }
        c->state = CONN_RESOLVING;
        c->deadline_ms = proxy->now_ms + PROXY_RESOLVE_TIMEOUT_MS;
        conn_update_events(c);
        if (net_resolve_start(proxy->resolver, c->host, c->port, conn_resolved, c, &c->query) < 0)
                conn_close(c, "out-of-memory");
}

/* ------------------------------------------------------------------ requests */

static void conn_http_request(struct proxy_conn *c)
{
        struct net_http_request *req = malloc(sizeof(*req));
        if (!req) {
                conn_close(c, "out-of-memory");
                return;
        }
        const char *why = "malformed";
        int r = net_http_parse_request(c->in, c->in_len, req, &why);
        if (r == NET_HTTP_INCOMPLETE) {
                free(req);
                conn_update_events(c);
                return;
        }
        if (r != 0) {
                free(req);
                c->protocol = PROTO_HTTP;
                conn_malformed(c, r, why);
                return;
        }
        c->protocol = req->kind == NET_HTTP_CONNECT ? PROTO_CONNECT : PROTO_HTTP;
        snprintf(c->host, sizeof(c->host), "%s", req->host);
        c->port = req->port;
        if (req->kind == NET_HTTP_FORWARD &&
            net_http_forward_head(req, &c->forward_head, &c->forward_head_len) < 0) {
                free(req);
                conn_close(c, "out-of-memory");
                return;
        }
        size_t head_len = req->head_len;
        free(req);
        conn_consume_in(c, head_len);
        conn_decide(c);
}

static void conn_socks_request(struct proxy_conn *c)
{
        c->protocol = PROTO_SOCKS5;
        if (!c->socks_greeted) {
                size_t used = 0;
                enum net_socks5_status s =
                    net_socks5_parse_greeting((const uint8_t *)c->in, c->in_len, &used);
                if (s == NET_SOCKS5_INCOMPLETE) {
                        conn_update_events(c);
                        return;
                }
                if (s == NET_SOCKS5_BAD) {
                        emit_decision(c, false, "malformed", "bad SOCKS5 greeting");
                        conn_close(c, "malformed");
                        return;
                }
                if (s == NET_SOCKS5_NO_METHOD) {
                        static const uint8_t none[2] = {NET_SOCKS5_VERSION, 0xFF};
                        emit_decision(c, false, "malformed", "no acceptable SOCKS5 method");
                        queue_reply(c, none, 2);
                        c->state = CONN_CLOSING;
                        flush_reply(c);
                        if (!c->dead)
                                conn_update_events(c);
                        return;
                }
                static const uint8_t no_auth[2] = {NET_SOCKS5_VERSION, 0x00};
                queue_reply(c, no_auth, 2);
                conn_consume_in(c, used);
                c->socks_greeted = true;
                if (flush_reply(c) < 0)
                        return;
        }
        struct net_socks5_request req;
        enum net_socks5_status s =
            net_socks5_parse_request((const uint8_t *)c->in, c->in_len, &req);
        if (s == NET_SOCKS5_INCOMPLETE) {
                conn_update_events(c);
                return;
        }
        if (s == NET_SOCKS5_BAD) {
                emit_decision(c, false, "malformed", req.why);
                conn_close(c, "malformed");
                return;
        }
        if (s == NET_SOCKS5_REFUSE) {
                c->port = req.port;
                emit_decision(c, false, "malformed", req.why);
                conn_fail(c, 400, req.reply, req.why);
                return;
        }
        snprintf(c->host, sizeof(c->host), "%s", req.host);
        c->port = req.port;
        conn_consume_in(c, req.consumed);
        conn_decide(c);
}

static void conn_on_request(struct proxy_conn *c)
{
        if (reply_pending(c)) {
                if (flush_reply(c) < 0 || reply_pending(c)) {
                        if (!c->dead)
                                conn_update_events(c);
                        return;
                }
        }
        int r = conn_read_in(c);
        if (r == -2)
                return;
        if (r == -1) {
                conn_close(c, "client-eof");
                return;
        }
        if (c->in_len == 0) {
                conn_update_events(c);
                return;
        }
        /* SOCKS5 starts with its version byte; HTTP with a method letter */
        if ((unsigned char)c->in[0] == NET_SOCKS5_VERSION)
                conn_socks_request(c);
        else
                conn_http_request(c);
}

static void conn_on_sni_wait(struct proxy_conn *c, bool client_ready, bool upstream_ready)
{
        if (reply_pending(c)) {
                if (flush_reply(c) < 0)
                        return;
                if (reply_pending(c)) {
                        conn_update_events(c);
                        return;
                }
        }
        if (client_ready) {
                int r = conn_read_in(c);
                if (r == -2)
                        return;
                if (r == -1 || (c->in_len == 0 && r == 0 && upstream_ready)) {
                        conn_start_tunnel(c); /* EOF or server-first: splice decides */
                        return;
                }
        } else if (upstream_ready && c->in_len == 0) {
                conn_start_tunnel(c); /* the server speaks first: not a TLS client */
                return;
        }
        if (c->in_len > 0)
                conn_check_sni(c);
        else
                conn_update_events(c);
}

/* ------------------------------------------------------------------ dispatch */

static void conn_on_event(struct handle *h, uint32_t events)
{
        struct proxy_conn *c = h->conn;
        if (c->dead)
                return;
        bool is_client = h->kind == HANDLE_CLIENT;
        bool failed = events & (EPOLLERR | EPOLLHUP);
        switch (c->state) {
        case CONN_REQUEST:
                if (is_client)
                        conn_on_request(c);
                break;
        case CONN_RESOLVING:
                if (is_client && failed)
                        conn_close(c, "client-gone");
                break;
        case CONN_CONNECTING:
                if (is_client) {
                        if (failed)
                                conn_close(c, "client-gone");
                } else {
                        conn_on_connect_ready(c);
                }
                break;
        case CONN_SNI_WAIT:
                conn_on_sni_wait(c, is_client, !is_client);
                break;
        case CONN_TUNNEL: {
                unsigned dirs = NET_TUNNEL_UP | NET_TUNNEL_DOWN;
                if (!failed) {
                        /* readable client / writable upstream move data up */
                        dirs = 0;
                        if ((is_client && (events & EPOLLIN)) ||
                            (!is_client && (events & EPOLLOUT)))
                                dirs |= NET_TUNNEL_UP;
                        if ((!is_client && (events & EPOLLIN)) ||
                            (is_client && (events & EPOLLOUT)))
                                dirs |= NET_TUNNEL_DOWN;
                }
                conn_tunnel_step(c, dirs);
                if (failed && !c->dead) {
                        /* the socket can neither read nor write: whatever is left
                         * for it is lost; a level-triggered HUP would spin */
                        uint32_t need = is_client ? net_tunnel_client_events(&c->tunnel)
                                                  : net_tunnel_upstream_events(&c->tunnel);
                        if (need || !c->tunnel_ready)
                                conn_close(c, "reset");
                        else if (h->registered) {
                                epoll_ctl(c->proxy->epoll_fd, EPOLL_CTL_DEL, h->fd, NULL);
                                h->registered = false;
                                h->events = 0;
                        }
                }
                break;
        }
        case CONN_CLOSING:
                if (failed) {
                        conn_close(c, "client-gone");
                        break;
                }
                if (flush_reply(c) < 0)
                        break;
                if (!reply_pending(c))
                        conn_close(c, "refused");
                break;
        }
}

static void proxy_accept(struct proxy *proxy)
{
        for (int i = 0; i < PROXY_ACCEPT_BATCH && proxy->conn_count < proxy->max_connections; i++) {
                int fd = accept4(proxy->listen.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                            errno == ENOMEM) {
                                /* out of fds: stop accepting until the next tick
                                 * instead of spinning on a readable listener */
                                proxy->accept_paused = true;
                                event_emit(proxy->events, "net.overload",
                                           json_pack("{s:s, s:i}", "error", strerror(errno),
                                                     "connections", proxy->conn_count));
                        }
                        break;
                }
                struct proxy_conn *c = calloc(1, sizeof(*c));
                if (!c) {
                        close(fd);
                        break;
                }
                c->proxy = proxy;
                c->client = (struct handle){.kind = HANDLE_CLIENT, .conn = c, .fd = fd};
                c->upstream = (struct handle){.kind = HANDLE_UPSTREAM, .conn = c, .fd = -1};
                c->destination = -1;
                c->state = CONN_REQUEST;
                c->started_ms = proxy->now_ms;
                c->deadline_ms = proxy->now_ms + PROXY_REQUEST_TIMEOUT_MS;
                c->next = proxy->conns;
                if (proxy->conns)
                        proxy->conns->prev = c;
                proxy->conns = c;
                proxy->conn_count++;
                conn_update_events(c);
        }
        proxy_update_accept(proxy);
        proxy_update_timer(proxy);
}

static void conn_timeout(struct proxy_conn *c)
{
        switch (c->state) {
        case CONN_REQUEST:
                if (c->in_len > 0) {
                        c->protocol = c->protocol == PROTO_UNKNOWN &&
                                              (unsigned char)c->in[0] != NET_SOCKS5_VERSION
                                          ? PROTO_HTTP
                                          : c->protocol;
                        conn_fail(c, 408, NET_SOCKS5_GENERAL_FAILURE, "request timed out");
                } else {
                        conn_close(c, "request-timeout");
                }
                break;
        case CONN_RESOLVING:
                net_resolve_cancel(c->query);
                c->query = NULL;
                emit_decision(c, false, "dns-failure", "DNS timed out");
                conn_fail(c, 504, NET_SOCKS5_HOST_UNREACHABLE, "DNS timed out");
                break;
        case CONN_CONNECTING:
                conn_connect_next(c, ETIMEDOUT);
                break;
        case CONN_SNI_WAIT:
        case CONN_TUNNEL:
                conn_close(c, "idle-timeout");
                break;
        case CONN_CLOSING:
                conn_close(c, "refused");
                break;
        }
}

static void proxy_tick(struct proxy *proxy)
{
        uint64_t ticks;
        if (read(proxy->timer.fd, &ticks, sizeof(ticks)) < 0) {
                /* EAGAIN: nothing to drain */
        }
        if (proxy->accept_paused) {
                proxy->accept_paused = false;
                proxy_update_accept(proxy);
        }
        for (struct proxy_conn *c = proxy->conns, *next; c; c = next) {
                next = c->next;
                if (proxy->now_ms >= c->deadline_ms)
                        conn_timeout(c);
        }
        proxy_update_timer(proxy);
}

void proxy_dispatch(struct proxy *proxy)
{
        struct epoll_event events[PROXY_EVENT_BATCH];
        int n = epoll_wait(proxy->epoll_fd, events, PROXY_EVENT_BATCH, 0);
        proxy->now_ms = monotonic_ms();
        for (int i = 0; i < n; i++) {
                struct handle *h = events[i].data.ptr;
                switch (h->kind) {
                case HANDLE_LISTEN:
                        proxy_accept(proxy);
                        break;
                case HANDLE_TIMER:
                        proxy_tick(proxy);
                        break;
                case HANDLE_RESOLVER:
                        net_resolver_dispatch(proxy->resolver);
                        break;
                case HANDLE_CLIENT:
                case HANDLE_UPSTREAM:
                        conn_on_event(h, events[i].events);
                        break;
                }
        }
        proxy_free_zombies(proxy);
        proxy_update_timer(proxy);
}

int proxy_poll_fd(const struct proxy *proxy)
{
        return proxy->epoll_fd;
}

/* ------------------------------------------------------------------ setup */

static void proxy_raise_nofile(unsigned max_connections)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        rlim_t want = (rlim_t)max_connections * PROXY_FDS_PER_CONN + 64;
        if (rl.rlim_cur >= want)
                return;
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
}

int proxy_create(const struct proxy_options *options, int listen_fd, struct proxy **out,
                 struct reins_error *err)
{
        cleanup_fd int lfd = listen_fd;
        struct proxy *proxy = calloc(1, sizeof(*proxy));
        if (!proxy)
                return reins_error_set(err, ENOMEM, "out of memory");
        proxy->epoll_fd = -1;
        proxy->listen = (struct handle){.kind = HANDLE_LISTEN, .fd = -1};
        proxy->timer = (struct handle){.kind = HANDLE_TIMER, .fd = -1};
        proxy->resolver_handle = (struct handle){.kind = HANDLE_RESOLVER, .fd = -1};
        proxy->events = options->events;
        proxy->idle_ms =
            options->idle_timeout_ms ? options->idle_timeout_ms : PROXY_DEFAULT_IDLE_MS;
        proxy->max_connections =
            options->max_connections ? options->max_connections : PROXY_DEFAULT_MAX_CONN;
        net_account_init(&proxy->account, options->egress_budget_bytes);
        int r;
        if ((r = net_rules_build(&proxy->allow, options->allow, "network.allow", err)) < 0 ||
            (r = net_rules_build(&proxy->deny, options->deny, "network.deny", err)) < 0 ||
            (r = net_pins_build(&proxy->pins, options->hosts, err)) < 0 ||
            (r = net_resolver_create(options->dns_servers, &proxy->resolver, err)) < 0) {
                proxy_free(proxy);
                return r;
        }
        proxy->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        proxy->timer.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (proxy->epoll_fd < 0 || proxy->timer.fd < 0) {
                r = reins_error_errno(err, errno, "proxy event fds");
                proxy_free(proxy);
                return r;
        }
        proxy->listen.fd = steal_fd(&lfd);
        handle_set(proxy, &proxy->timer, EPOLLIN);
        /* the resolver's fd is its own epoll: borrowed, never closed here */
        proxy->resolver_handle.fd = net_resolver_poll_fd(proxy->resolver);
        handle_set(proxy, &proxy->resolver_handle, EPOLLIN);
        proxy_update_accept(proxy);
        if (!proxy->listen.registered || !proxy->timer.registered ||
            !proxy->resolver_handle.registered) {
                r = reins_error_errno(err, errno, "proxy epoll");
                proxy_free(proxy);
                return r;
        }
        proxy_raise_nofile(proxy->max_connections);
        proxy->now_ms = monotonic_ms();
        *out = proxy;
        return 0;
}

void proxy_free(struct proxy *proxy)
{
        if (!proxy)
                return;
        proxy->now_ms = monotonic_ms();
        while (proxy->conns)
                conn_close(proxy->conns, "shutdown");
        proxy_free_zombies(proxy);
        if (proxy->account.count || proxy->account.bytes_up || proxy->account.bytes_down)
                event_emit(proxy->events, "net.summary", net_account_summary(&proxy->account));
        handle_close(proxy, &proxy->listen);
        handle_close(proxy, &proxy->timer);
        net_resolver_free(proxy->resolver);
        if (proxy->epoll_fd >= 0)
                close(proxy->epoll_fd);
        net_rules_free(&proxy->allow);
        net_rules_free(&proxy->deny);
        net_pins_free(&proxy->pins);
        net_account_free(&proxy->account);
        free(proxy);
}

/* The proxy's front ends (proxy_internal.h): the first bytes of a
 * connection say which protocol it speaks. An HTTP request head (CONNECT, or
 * an absolute-URI forward request) or a SOCKS5 greeting and CONNECT request
 * become a normalized host:port, then a decision. Input is bounded
 * (PROXY_BUF_MAX): a longer head is refused, never buffered. */
#include "net/proxy_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Read what the client has into c->in (bounded). 1: got bytes, 0: nothing
 * now, -1: EOF, -2: the connection was closed. */
int proxy_conn_read_in(struct proxy_conn *c)
{
        if (c->in_len == c->in_cap) {
                if (c->in_cap >= PROXY_BUF_MAX)
                        return 0;
                size_t cap = c->in_cap ? c->in_cap * 2 : PROXY_BUF_INITIAL;
                if (cap > PROXY_BUF_MAX)
                        cap = PROXY_BUF_MAX;
                char *p = realloc(c->in, cap);
                if (!p) {
                        proxy_conn_close(c, "out-of-memory");
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
        proxy_conn_close(c, "client-error");
        return -2;
}

void proxy_conn_consume_in(struct proxy_conn *c, size_t n)
{
        memmove(c->in, c->in + n, c->in_len - n);
        c->in_len -= n;
}

static void conn_http_request(struct proxy_conn *c)
{
        struct net_http_request *req = malloc(sizeof(*req));
        if (!req) {
                proxy_conn_close(c, "out-of-memory");
                return;
        }
        const char *why = "malformed";
        int r = net_http_parse_request(c->in, c->in_len, req, &why);
        if (r == NET_HTTP_INCOMPLETE) {
                free(req);
                proxy_conn_update_events(c);
                return;
        }
        if (r != 0) {
                free(req);
                c->protocol = PROTO_HTTP;
                proxy_conn_malformed(c, r, why);
                return;
        }
        c->protocol = req->kind == NET_HTTP_CONNECT ? PROTO_CONNECT : PROTO_HTTP;
        snprintf(c->host, sizeof(c->host), "%s", req->host);
        c->port = req->port;
        if (req->kind == NET_HTTP_FORWARD &&
            net_http_forward_head(req, &c->forward_head, &c->forward_head_len) < 0) {
                free(req);
                proxy_conn_close(c, "out-of-memory");
                return;
        }
        size_t head_len = req->head_len;
        free(req);
        proxy_conn_consume_in(c, head_len);
        if (c->protocol == PROTO_HTTP && !proxy_conn_inject_plain(c))
                return;
        proxy_conn_decide(c);
}

static void conn_socks_request(struct proxy_conn *c)
{
        c->protocol = PROTO_SOCKS5;
        if (!c->socks_greeted) {
                size_t used = 0;
                enum net_socks5_status s =
                    net_socks5_parse_greeting((const uint8_t *)c->in, c->in_len, &used);
                if (s == NET_SOCKS5_INCOMPLETE) {
                        proxy_conn_update_events(c);
                        return;
                }
                if (s == NET_SOCKS5_BAD) {
                        proxy_emit_decision(c, false, "malformed", "bad SOCKS5 greeting");
                        proxy_conn_close(c, "malformed");
                        return;
                }
                if (s == NET_SOCKS5_NO_METHOD) {
                        static const uint8_t none[2] = {NET_SOCKS5_VERSION, 0xFF};
                        proxy_emit_decision(c, false, "malformed", "no acceptable SOCKS5 method");
                        proxy_conn_queue_reply(c, none, 2);
                        c->state = CONN_CLOSING;
                        proxy_conn_flush_reply(c);
                        if (!c->dead)
                                proxy_conn_update_events(c);
                        return;
                }
                static const uint8_t no_auth[2] = {NET_SOCKS5_VERSION, 0x00};
                proxy_conn_queue_reply(c, no_auth, 2);
                proxy_conn_consume_in(c, used);
                c->socks_greeted = true;
                if (proxy_conn_flush_reply(c) < 0)
                        return;
        }
        struct net_socks5_request req;
        enum net_socks5_status s =
            net_socks5_parse_request((const uint8_t *)c->in, c->in_len, &req);
        if (s == NET_SOCKS5_INCOMPLETE) {
                proxy_conn_update_events(c);
                return;
        }
        if (s == NET_SOCKS5_BAD) {
                proxy_emit_decision(c, false, "malformed", req.why);
                proxy_conn_close(c, "malformed");
                return;
        }
        if (s == NET_SOCKS5_REFUSE) {
                c->port = req.port;
                proxy_emit_decision(c, false, "malformed", req.why);
                proxy_conn_fail(c, 400, req.reply, req.why);
                return;
        }
        snprintf(c->host, sizeof(c->host), "%s", req.host);
        c->port = req.port;
        proxy_conn_consume_in(c, req.consumed);
        proxy_conn_decide(c);
}

void proxy_conn_on_request(struct proxy_conn *c)
{
        if (proxy_conn_reply_pending(c)) {
                if (proxy_conn_flush_reply(c) < 0 || proxy_conn_reply_pending(c)) {
                        if (!c->dead)
                                proxy_conn_update_events(c);
                        return;
                }
        }
        int r = proxy_conn_read_in(c);
        if (r == -2)
                return;
        if (r == -1) {
                proxy_conn_close(c, "client-eof");
                return;
        }
        if (c->in_len == 0) {
                proxy_conn_update_events(c);
                return;
        }
        /* SOCKS5 starts with its version byte; HTTP with a method letter */
        if ((unsigned char)c->in[0] == NET_SOCKS5_VERSION)
                conn_socks_request(c);
        else
                conn_http_request(c);
}

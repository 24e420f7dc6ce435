/* Replies to the client (proxy_internal.h): the bytes of a success reply and
 * the refusal that ends a request: an HTTP status with a text body, or a
 * SOCKS5 reply code; then the connection closes. */
#include "net/proxy_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Write what is pending for the client. -1: the client is gone (closed). */
int proxy_conn_flush_reply(struct proxy_conn *c)
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
                        proxy_conn_close(c, "client-error");
                        return -1;
                }
        }
        return 0;
}

bool proxy_conn_reply_pending(const struct proxy_conn *c)
{
        return c->reply_off < c->reply_len;
}

void proxy_conn_queue_reply(struct proxy_conn *c, const void *data, size_t len)
{
        if (len > sizeof(c->reply) - c->reply_len)
                len = sizeof(c->reply) - c->reply_len;
        memcpy(c->reply + c->reply_len, data, len);
        c->reply_len += len;
}

/* Answer and close: the request is refused or failed. Any further bytes
 * from the client are ignored. */
void proxy_conn_fail(struct proxy_conn *c, int http_status, enum net_socks5_reply socks,
                     const char *message)
{
        if (c->state == CONN_SNI_WAIT || c->state == CONN_TUNNEL) {
                proxy_conn_close(c, message); /* the success reply is out: just close */
                return;
        }
        if (c->protocol == PROTO_SOCKS5) {
                uint8_t r[10];
                proxy_conn_queue_reply(c, r, net_socks5_reply(socks, r));
        } else {
                char body[PROXY_REPLY_MAX / 2];
                snprintf(body, sizeof(body), "reins: %s\n", message);
                char resp[PROXY_REPLY_MAX];
                size_t n = net_http_response(http_status, body, resp, sizeof(resp));
                proxy_conn_queue_reply(c, resp, n);
        }
        /* nothing more happens upstream: no late DNS answer may connect it */
        net_resolve_cancel(c->query);
        c->query = NULL;
        proxy_handle_close(c->proxy, &c->upstream);
        c->state = CONN_CLOSING;
        c->deadline_ms = c->proxy->now_ms + PROXY_CLOSING_MS;
        shutdown(c->client.fd, SHUT_RD);
        if (proxy_conn_flush_reply(c) < 0)
                return;
        if (!proxy_conn_reply_pending(c)) {
                proxy_conn_close(c, message);
                return;
        }
        proxy_conn_update_events(c);
}

void proxy_conn_deny(struct proxy_conn *c, const char *reason, const char *detail,
                     enum net_socks5_reply socks)
{
        proxy_emit_decision(c, false, reason, detail);
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
        proxy_conn_fail(c, 403, socks, message);
}

void proxy_conn_malformed(struct proxy_conn *c, int status, const char *why)
{
        proxy_emit_decision(c, false, "malformed", why);
        char message[PROXY_REPLY_MAX / 2];
        snprintf(message, sizeof(message), "bad request: %s", why);
        proxy_conn_fail(c, status, NET_SOCKS5_GENERAL_FAILURE, message);
}

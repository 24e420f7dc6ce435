/* Credentials in the proxy (proxy_internal.h, net/inject.h): a CONNECT or
 * SOCKS5 to a credential's host is handed to the terminator's thread, a
 * plain HTTP request has its head rewritten here, plaintext bytes are
 * searched for placeholders, and the terminator's reports become events. */
#include "net/proxy_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util/bytes_json.h"
#include "util/weaken.h"

static bool proxy_injects(const struct proxy *proxy)
{
        return proxy->inject && (proxy->inject->count > 0 || proxy->inject->identity_count > 0);
}

bool proxy_conn_terminates(const struct proxy_conn *c)
{
        const struct proxy *proxy = c->proxy;
        return proxy_injects(proxy) && proxy->terminator &&
               (c->protocol == PROTO_CONNECT || c->protocol == PROTO_SOCKS5) &&
               net_inject_terminates(proxy->inject, c->host, c->port);
}

/* Out of the epoll set without closing: the fd changes owner. */
static int handle_release(struct proxy *proxy, struct proxy_handle *h)
{
        if (h->registered)
                epoll_ctl(proxy->epoll_fd, EPOLL_CTL_DEL, h->fd, NULL);
        int fd = h->fd;
        h->fd = -1;
        h->registered = false;
        return fd;
}

void proxy_conn_terminate(struct proxy_conn *c)
{
        struct proxy *proxy = c->proxy;
        int client = handle_release(proxy, &c->client);
        int upstream = handle_release(proxy, &c->upstream);
        if (net_terminator_start(proxy->terminator, c->id, client, upstream, c->host, c->port,
                                 c->in, c->in_len) < 0) {
                close(client);
                close(upstream);
                proxy_conn_close(c, "no-thread");
                return;
        }
        c->in_len = 0;
        c->state = CONN_TERMINATED;
        c->deadline_ms = UINT64_MAX; /* the thread keeps its own idle timeout */
}

/* net.credential_misuse: the credential, where it went; never a value. */
static void emit_misuse(struct proxy *proxy, uint64_t id, const char *credential, const char *host,
                        unsigned port, const char *method, const char *path, const char *detail)
{
        json_t *fields =
            json_pack("{s:I, s:s, s:s, s:i, s:s}", "connection", (json_int_t)id, "credential",
                      credential, "host", host, "port", (int)port, "detail", detail);
        if (!fields)
                return;
        if (method && *method)
                json_object_set_new(fields, "method", bytes_json_z(method));
        if (path && *path)
                json_object_set_new(fields, "path", bytes_json_z(path));
        event_emit(proxy->events, "net.credential_misuse", fields);
}

static void emit_injected(struct proxy *proxy, uint64_t id, const char *credential,
                          const char *host, unsigned port, const char *method, const char *path)
{
        json_t *fields = json_pack("{s:I, s:s, s:s, s:i}", "connection", (json_int_t)id,
                                   "credential", credential, "host", host, "port", (int)port);
        if (!fields)
                return;
        json_object_set_new(fields, "method", bytes_json_z(method));
        json_object_set_new(fields, "path", bytes_json_z(path));
        event_emit(proxy->events, "net.inject", fields);
}

bool proxy_conn_find_misuse(struct proxy_conn *c, const void *bytes, size_t len)
{
        struct proxy *proxy = c->proxy;
        if (!proxy_injects(proxy) || weaken("credential-misuse"))
                return false;
        for (size_t k = 0; k < proxy->inject->count; k++) {
                const struct net_inject_credential *cred = &proxy->inject->items[k];
                if ((c->injected & (1u << k)) ||
                    !memmem(bytes, len, cred->placeholder, cred->placeholder_len))
                        continue;
                emit_misuse(proxy, c->id, cred->name, c->host, c->port, NULL, NULL,
                            "placeholder in plaintext bytes");
                return true;
        }
        return false;
}

bool proxy_conn_inject_plain(struct proxy_conn *c)
{
        struct proxy *proxy = c->proxy;
        if (!proxy_injects(proxy))
                return true;
        char *out = NULL;
        size_t out_len = 0;
        struct net_inject_report report;
        int r = net_inject_rewrite(proxy->inject, c->host, c->port, false, c->forward_head,
                                   c->forward_head_len, &out, &out_len, &report);
        if (r < 0) {
                proxy_conn_close(c, "out-of-memory");
                return false;
        }
        if (r == NET_HTTP_INCOMPLETE || report.status) {
                const char *why = r == NET_HTTP_INCOMPLETE ? "malformed request head" : report.why;
                if (report.misuse >= 0) {
                        emit_misuse(proxy, c->id, proxy->inject->items[report.misuse].name, c->host,
                                    c->port, report.method, report.path, why);
                        proxy_emit_decision(c, false, "credential-misuse", why);
                } else {
                        proxy_emit_decision(c, false, "malformed", why);
                }
                proxy_conn_fail(c, report.status ? report.status : 400, NET_SOCKS5_NOT_ALLOWED,
                                why);
                return false;
        }
        for (size_t k = 0; k < proxy->inject->count; k++)
                if (report.injected & (1u << k))
                        emit_injected(proxy, c->id, proxy->inject->items[k].name, c->host, c->port,
                                      report.method, report.path);
        c->injected = report.injected;
        free(c->forward_head);
        c->forward_head = out;
        c->forward_head_len = out_len;
        return true;
}

static struct proxy_conn *find_conn(struct proxy *proxy, uint64_t id)
{
        for (struct proxy_conn *c = proxy->conns; c; c = c->next)
                if (c->id == id)
                        return c;
        return NULL;
}

static void on_report(struct proxy *proxy, const struct net_terminate_report *r)
{
        struct proxy_conn *c = find_conn(proxy, r->conn_id);
        switch (r->kind) {
        case NET_TERMINATE_INJECTED:
                if (!r->credential[0]) { /* the agent's identity assertion */
                        json_t *fields =
                            json_pack("{s:I, s:s, s:i}", "connection", (json_int_t)r->conn_id,
                                      "host", r->host, "port", (int)r->port);
                        if (fields) {
                                json_object_set_new(fields, "method", bytes_json_z(r->method));
                                json_object_set_new(fields, "path", bytes_json_z(r->path));
                        }
                        event_emit(proxy->events, "net.identity", fields);
                        break;
                }
                emit_injected(proxy, r->conn_id, r->credential, r->host, r->port, r->method,
                              r->path);
                break;
        case NET_TERMINATE_MISUSE:
                emit_misuse(proxy, r->conn_id, r->credential, r->host, r->port, r->method, r->path,
                            r->detail);
                break;
        case NET_TERMINATE_REFUSED: {
                json_t *fields = json_pack("{s:I, s:s, s:i, s:i, s:s}", "connection",
                                           (json_int_t)r->conn_id, "host", r->host, "port",
                                           (int)r->port, "status", r->status, "detail", r->detail);
                if (fields && r->method[0])
                        json_object_set_new(fields, "method", bytes_json_z(r->method));
                if (fields && r->path[0])
                        json_object_set_new(fields, "path", bytes_json_z(r->path));
                event_emit(proxy->events, "net.inject_refused", fields);
                break;
        }
        case NET_TERMINATE_UPSTREAM_TLS:
                event_emit(proxy->events, "net.upstream",
                           json_pack("{s:s, s:i, s:s, s:s}", "host", r->host, "port", (int)r->port,
                                     "error", "tls-verify", "detail", r->detail));
                break;
        case NET_TERMINATE_PROGRESS:
                if (c && c->state == CONN_TERMINATED) {
                        /* may pass the budget: egress off, this one cut */
                        proxy_conn_account(c, r->bytes_up, r->bytes_down);
                        c->active_ms = proxy->now_ms;
                        if (!c->dead)
                                proxy_conn_progress(c);
                }
                break;
        case NET_TERMINATE_DONE:
                if (c && c->state == CONN_TERMINATED) {
                        proxy_conn_account(c, r->bytes_up, r->bytes_down);
                        proxy_conn_close(c, "done");
                }
                break;
        }
}

void proxy_on_terminator(struct proxy *proxy)
{
        struct net_terminate_report reports[16];
        size_t n;
        while ((n = net_terminator_drain(proxy->terminator, reports, 16)) > 0)
                for (size_t i = 0; i < n; i++)
                        on_report(proxy, &reports[i]);
}

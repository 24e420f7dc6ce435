/* An open connection (proxy_internal.h): the TLS ClientHello's server name
 * checked against the requested host, the held client bytes sent first, the
 * plaintext prefix shown to the gate's scan hook, then splice both ways. */
#include "net/proxy_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "util/weaken.h"

/* gate->scan sees consecutive pieces of the first PROXY_SCAN_MAX plaintext
 * bytes. A scan may turn egress off (proxy_close_all): then the bytes stay. */
static bool conn_scan(void *ctx, const void *bytes, size_t len)
{
        struct proxy_conn *c = ctx;
        struct proxy *proxy = c->proxy;
        if (len > c->scan_left)
                len = c->scan_left;
        if (len == 0)
                return true;
        c->scan_left -= len;
        /* a credential's placeholder in plaintext, to any host but the one
         * it was injected for here: an exfiltration attempt, stopped */
        if (proxy_conn_find_misuse(c, bytes, len)) {
                c->misused = true;
                return false;
        }
        if (proxy->gate.scan)
                proxy->gate.scan(proxy->gate.ctx, c->id, c->host, bytes, len);
        return !proxy->close_all_pending;
}

static void conn_pump(struct proxy_conn *c, unsigned dirs)
{
        struct proxy *proxy = c->proxy;
        uint64_t up = 0, down = 0;
        int r = net_tunnel_pump(&c->tunnel, dirs, proxy_budget_left(proxy), &up, &down);
        proxy_conn_account(c, up, down);
        if (up || down) {
                c->deadline_ms = proxy->now_ms + proxy->idle_ms;
                c->active_ms = proxy->now_ms;
        }
        if (proxy->close_all_pending) {
                /* a scan or the budget turned egress off: this one goes now,
                 * before another byte, the others on the way out */
                proxy_conn_close(c, proxy->close_all_reason);
                return;
        }
        if (r < 0) {
                proxy_conn_close(c, c->misused ? "credential-misuse" : "reset");
                return;
        }
        if (r == NET_TUNNEL_DONE) {
                proxy_conn_close(c, "done");
                return;
        }
        proxy_conn_update_events(c);
}

/* Flush the held bytes upstream, then splice. */
static void conn_tunnel_step(struct proxy_conn *c, unsigned dirs)
{
        if (proxy_conn_reply_pending(c) && proxy_conn_flush_reply(c) < 0)
                return;
        while (c->out_off < c->out_len) {
                size_t len = c->out_len - c->out_off;
                if (len > proxy_budget_left(c->proxy))
                        len = (size_t)proxy_budget_left(c->proxy);
                ssize_t n = send(c->upstream.fd, c->out + c->out_off, len, MSG_NOSIGNAL);
                if (n > 0) {
                        c->out_off += (size_t)n;
                        proxy_conn_account(c, (uint64_t)n, 0);
                        if (c->proxy->close_all_pending) {
                                proxy_conn_close(c, c->proxy->close_all_reason);
                                return;
                        }
                } else if (n < 0 && errno == EINTR) {
                        continue;
                } else if (n < 0 && errno == EAGAIN) {
                        proxy_conn_update_events(c);
                        return;
                } else {
                        proxy_conn_close(c, "upstream-error");
                        return;
                }
        }
        if (c->out) {
                free(c->out);
                c->out = NULL;
                c->out_len = c->out_off = 0;
        }
        if (!c->tunnel_ready) {
                if (net_tunnel_init(&c->tunnel, c->client.fd, c->upstream.fd, c->wide) < 0) {
                        proxy_conn_close(c, "no-pipes");
                        return;
                }
                c->tunnel_ready = true;
                if (c->scan_left)
                        net_tunnel_inspect_up(&c->tunnel, c->scan_left, conn_scan, c,
                                              c->proxy->scan_buffer, PROXY_SCAN_MAX);
                dirs = NET_TUNNEL_UP | NET_TUNNEL_DOWN;
        }
        conn_pump(c, dirs);
}

/* Splice from now on; a plaintext connection first shows its opening bytes
 * (those held here, then the next ones peeked from the socket) to the scan
 * hook. TLS is left alone: its bytes say nothing. */
void proxy_conn_start_tunnel(struct proxy_conn *c, bool plaintext)
{
        struct proxy *proxy = c->proxy;
        c->scan_left = plaintext && proxy->scan_buffer ? PROXY_SCAN_MAX : 0;
        if (c->scan_left && c->in_len && !conn_scan(c, c->in, c->in_len)) {
                proxy_conn_close(c, c->misused ? "credential-misuse" : proxy->close_all_reason);
                return;
        }
        /* the held client bytes go first */
        free(c->out);
        c->out = c->in;
        c->out_len = c->in_len;
        c->out_off = 0;
        c->in = NULL;
        c->in_len = c->in_cap = 0;
        c->state = CONN_TUNNEL;
        c->deadline_ms = c->proxy->now_ms + c->proxy->idle_ms;
        c->active_ms = c->proxy->now_ms;
        conn_tunnel_step(c, NET_TUNNEL_UP | NET_TUNNEL_DOWN);
}

void proxy_conn_check_sni(struct proxy_conn *c)
{
        char sni[NET_HOST_MAX + 2];
        enum net_sni_result r = net_sni_parse((const uint8_t *)c->in, c->in_len, sni, sizeof(sni));
        if (weaken("net-sni") && r != NET_SNI_NEED_MORE)
                r = NET_SNI_NOT_TLS;
        switch (r) {
        case NET_SNI_NEED_MORE:
                if (c->in_len >= PROXY_BUF_MAX) {
                        proxy_emit_decision(c, false, "sni-mismatch", "ClientHello too large");
                        proxy_conn_close(c, "sni-mismatch");
                        return;
                }
                proxy_conn_update_events(c);
                return;
        case NET_SNI_NOT_TLS:
                proxy_conn_start_tunnel(c, true);
                return;
        case NET_SNI_FOUND: {
                size_t n = strlen(sni);
                if (n > 1 && sni[n - 1] == '.')
                        sni[n - 1] = '\0';
                if (strcasecmp(sni, c->host) == 0) {
                        proxy_conn_start_tunnel(c, false);
                        return;
                }
                char detail[NET_HOST_MAX + 32];
                snprintf(detail, sizeof(detail), "TLS server name '%s'", sni);
                proxy_emit_decision(c, false, "sni-mismatch", detail);
                proxy_conn_close(c, "sni-mismatch");
                return;
        }
        case NET_SNI_ABSENT:
                /* no server name is only normal when the client dialled an
                 * address; for a name it would reach whatever the address
                 * serves by default */
                if (net_host_is_ip_literal(c->host)) {
                        proxy_conn_start_tunnel(c, false);
                        return;
                }
                proxy_emit_decision(c, false, "sni-mismatch",
                                    "TLS ClientHello without a server name");
                proxy_conn_close(c, "sni-mismatch");
                return;
        case NET_SNI_MALFORMED:
                proxy_emit_decision(c, false, "sni-mismatch", "malformed TLS ClientHello");
                proxy_conn_close(c, "sni-mismatch");
                return;
        }
}

void proxy_conn_on_sni_wait(struct proxy_conn *c, bool client_ready, bool upstream_ready)
{
        if (proxy_conn_reply_pending(c)) {
                if (proxy_conn_flush_reply(c) < 0)
                        return;
                if (proxy_conn_reply_pending(c)) {
                        proxy_conn_update_events(c);
                        return;
                }
        }
        if (client_ready) {
                int r = proxy_conn_read_in(c);
                if (r == -2)
                        return;
                if (r == -1 || (c->in_len == 0 && r == 0 && upstream_ready)) {
                        proxy_conn_start_tunnel(c, true); /* EOF or server-first: splice decides */
                        return;
                }
        } else if (upstream_ready && c->in_len == 0) {
                proxy_conn_start_tunnel(c, true); /* the server speaks first: not a TLS client */
                return;
        }
        if (c->in_len > 0)
                proxy_conn_check_sni(c);
        else
                proxy_conn_update_events(c);
}

void proxy_conn_on_tunnel_event(struct proxy_conn *c, struct proxy_handle *h, uint32_t events)
{
        bool is_client = h->kind == HANDLE_CLIENT;
        bool failed = events & (EPOLLERR | EPOLLHUP);
        unsigned dirs = NET_TUNNEL_UP | NET_TUNNEL_DOWN;
        if (!failed) {
                /* readable client / writable upstream move data up */
                dirs = 0;
                if ((is_client && (events & EPOLLIN)) || (!is_client && (events & EPOLLOUT)))
                        dirs |= NET_TUNNEL_UP;
                if ((!is_client && (events & EPOLLIN)) || (is_client && (events & EPOLLOUT)))
                        dirs |= NET_TUNNEL_DOWN;
        }
        conn_tunnel_step(c, dirs);
        if (!failed || c->dead)
                return;
        /* the socket can neither read nor write: whatever is left for it is
         * lost; a level-triggered HUP would spin */
        uint32_t need = is_client ? net_tunnel_client_events(&c->tunnel)
                                  : net_tunnel_upstream_events(&c->tunnel);
        if (need || !c->tunnel_ready) {
                proxy_conn_close(c, "reset");
        } else if (h->registered) {
                epoll_ctl(c->proxy->epoll_fd, EPOLL_CTL_DEL, h->fd, NULL);
                h->registered = false;
                h->events = 0;
        }
}

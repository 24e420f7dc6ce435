/* A connection's life in the proxy (proxy_internal.h): accepted, given the
 * epoll interest its state needs, its events sent to the part that handles
 * that state, timed out, closed. */
#include "net/proxy_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

void proxy_handle_set(struct proxy *proxy, struct proxy_handle *h, uint32_t events)
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

void proxy_handle_close(struct proxy *proxy, struct proxy_handle *h)
{
        if (h->fd < 0)
                return;
        if (h->registered)
                epoll_ctl(proxy->epoll_fd, EPOLL_CTL_DEL, h->fd, NULL);
        close(h->fd);
        h->fd = -1;
        h->registered = false;
}

void proxy_update_timer(struct proxy *proxy)
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

/* The connection a newcomer at the cap replaces, or NULL: the oldest that
 * never sent a complete request head, else the tunnel idle for longest
 * (PROXY_EVICT_IDLE_MS at least). So a thousand idle connections cannot make
 * the agent's next request wait for their timeouts. */
static struct proxy_conn *proxy_pick_victim(const struct proxy *proxy)
{
        struct proxy_conn *request = NULL, *idle = NULL;
        for (struct proxy_conn *c = proxy->conns; c; c = c->next) {
                if (c->state == CONN_REQUEST) {
                        if (!request || c->started_ms < request->started_ms)
                                request = c;
                } else if ((c->state == CONN_TUNNEL || c->state == CONN_SNI_WAIT) &&
                           proxy->now_ms >= c->active_ms + PROXY_EVICT_IDLE_MS) {
                        if (!idle || c->active_ms < idle->active_ms)
                                idle = c;
                }
        }
        return request ? request : idle;
}

void proxy_update_accept(struct proxy *proxy)
{
        bool can = !proxy->accept_paused &&
                   (proxy->conn_count < proxy->max_connections || proxy_pick_victim(proxy) != NULL);
        proxy_handle_set(proxy, &proxy->listen, can ? EPOLLIN : 0);
}

/* The first time a cap is hit: one `limit` event (the count goes into the
 * summary at the end, proxy_emit_limits). */
static void proxy_report_cap(struct proxy *proxy, bool *reported, json_t *fields)
{
        if (*reported) {
                json_decref(fields);
                return;
        }
        *reported = true;
        event_emit(proxy->events, "limit", fields);
}

void proxy_emit_limits(struct proxy *proxy)
{
        if (!proxy->evicted && !proxy->head_timeouts && !proxy->refused_no_fd &&
            !proxy->cap_reported)
                return;
        event_emit(proxy->events, "limit",
                   json_pack("{s:s, s:b, s:i, s:I, s:I, s:I}", "kind", "proxy_connections",
                             "summary", 1, "max_connections", (int)proxy->max_connections,
                             "evicted", (json_int_t)proxy->evicted, "head_timeouts",
                             (json_int_t)proxy->head_timeouts, "refused_no_fd",
                             (json_int_t)proxy->refused_no_fd));
}

void proxy_conn_size_buffers(struct proxy_conn *c, int upstream_fd)
{
        struct proxy *proxy = c->proxy;
        if (upstream_fd >= 0 && !c->wide && proxy->wide_count < PROXY_WIDE_CONNS) {
                c->wide = true;
                proxy->wide_count++;
        }
        int size = c->wide ? PROXY_WIDE_SOCKBUF : PROXY_NARROW_SOCKBUF;
        int fds[2] = {c->client.fd, upstream_fd};
        for (int i = 0; i < 2; i++) {
                if (fds[i] < 0)
                        continue;
                setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
                setsockopt(fds[i], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
        }
}

void proxy_conn_close(struct proxy_conn *c, const char *why)
{
        if (c->dead)
                return;
        struct proxy *proxy = c->proxy;
        if (c->allowed || c->state == CONN_HELD)
                proxy_emit_close(c, why);
        net_resolve_cancel(c->query);
        c->query = NULL;
        if (c->state == CONN_TERMINATED) /* its thread ends; its DONE finds nothing */
                net_terminator_cut(proxy->terminator, c->id);
        if (c->tunnel_ready)
                net_tunnel_destroy(&c->tunnel);
        c->tunnel_ready = false;
        proxy_handle_close(proxy, &c->client);
        proxy_handle_close(proxy, &c->upstream);
        if (c->wide)
                proxy->wide_count--;
        c->wide = false;
        free(c->in);
        free(c->out);
        free(c->forward_head);
        c->in = c->out = c->forward_head = NULL;
        /* unlink from the live list */
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

void proxy_free_zombies(struct proxy *proxy)
{
        while (proxy->zombies) {
                struct proxy_conn *c = proxy->zombies;
                proxy->zombies = c->next;
                free(c);
        }
}

void proxy_conn_update_events(struct proxy_conn *c)
{
        if (c->dead)
                return;
        struct proxy *proxy = c->proxy;
        uint32_t client = 0, upstream = 0;
        switch (c->state) {
        case CONN_REQUEST:
                client = proxy_conn_reply_pending(c) ? EPOLLOUT : EPOLLIN;
                break;
        case CONN_HELD:
                /* read nothing more from a held client, but notice it leave */
                client = EPOLLRDHUP;
                break;
        case CONN_RESOLVING:
                break;
        case CONN_CONNECTING:
                upstream = EPOLLOUT;
                break;
        case CONN_SNI_WAIT:
                client = proxy_conn_reply_pending(c) ? EPOLLOUT : EPOLLIN;
                upstream = EPOLLIN; /* a server that speaks first: not TLS */
                break;
        case CONN_TUNNEL:
                if (proxy_conn_reply_pending(c))
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
        case CONN_TERMINATED:
                break; /* no fds of its own any more */
        }
        proxy_handle_set(proxy, &c->client, client);
        proxy_handle_set(proxy, &c->upstream, upstream);
}

void proxy_conn_on_event(struct proxy_handle *h, uint32_t events)
{
        struct proxy_conn *c = h->conn;
        if (c->dead)
                return;
        bool is_client = h->kind == HANDLE_CLIENT;
        bool failed = events & (EPOLLERR | EPOLLHUP);
        switch (c->state) {
        case CONN_REQUEST:
                if (is_client)
                        proxy_conn_on_request(c);
                break;
        case CONN_HELD:
                if (is_client && (failed || (events & EPOLLRDHUP)))
                        proxy_conn_abandon(c, "client-gone");
                break;
        case CONN_RESOLVING:
                if (is_client && failed)
                        proxy_conn_close(c, "client-gone");
                break;
        case CONN_CONNECTING:
                if (is_client) {
                        if (failed)
                                proxy_conn_close(c, "client-gone");
                } else {
                        proxy_conn_on_connect_ready(c);
                }
                break;
        case CONN_SNI_WAIT:
                proxy_conn_on_sni_wait(c, is_client, !is_client);
                break;
        case CONN_TUNNEL:
                proxy_conn_on_tunnel_event(c, h, events);
                break;
        case CONN_CLOSING:
                if (failed) {
                        proxy_conn_close(c, "client-gone");
                        break;
                }
                if (proxy_conn_flush_reply(c) < 0)
                        break;
                if (!proxy_conn_reply_pending(c))
                        proxy_conn_close(c, "refused");
                break;
        case CONN_TERMINATED:
                break;
        }
}

/* Out of fds (EMFILE/ENFILE): the waiting client is accepted with the fd
 * kept in reserve and closed at once, rather than left to spin the loop on
 * a readable listener or wait in the backlog; the supervisor goes on. */
static void proxy_shed_client(struct proxy *proxy, int error)
{
        proxy->refused_no_fd++;
        proxy_report_cap(proxy, &proxy->fd_reported,
                         json_pack("{s:s, s:s, s:i}", "kind", "proxy_fds", "error", strerror(error),
                                   "connections", (int)proxy->conn_count));
        if (proxy->reserve_fd < 0) {
                proxy->accept_paused = true; /* until the next tick */
                return;
        }
        close(proxy->reserve_fd);
        int fd = accept4(proxy->listen.fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
                close(fd);
        proxy->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || proxy->reserve_fd < 0)
                proxy->accept_paused = true;
}

void proxy_accept(struct proxy *proxy)
{
        for (int i = 0; i < PROXY_ACCEPT_BATCH && !proxy->accept_paused; i++) {
                struct proxy_conn *victim = NULL;
                if (proxy->conn_count >= proxy->max_connections) {
                        victim = proxy_pick_victim(proxy);
                        if (!proxy->cap_reported)
                                proxy_report_cap(proxy, &proxy->cap_reported,
                                                 json_pack("{s:s, s:i, s:s}", "kind",
                                                           "proxy_connections", "max_connections",
                                                           (int)proxy->max_connections, "action",
                                                           victim ? "evict-idle" : "wait"));
                        if (!victim)
                                break;
                }
                int fd = accept4(proxy->listen.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EMFILE || errno == ENFILE) {
                                proxy_shed_client(proxy, errno);
                                continue;
                        }
                        if (errno == ENOBUFS || errno == ENOMEM) {
                                /* stop accepting until the next tick instead
                                 * of spinning on a readable listener */
                                proxy->accept_paused = true;
                                event_emit(proxy->events, "net.overload",
                                           json_pack("{s:s, s:i}", "error", strerror(errno),
                                                     "connections", proxy->conn_count));
                        }
                        break;
                }
                if (victim) {
                        proxy->evicted++;
                        proxy_conn_close(victim, "evicted");
                }
                struct proxy_conn *c = calloc(1, sizeof(*c));
                if (!c) {
                        close(fd);
                        break;
                }
                c->proxy = proxy;
                c->id = ++proxy->next_id;
                c->client = (struct proxy_handle){.kind = HANDLE_CLIENT, .conn = c, .fd = fd};
                c->upstream = (struct proxy_handle){.kind = HANDLE_UPSTREAM, .conn = c, .fd = -1};
                c->destination = -1;
                c->state = CONN_REQUEST;
                c->started_ms = proxy->now_ms;
                c->active_ms = proxy->now_ms;
                c->progress_ms = proxy->now_ms;
                c->deadline_ms = proxy->now_ms + PROXY_REQUEST_TIMEOUT_MS;
                proxy_conn_size_buffers(c, -1);
                c->next = proxy->conns;
                if (proxy->conns)
                        proxy->conns->prev = c;
                proxy->conns = c;
                proxy->conn_count++;
                proxy_conn_update_events(c);
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
                        proxy_conn_fail(c, 408, NET_SOCKS5_GENERAL_FAILURE, "request timed out");
                } else {
                        proxy_conn_close(c, "request-timeout");
                }
                break;
        case CONN_HELD:
                proxy_conn_held_timeout(c);
                break;
        case CONN_RESOLVING:
                net_resolve_cancel(c->query);
                c->query = NULL;
                proxy_emit_decision(c, false, "dns-failure", "DNS timed out");
                proxy_conn_fail(c, 504, NET_SOCKS5_HOST_UNREACHABLE, "DNS timed out");
                break;
        case CONN_CONNECTING:
                proxy_conn_connect_next(c, ETIMEDOUT);
                break;
        case CONN_SNI_WAIT:
        case CONN_TUNNEL:
                proxy_conn_close(c, "idle-timeout");
                break;
        case CONN_CLOSING:
                proxy_conn_close(c, "refused");
                break;
        case CONN_TERMINATED:
                break;
        }
}

void proxy_tick(struct proxy *proxy)
{
        uint64_t ticks;
        if (read(proxy->timer.fd, &ticks, sizeof(ticks)) < 0) {
                /* EAGAIN: nothing to drain */
        }
        if (proxy->accept_paused) {
                proxy->accept_paused = false;
                proxy_update_accept(proxy);
        }
        /* a request head has 10 s, and 2 s once over half of the
         * connections are open: idle sockets cannot hold the slots */
        uint64_t head_ms = proxy->conn_count * 2 > proxy->max_connections
                               ? PROXY_REQUEST_BUSY_MS
                               : PROXY_REQUEST_TIMEOUT_MS;
        for (struct proxy_conn *c = proxy->conns, *next; c; c = next) {
                next = c->next;
                proxy_conn_progress(c); /* a burst that ended between two reports */
                if (c->state == CONN_REQUEST && proxy->now_ms >= c->started_ms + head_ms) {
                        proxy->head_timeouts++;
                        conn_timeout(c);
                } else if (proxy->now_ms >= c->deadline_ms) {
                        conn_timeout(c);
                }
        }
        /* time may have made a connection evictable */
        proxy_update_accept(proxy);
        proxy_update_timer(proxy);
}

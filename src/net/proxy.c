/* The egress proxy's entry points (proxy.h): create, dispatch, answer,
 * close_all, free. Everything runs on one epoll fd and each event does a
 * bounded amount of work, so no connection's stall blocks another; the files
 * behind this one are listed in proxy_internal.h.
 *
 * Every entry point goes through proxy_enter/proxy_leave. The gate's hooks
 * and the event sinks run inside the proxy, and may call back into it (a
 * risk engine that sees a net.decision and turns egress off, a gate that
 * answers at once): such calls are recorded and run when the outermost entry
 * point leaves, so no connection changes under the code handling it. */
#include "net/proxy_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

static uint64_t monotonic_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void proxy_enter(struct proxy *proxy)
{
        if (proxy->depth++ == 0)
                proxy->now_ms = monotonic_ms();
}

static void proxy_cut_all(struct proxy *proxy, const char *reason)
{
        for (struct proxy_conn *c = proxy->conns, *next; c; c = next) {
                next = c->next;
                proxy_conn_cut(c, reason);
        }
}

/* What re-entrant calls left for later, until nothing is left. Answers go
 * one at a time: applying one emits events, and a sink may answer or cut. */
static void proxy_run_deferred(struct proxy *proxy)
{
        while (proxy->close_all_pending || proxy->answers_pending) {
                if (proxy->close_all_pending) {
                        char reason[PROXY_REASON_MAX];
                        proxy_copy_reason(reason, proxy->close_all_reason);
                        proxy->close_all_pending = false;
                        proxy_cut_all(proxy, reason);
                        continue;
                }
                struct proxy_conn *c = proxy->conns;
                while (c && !c->answer_pending)
                        c = c->next;
                if (!c) {
                        proxy->answers_pending = false;
                        continue;
                }
                c->answer_pending = false;
                proxy_conn_answer(c, c->answer_allow, c->answer_reason);
        }
}

static void proxy_leave(struct proxy *proxy)
{
        if (proxy->depth == 1) {
                proxy_run_deferred(proxy);
                proxy_free_zombies(proxy);
                proxy_update_timer(proxy);
        }
        proxy->depth--;
}

static struct proxy_conn *proxy_find(struct proxy *proxy, uint64_t id)
{
        for (struct proxy_conn *c = proxy->conns; c; c = c->next)
                if (c->id == id)
                        return c;
        return NULL;
}

void proxy_answer(struct proxy *proxy, uint64_t id, bool allow, const char *reason)
{
        struct proxy_conn *c = proxy ? proxy_find(proxy, id) : NULL;
        if (!c)
                return;
        if (proxy->depth > 0) {
                /* called from inside a callback: later, on the way out */
                c->answer_pending = true;
                c->answer_allow = allow;
                proxy_copy_reason(c->answer_reason, reason);
                proxy->answers_pending = true;
                return;
        }
        proxy_enter(proxy);
        proxy_conn_answer(c, allow, reason);
        proxy_leave(proxy);
}

void proxy_close_all(struct proxy *proxy, const char *reason)
{
        if (!proxy)
                return;
        proxy_copy_reason(proxy->close_all_reason, reason ? reason : "egress turned off");
        proxy->close_all_pending = true;
        if (proxy->depth > 0)
                return; /* from inside a callback: on the way out */
        proxy_enter(proxy);
        proxy_leave(proxy);
}

void proxy_dispatch(struct proxy *proxy)
{
        struct epoll_event events[PROXY_EVENT_BATCH];
        int n = epoll_wait(proxy->epoll_fd, events, PROXY_EVENT_BATCH, 0);
        proxy_enter(proxy);
        for (int i = 0; i < n; i++) {
                struct proxy_handle *h = events[i].data.ptr;
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
                case HANDLE_TERMINATOR:
                        proxy_on_terminator(proxy);
                        break;
                case HANDLE_CLIENT:
                case HANDLE_UPSTREAM:
                        proxy_conn_on_event(h, events[i].events);
                        break;
                }
        }
        proxy_leave(proxy);
}

int proxy_poll_fd(const struct proxy *proxy)
{
        return proxy->epoll_fd;
}

/* Each connection holds up to six fds (two sockets, two pipes): raise the
 * soft RLIMIT_NOFILE towards the hard limit for them, and where the hard
 * limit is lower, take fewer connections, so that PROXY_FD_RESERVE fds stay
 * the supervisor's whatever the agent opens (its control socket, the trail,
 * the sandbox's own reports must never meet EMFILE). */
static unsigned proxy_fit_nofile(unsigned max_connections)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return max_connections;
        rlim_t want = (rlim_t)max_connections * PROXY_FDS_PER_CONN + PROXY_FD_RESERVE;
        if (rl.rlim_cur < want) {
                rl.rlim_cur =
                    rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) < 0)
                        return max_connections;
        }
        if (rl.rlim_cur >= want)
                return max_connections;
        rlim_t fit = rl.rlim_cur > 2 * PROXY_FD_RESERVE
                         ? (rl.rlim_cur - PROXY_FD_RESERVE) / PROXY_FDS_PER_CONN
                         : rl.rlim_cur / (2 * PROXY_FDS_PER_CONN);
        return fit > 0 ? (unsigned)fit : 1;
}

int proxy_create(const struct proxy_options *options, int listen_fd, struct proxy **out,
                 struct reins_error *err)
{
        cleanup_fd int lfd = listen_fd;
        struct proxy *proxy = calloc(1, sizeof(*proxy));
        if (!proxy)
                return reins_error_set(err, ENOMEM, "out of memory");
        proxy->epoll_fd = -1;
        proxy->reserve_fd = -1;
        proxy->listen = (struct proxy_handle){.kind = HANDLE_LISTEN, .fd = -1};
        proxy->timer = (struct proxy_handle){.kind = HANDLE_TIMER, .fd = -1};
        proxy->resolver_handle = (struct proxy_handle){.kind = HANDLE_RESOLVER, .fd = -1};
        proxy->terminator_handle = (struct proxy_handle){.kind = HANDLE_TERMINATOR, .fd = -1};
        proxy->inject = options->inject;
        proxy->terminator = options->terminator;
        proxy->events = options->events;
        proxy->idle_ms =
            options->idle_timeout_ms ? options->idle_timeout_ms : PROXY_DEFAULT_IDLE_MS;
        proxy->max_connections =
            options->max_connections ? options->max_connections : PROXY_DEFAULT_MAX_CONN;
        net_account_init(&proxy->account, options->egress_budget_bytes);
        if (options->gate) {
                proxy->gate = *options->gate;
                proxy->has_gate = true;
        }
        int r;
        bool scans =
            (proxy->has_gate && proxy->gate.scan) || (proxy->inject && proxy->inject->count);
        if (scans && !(proxy->scan_buffer = malloc(PROXY_SCAN_MAX))) {
                proxy_free(proxy);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        if ((r = net_rules_build(&proxy->allow, options->allow, "network.allow", err)) < 0 ||
            (r = net_rules_build(&proxy->deny, options->deny, "network.deny", err)) < 0 ||
            (r = net_rules_build(&proxy->ask, options->ask, "network.ask", err)) < 0 ||
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
        proxy_handle_set(proxy, &proxy->timer, EPOLLIN);
        /* the resolver's fd is its own epoll: borrowed, never closed here */
        proxy->resolver_handle.fd = net_resolver_poll_fd(proxy->resolver);
        proxy_handle_set(proxy, &proxy->resolver_handle, EPOLLIN);
        if (proxy->terminator) { /* borrowed, like the resolver's */
                proxy->terminator_handle.fd = net_terminator_fd(proxy->terminator);
                proxy_handle_set(proxy, &proxy->terminator_handle, EPOLLIN);
        }
        proxy_update_accept(proxy);
        if (!proxy->listen.registered || !proxy->timer.registered ||
            !proxy->resolver_handle.registered) {
                r = reins_error_errno(err, errno, "proxy epoll");
                proxy_free(proxy);
                return r;
        }
        proxy->max_connections = proxy_fit_nofile(proxy->max_connections);
        proxy->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        proxy->now_ms = monotonic_ms();
        *out = proxy;
        return 0;
}

void proxy_free(struct proxy *proxy)
{
        if (!proxy)
                return;
        proxy->now_ms = monotonic_ms();
        proxy->depth++; /* callbacks from here on find a proxy going away */
        while (proxy->conns)
                proxy_conn_close(proxy->conns, "shutdown");
        proxy_free_zombies(proxy);
        if (proxy->account.count || proxy->account.bytes_up || proxy->account.bytes_down)
                event_emit(proxy->events, "net.summary", net_account_summary(&proxy->account));
        proxy_emit_limits(proxy);
        if (proxy->reserve_fd >= 0)
                close(proxy->reserve_fd);
        proxy_handle_close(proxy, &proxy->listen);
        proxy_handle_close(proxy, &proxy->timer);
        net_resolver_free(proxy->resolver);
        if (proxy->epoll_fd >= 0)
                close(proxy->epoll_fd);
        net_rules_free(&proxy->allow);
        net_rules_free(&proxy->deny);
        net_rules_free(&proxy->ask);
        free(proxy->scan_buffer);
        net_pins_free(&proxy->pins);
        net_account_free(&proxy->account);
        free(proxy);
}

/* c-ares inside the proxy's event loop (see resolve.h). */
#include "net/resolve.h"

#include <ares.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

struct net_resolver {
        ares_channel channel;
        int epoll_fd;
        int timer_fd;
        bool destroying;
};

struct net_resolve_query {
        struct net_resolver *resolver;
        struct net_resolve_query **slot; /* NULL once cancelled */
        net_resolve_fn fn;
        void *ctx;
        uint16_t port;
};

static void resolver_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
        struct net_resolver *resolver = data;
        if (!readable && !writable) {
                epoll_ctl(resolver->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
                return;
        }
        struct epoll_event ev = {.events = (readable ? EPOLLIN : 0u) | (writable ? EPOLLOUT : 0u),
                                 .data.fd = fd};
        if (epoll_ctl(resolver->epoll_fd, EPOLL_CTL_MOD, fd, &ev) < 0 && errno == ENOENT)
                epoll_ctl(resolver->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

/* c-ares keeps its own timeouts; make the timerfd fire at the next one. */
static void resolver_arm_timer(struct net_resolver *resolver)
{
        struct timeval tv;
        struct itimerspec its = {0};
        if (ares_timeout(resolver->channel, NULL, &tv)) {
                its.it_value.tv_sec = tv.tv_sec;
                its.it_value.tv_nsec = tv.tv_usec * 1000L;
                if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
                        its.it_value.tv_nsec = 1000000; /* due now: soon, not never */
        }
        timerfd_settime(resolver->timer_fd, 0, &its, NULL);
}

int net_resolver_create(const char *servers, struct net_resolver **out, struct reins_error *err)
{
        int r = ares_library_init(ARES_LIB_INIT_ALL);
        if (r != ARES_SUCCESS)
                return reins_error_set(err, EIO, "c-ares: %s", ares_strerror(r));
        struct net_resolver *resolver = calloc(1, sizeof(*resolver));
        if (!resolver) {
                ares_library_cleanup();
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        resolver->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        resolver->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (resolver->epoll_fd < 0 || resolver->timer_fd < 0) {
                int e = errno;
                net_resolver_free(resolver);
                return reins_error_errno(err, e, "resolver event fds");
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = resolver->timer_fd};
        epoll_ctl(resolver->epoll_fd, EPOLL_CTL_ADD, resolver->timer_fd, &ev);
        struct ares_options options = {0};
        options.sock_state_cb = resolver_sock_state;
        options.sock_state_cb_data = resolver;
        options.timeout = 2000; /* ms per try */
        options.tries = 2;
        r = ares_init_options(&resolver->channel, &options,
                              ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
        if (r != ARES_SUCCESS) {
                resolver->channel = NULL;
                net_resolver_free(resolver);
                return reins_error_set(err, EIO, "c-ares init: %s", ares_strerror(r));
        }
        if (servers &&
            (r = ares_set_servers_ports_csv(resolver->channel, servers)) != ARES_SUCCESS) {
                net_resolver_free(resolver);
                return reins_error_set(err, EINVAL, "DNS servers '%s': %s", servers,
                                       ares_strerror(r));
        }
        *out = resolver;
        return 0;
}

int net_resolver_poll_fd(const struct net_resolver *resolver)
{
        return resolver->epoll_fd;
}

void net_resolver_dispatch(struct net_resolver *resolver)
{
        struct epoll_event events[16];
        int n = epoll_wait(resolver->epoll_fd, events, 16, 0);
        for (int i = 0; i < n; i++) {
                int fd = events[i].data.fd;
                if (fd == resolver->timer_fd) {
                        uint64_t ticks;
                        if (read(fd, &ticks, sizeof(ticks)) < 0) {
                                /* EAGAIN: already drained */
                        }
                        ares_process_fd(resolver->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
                        continue;
                }
                uint32_t e = events[i].events;
                ares_process_fd(resolver->channel,
                                e & (EPOLLIN | EPOLLERR | EPOLLHUP) ? fd : ARES_SOCKET_BAD,
                                e & EPOLLOUT ? fd : ARES_SOCKET_BAD);
        }
        resolver_arm_timer(resolver);
}

void net_resolver_free(struct net_resolver *resolver)
{
        if (!resolver)
                return;
        resolver->destroying = true;
        if (resolver->channel)
                ares_destroy(resolver->channel); /* pending callbacks: ARES_EDESTRUCTION */
        if (resolver->epoll_fd >= 0)
                close(resolver->epoll_fd);
        if (resolver->timer_fd >= 0)
                close(resolver->timer_fd);
        free(resolver);
        ares_library_cleanup();
}

static int resolve_status(int status)
{
        switch (status) {
        case ARES_SUCCESS:
                return 0;
        case ARES_ENOTFOUND:
        case ARES_ENODATA:
        case ARES_ENONAME:
                return -ENOENT;
        case ARES_ETIMEOUT:
                return -ETIMEDOUT;
        default:
                return -EIO;
        }
}

static void resolve_done(void *arg, int status, int timeouts, struct ares_addrinfo *result)
{
        (void)timeouts;
        struct net_resolve_query *q = arg;
        struct net_address addresses[NET_RESOLVE_MAX_ADDRESSES];
        size_t count = 0;
        int r = resolve_status(status);
        for (struct ares_addrinfo_node *node = result ? result->nodes : NULL;
             r == 0 && node && count < NET_RESOLVE_MAX_ADDRESSES; node = node->ai_next) {
                if (node->ai_family != AF_INET && node->ai_family != AF_INET6)
                        continue;
                if ((size_t)node->ai_addrlen > sizeof(addresses[count].sa))
                        continue;
                struct net_address *a = &addresses[count];
                memset(a, 0, sizeof(*a));
                memcpy(&a->sa, node->ai_addr, node->ai_addrlen);
                a->len = (socklen_t)node->ai_addrlen;
                if (node->ai_family == AF_INET)
                        ((struct sockaddr_in *)(void *)&a->sa)->sin_port = htons(q->port);
                else
                        ((struct sockaddr_in6 *)(void *)&a->sa)->sin6_port = htons(q->port);
                count++;
        }
        if (result)
                ares_freeaddrinfo(result);
        if (r == 0 && count == 0)
                r = -ENOENT;
        bool live = q->slot != NULL && !q->resolver->destroying;
        if (live) {
                *q->slot = NULL;
                q->fn(q->ctx, r, addresses, count);
        }
        free(q);
}

int net_resolve_start(struct net_resolver *resolver, const char *host, uint16_t port,
                      net_resolve_fn fn, void *ctx, struct net_resolve_query **slot)
{
        struct net_resolve_query *q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->resolver = resolver;
        q->slot = slot;
        q->fn = fn;
        q->ctx = ctx;
        q->port = port;
        *slot = q;
        struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        ares_getaddrinfo(resolver->channel, host, NULL, &hints, resolve_done, q);
        resolver_arm_timer(resolver);
        return 0;
}

void net_resolve_cancel(struct net_resolve_query *query)
{
        if (query)
                query->slot = NULL;
}

/* The egress proxy (DESIGN §5): HTTP CONNECT, HTTP forward and SOCKS5 on a
 * listening socket that lives inside the sandbox's network namespace, served
 * by the supervisor from its own event loop. Decides on the name the client
 * asked for (deny > allow > default deny), resolves it itself, refuses
 * private/loopback/link-local/metadata addresses unless pinned in `hosts`,
 * connects to the checked address, checks TLS SNI against the CONNECT host,
 * counts bytes and enforces the egress budget. Every decision is an event. */
#ifndef REINS_NET_PROXY_H
#define REINS_NET_PROXY_H

#include <stdint.h>

#include "audit/event.h"
#include "util/error.h"
#include "util/strv.h"

struct proxy;

struct proxy_options {
        const struct reins_strv *allow; /* patterns: host, *.domain, optional :port */
        const struct reins_strv *deny;
        const struct reins_strv *hosts; /* "name=address" pins */
        uint64_t egress_budget_bytes;   /* 0 = none */
        uint64_t idle_timeout_ms;       /* 0 = default (5 minutes) */
        unsigned max_connections;       /* 0 = default (1024) */
        struct event_bus *events;       /* may be NULL */
        const char *dns_servers;        /* NULL: the system's resolv.conf; else c-ares CSV
                                           ("127.0.0.1:5353"): tests use a fake DNS server */
};

/* Take ownership of `listen_fd` (non-blocking, listening). The options'
 * lists are copied. Raises the soft RLIMIT_NOFILE towards the hard limit:
 * each connection holds six fds (two sockets, two pipes). */
int proxy_create(const struct proxy_options *options, int listen_fd, struct proxy **out,
                 struct reins_error *err);
/* An fd (epoll) that becomes readable when the proxy has work to do. */
int proxy_poll_fd(const struct proxy *proxy);
/* Do all ready work without blocking. */
void proxy_dispatch(struct proxy *proxy);
/* Close every connection and free; emits the per-destination byte totals. */
void proxy_free(struct proxy *proxy);

#endif

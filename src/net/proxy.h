/* The egress proxy (DESIGN §5): HTTP CONNECT, HTTP forward and SOCKS5 on a
 * listening socket that lives inside the sandbox's network namespace, served
 * by the supervisor from its own event loop. Decides on the name the client
 * asked for (deny > allow > default deny), resolves it itself, refuses
 * private/loopback/link-local/metadata addresses unless pinned in `hosts`,
 * connects to the checked address, checks TLS SNI against the CONNECT host,
 * counts bytes and enforces the egress budget. Every decision is an event. */
#ifndef REINS_NET_PROXY_H
#define REINS_NET_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/event.h"
#include "util/error.h"
#include "util/strv.h"

struct proxy;

enum proxy_verdict { PROXY_DENY = 0, PROXY_ALLOW, PROXY_ASK };

struct proxy_request_info {
        uint64_t id;      /* this connection's id, unique within the proxy */
        const char *host; /* as the client asked for it, lower-cased */
        uint16_t port;
        const char *protocol;       /* "connect" | "http" | "socks5" */
        enum proxy_verdict verdict; /* the lists: ALLOW, ASK (network.ask), DENY (default) */
        const char *rule;           /* the pattern that matched, or "default" */
};

/* The last word on a destination after the lists (an explicit deny never
 * reaches it). PROXY_ASK holds that one connection until proxy_answer. */
struct proxy_gate {
        enum proxy_verdict (*decide)(void *ctx, const struct proxy_request_info *request,
                                     const char **reason);
        void (*abandoned)(void *ctx, uint64_t id);
        void (*scan)(void *ctx, uint64_t id, const char *host, const void *bytes, size_t len);
        void *ctx;
};

struct proxy_options {
        const struct reins_strv *allow; /* patterns: host, *.domain, optional :port */
        const struct reins_strv *deny;
        const struct reins_strv *ask;   /* network.ask: the gate decides (deny without one) */
        const struct proxy_gate *gate;  /* NULL: the lists decide alone */
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
/* Answer a held connection; unknown or gone ids are ignored. */
void proxy_answer(struct proxy *proxy, uint64_t id, bool allow, const char *reason);
/* Close every tunnel and held connection now (egress turned off). */
void proxy_close_all(struct proxy *proxy, const char *reason);
/* Close every connection and free; emits the per-destination byte totals. */
void proxy_free(struct proxy *proxy);

#endif

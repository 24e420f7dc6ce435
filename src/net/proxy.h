/* The egress proxy (DESIGN §5): HTTP CONNECT, HTTP forward and SOCKS5 on a
 * listening socket that lives inside the sandbox's network namespace, served
 * by the supervisor from its own event loop. Decides on the name the client
 * asked for (deny > ask > allow > default deny, then the gate's last word),
 * resolves it itself, refuses private/loopback/link-local/metadata addresses
 * unless pinned in `hosts`, connects to the checked address, checks TLS SNI
 * against the CONNECT host, counts bytes and enforces the egress budget.
 *
 * Every decision is a net.decision event: "decision" (the final word:
 * "allowed", "denied", or "ask" while a connection is held), "lists" (what
 * allow/ask/deny said: "allow" | "ask" | "deny"), "rule" (the deciding
 * pattern, "default" when none matched), "reason" (a code: deny-rule,
 * not-allowed, gate, no-approver, budget, private-address, metadata,
 * dns-failure, sni-mismatch, malformed, ask), "detail", "gate_reason" (the
 * gate's or the answer's words) and "connection" (the id). net.close ends
 * every connection that was allowed or held. While one is open,
 * net.progress gives the bytes moved since the last one ("bytes_up",
 * "bytes_down"), at most once a second and once 64 KiB more went up; a
 * net.close after some says how much of its bytes_up they reported
 * ("bytes_up_reported").
 *
 * With credentials (options.inject): net.inject for each request a secret
 * was put into ("credential", "host", "method", "path": never the value),
 * net.credential_misuse when a placeholder went elsewhere (refused),
 * net.inject_refused for a request the rewriting refused (status, detail). */
#ifndef REINS_NET_PROXY_H
#define REINS_NET_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit/event.h"
#include "util/error.h"
#include "util/strv.h"

struct proxy;
struct net_inject;     /* net/inject.h */
struct net_terminator; /* net/terminate.h */

#define PROXY_SCAN_MAX (64 * 1024) /* plaintext bytes shown to proxy_gate.scan */

enum proxy_verdict { PROXY_DENY = 0, PROXY_ALLOW, PROXY_ASK };

struct proxy_request_info {
        uint64_t id;      /* this connection's id, unique within the proxy */
        const char *host; /* the name (or IP literal) the client asked for, lower-cased */
        uint16_t port;
        const char *protocol;       /* "connect" | "http" | "socks5" */
        enum proxy_verdict verdict; /* what the lists said: ALLOW, ASK (network.ask matched) or
                                       DENY (nothing matched: default deny). An explicit deny
                                       match never reaches the gate. */
        const char *rule;           /* the pattern that matched, or "default" */
};

/* The last word on a destination, after the lists. The hooks run inside the
 * proxy; they may call proxy_answer and proxy_close_all (directly, or through
 * an event sink): such calls take effect when the proxy's current entry point
 * returns, never under the code that called the hook. */
struct proxy_gate {
        /* Once per destination request, after the lists and before resolving.
         * Returns the final verdict: it may narrow ALLOW to DENY or ASK, turn
         * ASK into ALLOW or DENY, turn a default DENY into ASK or ALLOW. *reason
         * (may stay NULL) goes into the decision event and the refusal sent to
         * the client; it must stay valid until the next call (it is copied).
         * PROXY_ASK holds the connection: nothing more is read from that client
         * and nothing resolved until proxy_answer; nothing else is blocked. A
         * held connection counts against max_connections and has the idle
         * timeout (then it is refused and `abandoned` is called). */
        enum proxy_verdict (*decide)(void *ctx, const struct proxy_request_info *request,
                                     const char **reason);
        /* A held connection's client went away (or it idled out, or
         * proxy_close_all cut it) before an answer. */
        void (*abandoned)(void *ctx, uint64_t id);
        /* May be NULL. The first PROXY_SCAN_MAX (64 KiB) bytes a client sends
         * upstream on a connection that is not TLS (an HTTP forward request with
         * its headers and body; a CONNECT or SOCKS5 tunnel whose first bytes are
         * not a TLS handshake), in consecutive pieces, each before it leaves. A
         * proxy_close_all from here stops those bytes. */
        void (*scan)(void *ctx, uint64_t id, const char *host, const void *bytes, size_t len);
        void *ctx;
};

struct proxy_options {
        const struct reins_strv *allow; /* patterns: host, *.domain, optional :port */
        const struct reins_strv *deny;
        const struct reins_strv *ask;   /* network.ask: the gate decides (deny without one) */
        const struct proxy_gate *gate;  /* NULL: the lists decide alone; copied */
        const struct reins_strv *hosts; /* "name=address" pins */
        uint64_t egress_budget_bytes;   /* 0 = none; once passed, open connections are closed
                                           and new ones refused */
        uint64_t idle_timeout_ms;       /* 0 = default (5 minutes) */
        unsigned max_connections;       /* 0 = default (256); at the cap a newcomer replaces
                                           the oldest connection without a request head, or
                                           the idlest tunnel */
        struct event_bus *events;       /* may be NULL */
        const char *dns_servers;        /* NULL: the system's resolv.conf; else c-ares CSV
                                           ("127.0.0.1:5353"): tests use a fake DNS server */
        /* credential injection (net/inject.h, net/terminate.h), both
         * borrowed, NULL: none. A CONNECT or SOCKS5 to a host some credential
         * names is terminated (terminator), every other stays a tunnel; a
         * plain HTTP request has its head rewritten; a placeholder sent where
         * its credential may not go is refused (net.credential_misuse). */
        const struct net_inject *inject;
        struct net_terminator *terminator;
};

/* Take ownership of `listen_fd` (non-blocking, listening). The options'
 * lists are copied. Raises the soft RLIMIT_NOFILE towards the hard limit:
 * each connection holds six fds (two sockets, two pipes); with fewer, the
 * connection cap shrinks so that 64 fds stay the supervisor's. Caps hit are
 * `limit` events (the first of each kind, then a summary at proxy_free). */
int proxy_create(const struct proxy_options *options, int listen_fd, struct proxy **out,
                 struct reins_error *err);
/* An fd (epoll) that becomes readable when the proxy has work to do. */
int proxy_poll_fd(const struct proxy *proxy);
/* Do all ready work without blocking. */
void proxy_dispatch(struct proxy *proxy);
/* Answer a held connection: allow → resolve, check addresses and connect as
 * usual; deny → refuse it (HTTP forward: 403 with `reason` in a text body;
 * CONNECT: a 403 response, then close; SOCKS5: reply 0x02, then close).
 * An unknown, gone or not-held id: nothing happens. */
void proxy_answer(struct proxy *proxy, uint64_t id, bool allow, const char *reason);
/* Egress off: close every open tunnel, connection being set up and held
 * connection now (those not yet connected get a refusal), each with a
 * net.close carrying `reason`. New requests still go through the gate. */
void proxy_close_all(struct proxy *proxy, const char *reason);
/* Close every connection and free; emits the per-destination byte totals.
 * Calls no gate hook. */
void proxy_free(struct proxy *proxy);

#endif

/* Inside the egress proxy (proxy.h): the state shared by its files. One
 * event loop owns everything here; nothing is thread-safe and nothing needs
 * to be.
 *
 *   proxy.c          the entry points: create, dispatch, answer, close_all,
 *                    free; calls made re-entrantly are deferred to the end
 *   proxy_conn.c     a connection's life: accept, epoll interest per state,
 *                    the event switch, timeouts, close
 *   proxy_request.c  the front ends: an HTTP request head (CONNECT or forward)
 *                    or a SOCKS5 greeting and request, into host:port
 *   proxy_decide.c   budget, lists (deny > ask > allow > default deny), the
 *                    gate, held connections and their answers, cuts
 *   proxy_connect.c  pins, IP literals, resolution, the address check, connect
 *   proxy_tunnel.c   the TLS SNI check, held bytes, the scan hook, splicing
 *   proxy_reply.c    replies and refusals to the client
 *   proxy_events.c   net.decision / net.progress / net.close events and byte
 *                    accounting
 *
 * A connection goes through:
 *   REQUEST    reading an HTTP head or a SOCKS5 greeting + request
 *   HELD       the gate said ask: nothing read, nothing resolved, until
 *              proxy_answer (or the client leaves, or the idle timeout)
 *   RESOLVING  waiting for c-ares (names that are neither pinned nor literals)
 *   CONNECTING non-blocking connect to the checked address (next on failure)
 *   SNI_WAIT   CONNECT/SOCKS: the first client bytes, held until the TLS
 *              ClientHello's server name is known
 *   TUNNEL     splice both ways (after flushing held bytes upstream)
 *   TERMINATED a credential's host: TLS terminated in a thread of
 *              net/terminate.c, which owns both sockets until its DONE report
 *   CLOSING    writing a final error reply, then close */
#ifndef REINS_NET_PROXY_INTERNAL_H
#define REINS_NET_PROXY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/account.h"
#include "net/addr.h"
#include "net/http.h"
#include "net/inject.h"
#include "net/proxy.h"
#include "net/resolve.h"
#include "net/rules.h"
#include "net/sni.h"
#include "net/terminate.h"
#include "net/socks5.h"
#include "net/tunnel.h"

#define PROXY_DEFAULT_IDLE_MS    (5 * 60 * 1000)
#define PROXY_DEFAULT_MAX_CONN   256
#define PROXY_REQUEST_TIMEOUT_MS 10000 /* to send a complete request head */
#define PROXY_REQUEST_BUSY_MS    2000  /* … once over half of the connections are open */
/* At the connection cap a new client is not left waiting behind idle ones:
 * the oldest connection that never sent a complete request head goes, else
 * the tunnel idle for longest, if it moved nothing for this long. Held,
 * resolving and connecting ones are never evicted (they have their own
 * timeouts, and a held one waits for a human). */
#define PROXY_EVICT_IDLE_MS 1000
/* Kernel buffers per connection, fixed (no autotuning, which grows a socket
 * that is not read to tcp_rmem/tcp_wmem's maximum: 200 tunnels whose client
 * never read held 2 GiB): the first PROXY_WIDE_CONNS open connections get
 * PROXY_WIDE_SOCKBUF per socket direction and NET_TUNNEL_PIPE_SIZE pipes,
 * the others PROXY_NARROW_SOCKBUF and the kernel's 64 KiB pipes. The kernel
 * doubles a socket's size for its bookkeeping (and caps it at
 * net.core.rmem_max / wmem_max). */
#define PROXY_WIDE_CONNS     16
#define PROXY_WIDE_SOCKBUF   (512 * 1024)
#define PROXY_NARROW_SOCKBUF (64 * 1024)
/* fds the supervisor keeps for itself whatever the proxy does: the proxy's
 * connection cap shrinks to fit RLIMIT_NOFILE without them */
#define PROXY_FD_RESERVE         64
#define PROXY_RESOLVE_TIMEOUT_MS 15000 /* c-ares gives up before this */
#define PROXY_CONNECT_TIMEOUT_MS 10000 /* per address */
#define PROXY_CLOSING_MS         5000  /* to take a refusal */
#define PROXY_BUF_MAX            (NET_HTTP_HEAD_MAX + NET_SNI_MAX_HELLO)
#define PROXY_BUF_INITIAL        4096
#define PROXY_REPLY_MAX          768
#define PROXY_ACCEPT_BATCH       64
#define PROXY_EVENT_BATCH        128
#define PROXY_TICK_MS            500
#define PROXY_FDS_PER_CONN       6
#define PROXY_REASON_MAX         256         /* a gate's or an answer's reason, copied */
#define PROXY_PROGRESS_MS        1000        /* net.progress: at most one a second per connection */
#define PROXY_PROGRESS_BYTES     (64 * 1024) /* … once this much more went up */

enum handle_kind {
        HANDLE_LISTEN,
        HANDLE_TIMER,
        HANDLE_RESOLVER,
        HANDLE_CLIENT,
        HANDLE_UPSTREAM,
        HANDLE_TERMINATOR, /* reports of the TLS-terminating threads */
};

struct proxy_conn;

/* One fd in the epoll set; epoll's data points here. */
struct proxy_handle {
        enum handle_kind kind;
        struct proxy_conn *conn;
        int fd;
        uint32_t events; /* registered interest */
        bool registered;
};

enum conn_state {
        CONN_REQUEST,
        CONN_HELD,
        CONN_RESOLVING,
        CONN_CONNECTING,
        CONN_SNI_WAIT,
        CONN_TUNNEL,
        CONN_CLOSING,
        CONN_TERMINATED, /* its sockets handed to the terminator's thread */
};

enum conn_protocol {
        PROTO_UNKNOWN,
        PROTO_CONNECT,
        PROTO_HTTP,
        PROTO_SOCKS5,
};

struct proxy_conn {
        struct proxy *proxy;
        uint64_t id;
        struct proxy_conn *next, *prev; /* live list, or the zombie list once dead */
        bool dead;
        enum conn_state state;
        enum conn_protocol protocol;
        struct proxy_handle client, upstream;
        uint64_t deadline_ms;
        uint64_t started_ms;
        uint64_t active_ms; /* the last time bytes moved (eviction picks the idlest) */
        bool wide;          /* one of the PROXY_WIDE_CONNS with big buffers */

        /* client bytes not yet consumed (request head, held TLS bytes) */
        char *in;
        size_t in_len, in_cap;
        /* a reply for the client (200, SOCKS replies, errors) */
        char reply[PROXY_REPLY_MAX];
        size_t reply_len, reply_off;
        /* bytes for upstream before the splice starts (forward head, held bytes) */
        char *out;
        size_t out_len, out_off;

        bool socks_greeted;
        char host[NET_HOST_MAX + 1];
        uint16_t port;
        const char *rule; /* pattern text owned by the proxy's rules */
        bool listed;      /* the lists were consulted: list_verdict is meaningful */
        enum proxy_verdict list_verdict;
        char gate_reason[PROXY_REASON_MAX]; /* the gate's (or the answer's) words */
        /* an answer that came while the proxy was busy, applied on the way out */
        bool answer_pending, answer_allow;
        char answer_reason[PROXY_REASON_MAX];
        size_t scan_left; /* plaintext bytes still to show gate->scan */
        long destination; /* account index, -1 before the decision */
        bool allowed;     /* an upstream connection was allowed */
        struct net_resolve_query *query;
        struct net_address addresses[NET_RESOLVE_MAX_ADDRESSES];
        size_t address_count, address_index;
        char address_text[64];
        struct net_tunnel tunnel;
        bool tunnel_ready;
        uint64_t bytes_up, bytes_down;
        /* moved since the last net.progress, when that went out, and how
         * much of bytes_up the net.progress events have reported */
        uint64_t progress_up, progress_down, progress_ms, reported_up;
        /* forward-proxy request head (kept until connected) */
        char *forward_head;
        size_t forward_head_len;
        /* credentials injected into this plain request: their placeholders
         * may appear in its body without being misuse */
        uint32_t injected;
        bool misused; /* a placeholder was found in its plaintext: closed for it */
};

struct proxy {
        int epoll_fd;
        struct proxy_handle listen, timer, resolver_handle;
        struct net_resolver *resolver;
        struct net_rules allow, deny, ask;
        struct proxy_gate gate;
        bool has_gate;
        uint64_t next_id;
        /* Re-entrancy: the gate and the event sinks may call proxy_answer or
         * proxy_close_all while the proxy is inside a callback. Those calls
         * are recorded and run when the outermost entry point leaves, so no
         * connection changes under the code that is handling it. */
        unsigned depth;
        bool close_all_pending;
        char close_all_reason[PROXY_REASON_MAX];
        bool answers_pending;       /* some connection may have answer_pending */
        unsigned char *scan_buffer; /* PROXY_SCAN_MAX, shared: one loop, one user at a time */
        struct net_pins pins;
        const struct net_inject *inject; /* NULL or empty: no credentials */
        struct net_terminator *terminator;
        struct proxy_handle terminator_handle;
        struct net_account account;
        struct event_bus *events;
        uint64_t idle_ms;
        unsigned max_connections;
        unsigned conn_count;
        unsigned wide_count;
        /* one fd kept open for the moment the process runs out (EMFILE):
         * closed to accept and close the waiting client, then reopened */
        int reserve_fd;
        /* caps hit, for the `limit` events and their summary at the end */
        uint64_t evicted, head_timeouts, refused_no_fd;
        bool cap_reported, fd_reported;
        bool accept_paused;
        bool timer_armed;
        uint64_t now_ms;
        struct proxy_conn *conns;   /* live */
        struct proxy_conn *zombies; /* closed this dispatch, freed at its end */
};

/* proxy_conn.c */
void proxy_handle_set(struct proxy *proxy, struct proxy_handle *h, uint32_t events);
void proxy_handle_close(struct proxy *proxy, struct proxy_handle *h);
void proxy_update_timer(struct proxy *proxy);
void proxy_update_accept(struct proxy *proxy);
void proxy_accept(struct proxy *proxy);
void proxy_tick(struct proxy *proxy);
void proxy_free_zombies(struct proxy *proxy);
/* Close now (idempotent): events, fds, then the zombie list until the end of
 * the dispatch, since events for it may still sit in the current batch. */
void proxy_conn_close(struct proxy_conn *c, const char *why);
/* Fix the kernel buffers of the client socket (upstream_fd -1: at accept,
 * narrow) or of both sockets (at connect: wide while PROXY_WIDE_CONNS are not
 * all taken). */
void proxy_conn_size_buffers(struct proxy_conn *c, int upstream_fd);
/* The `limit` summary (connections evicted, request heads timed out, clients
 * refused for want of fds), when any cap was hit. */
void proxy_emit_limits(struct proxy *proxy);
/* Register the epoll interest the connection's state needs. */
void proxy_conn_update_events(struct proxy_conn *c);
void proxy_conn_on_event(struct proxy_handle *h, uint32_t events);

/* proxy_request.c */
/* Read what the client has into c->in (bounded). 1: got bytes, 0: nothing
 * now, -1: EOF, -2: the connection was closed. */
int proxy_conn_read_in(struct proxy_conn *c);
void proxy_conn_consume_in(struct proxy_conn *c, size_t n);
void proxy_conn_on_request(struct proxy_conn *c);

/* proxy_decide.c */
void proxy_copy_reason(char *dst, const char *reason);
/* The request names host:port (normalized): decide, then proceed, refuse or hold. */
void proxy_conn_decide(struct proxy_conn *c);
/* A held connection's answer; anything else is ignored. */
void proxy_conn_answer(struct proxy_conn *c, bool allow, const char *reason);
/* The client of a held connection left: the gate forgets the question. */
void proxy_conn_abandon(struct proxy_conn *c, const char *why);
/* No answer within the idle timeout: refused. */
void proxy_conn_held_timeout(struct proxy_conn *c);
/* Egress is off: cut a connection past the gate or held at it. */
void proxy_conn_cut(struct proxy_conn *c, const char *reason);

/* proxy_connect.c */
/* The verdict is allow: find the addresses, check them, connect. */
void proxy_conn_proceed(struct proxy_conn *c);
void proxy_conn_connect_next(struct proxy_conn *c, int last_error);
void proxy_conn_on_connect_ready(struct proxy_conn *c);

/* proxy_tunnel.c */
void proxy_conn_start_tunnel(struct proxy_conn *c, bool plaintext);
void proxy_conn_check_sni(struct proxy_conn *c);
void proxy_conn_on_sni_wait(struct proxy_conn *c, bool client_ready, bool upstream_ready);
void proxy_conn_on_tunnel_event(struct proxy_conn *c, struct proxy_handle *h, uint32_t events);

/* proxy_inject.c */
/* Does this connection go to the terminator (CONNECT/SOCKS5 to a credential's host)? */
bool proxy_conn_terminates(const struct proxy_conn *c);
/* Hand the connected sockets over (after the 200 or SOCKS reply). */
void proxy_conn_terminate(struct proxy_conn *c);
/* A plain HTTP request's head through the credential rewrite: false when it
 * was refused (the connection is failing). */
bool proxy_conn_inject_plain(struct proxy_conn *c);
/* Plaintext bytes about to leave: a placeholder among them is misuse (the
 * event is emitted); true when one was found. */
bool proxy_conn_find_misuse(struct proxy_conn *c, const void *bytes, size_t len);
/* The terminator's reports: events, byte counts, the end of connections. */
void proxy_on_terminator(struct proxy *proxy);

/* proxy_reply.c */
/* Write what is pending for the client. -1: the client is gone (closed). */
int proxy_conn_flush_reply(struct proxy_conn *c);
bool proxy_conn_reply_pending(const struct proxy_conn *c);
void proxy_conn_queue_reply(struct proxy_conn *c, const void *data, size_t len);
/* Answer and close: the request is refused or failed. */
void proxy_conn_fail(struct proxy_conn *c, int http_status, enum net_socks5_reply socks,
                     const char *message);
void proxy_conn_deny(struct proxy_conn *c, const char *reason, const char *detail,
                     enum net_socks5_reply socks);
void proxy_conn_malformed(struct proxy_conn *c, int status, const char *why);

/* proxy_events.c */
const char *proxy_protocol_name(enum conn_protocol p);
/* net.decision: the final word ("allowed", "denied", "ask" while held), what
 * the lists said, the deciding rule, the reason code and text, and the
 * gate's reason when it gave one. */
void proxy_emit_verdict(struct proxy_conn *c, enum proxy_verdict verdict, const char *reason,
                        const char *detail);
void proxy_emit_decision(struct proxy_conn *c, bool allowed, const char *reason,
                         const char *detail);
/* net.close with the connection's byte counts (and bytes_up_reported, the
 * part of bytes_up its net.progress events already reported). */
void proxy_emit_close(struct proxy_conn *c, const char *why);
/* Count bytes moved; passing the egress budget turns egress off. */
void proxy_conn_account(struct proxy_conn *c, uint64_t up, uint64_t down);
/* net.progress with the bytes moved since the last one, when it is due
 * (PROXY_PROGRESS_MS and PROXY_PROGRESS_BYTES); the tick calls it too, for
 * a connection that went quiet. */
void proxy_conn_progress(struct proxy_conn *c);
/* Bytes the session may still send (UINT64_MAX without a budget). */
uint64_t proxy_budget_left(const struct proxy *proxy);

#endif

/* TLS termination for credential injection (issue 18), OpenSSL 3.
 *
 * Only CONNECTs to a host some credential names come here; every other
 * tunnel stays end-to-end TLS, spliced. A session has one CA (an EC P-256
 * key made in memory, never written anywhere; the certificate is
 * name-constrained to the credentials' hosts, so even its key could vouch
 * for nothing else) and mints one leaf certificate per host, cached. The
 * upstream certificate is verified against the host's trust store
 * (OpenSSL's defaults: SSL_CERT_FILE / SSL_CERT_DIR when set in reins'
 * environment, else the system bundle) and the host name; a failure is a
 * 502 to the agent naming the reason, never a connection made anyway.
 *
 * Each terminated connection runs in a thread of its own with blocking I/O
 * (the proxy's loop stays single-threaded: the thread touches only its two
 * sockets, the read-only credential table and the leaf cache under a
 * mutex). What the proxy must record (a credential injected, a placeholder
 * misused, a refusal, the end with byte counts) is queued as reports, and
 * an eventfd wakes the proxy's loop to emit them as events there.
 *
 * ALPN: the upstream is connected while the agent's ClientHello is read
 * and offered h2 when the agent offered it; the agent gets h2 only when the
 * upstream took it, else http/1.1 both ways. On h2, two nghttp2 sessions
 * (server towards the agent, client towards the upstream) and each
 * stream's HEADERS go through net_inject_rewrite (net/h2head.h). Responses
 * are relayed as they arrive, never buffered (server-sent events stream). */
#ifndef REINS_NET_TERMINATE_H
#define REINS_NET_TERMINATE_H

#include <stddef.h>
#include <stdint.h>

#include "net/inject.h"
#include "util/error.h"

struct net_terminator;

enum net_terminate_report_kind {
        NET_TERMINATE_INJECTED,     /* credential set in a request */
        NET_TERMINATE_MISUSE,       /* a placeholder sent where it may not go: refused */
        NET_TERMINATE_REFUSED,      /* a request refused (status, detail) */
        NET_TERMINATE_UPSTREAM_TLS, /* the upstream's certificate was not trusted */
        NET_TERMINATE_PROGRESS,     /* bytes moved since the last report (64 KiB or more) */
        NET_TERMINATE_DONE,         /* the connection ended: the bytes not yet reported; last */
};

struct net_terminate_report {
        enum net_terminate_report_kind kind;
        uint64_t conn_id;
        char host[NET_HOST_MAX + 1];
        uint16_t port;
        char credential[NET_INJECT_NAME_MAX + 1];
        char method[24];
        char path[NET_INJECT_PATH_MAX];
        char detail[256];
        int status;
        uint64_t bytes_up, bytes_down; /* PROGRESS, DONE: plaintext bytes each way since the
                                          last report */
};

/* `inject` is borrowed and must outlive the terminator. */
int net_terminator_new(const struct net_inject *inject, const char *label,
                       struct net_terminator **out, struct reins_error *err);
/* The CA certificate, PEM (for the sandbox's bundle). */
const char *net_terminator_ca_pem(const struct net_terminator *t);
/* Readable when reports wait. */
int net_terminator_fd(const struct net_terminator *t);
/* Take the two connected sockets (and bytes already read from the client)
 * and terminate in a thread. 0, or -errno (the fds are then still the
 * caller's). */
int net_terminator_start(struct net_terminator *t, uint64_t conn_id, int client_fd, int upstream_fd,
                         const char *host, uint16_t port, const void *held, size_t held_len);
/* Reports waiting, at most max; finished threads are joined. */
size_t net_terminator_drain(struct net_terminator *t, struct net_terminate_report *out, size_t max);
/* End a connection now (its sockets are shut down; its DONE report follows). */
void net_terminator_cut(struct net_terminator *t, uint64_t conn_id);
/* Cut everything, join every thread, free. */
void net_terminator_free(struct net_terminator *t);

#endif

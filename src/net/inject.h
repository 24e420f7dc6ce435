/* Credential injection in the egress proxy (issue 18): the agent holds a
 * placeholder (`reins-cred-NAME-<32 hex>`), the proxy holds the secret.
 * This file is pure (buffers in, buffers out, no I/O): which hosts need TLS
 * termination, the rewrite of one HTTP/1.1 request head (the credential's
 * header or query parameter set, whatever the client sent in it removed,
 * placeholders swapped only for a credential whose host and path prefix
 * match), the search for placeholders sent anywhere else, and the framing of
 * a request body (Content-Length or chunked) so that every request of a
 * kept-alive connection is rewritten, none smuggled through as a body.
 *
 * Attack surface: every byte here comes from the agent. Heads are bounded
 * (NET_HTTP_HEAD_MAX), obsolete line folding, bare CR or LF, a head with
 * both Content-Length and Transfer-Encoding, and dot segments under a
 * path-prefix credential are refused rather than interpreted. */
#ifndef REINS_NET_INJECT_H
#define REINS_NET_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/rules.h"
#include "util/error.h"

#define NET_INJECT_MAX             32 /* credentials per session */
#define NET_INJECT_NAME_MAX        32
#define NET_INJECT_PLACEHOLDER_MAX (11 + NET_INJECT_NAME_MAX + 1 + 32 + 1) /* + NUL */
#define NET_INJECT_SECRET_MAX      8192
#define NET_INJECT_PATH_MAX        256 /* of a path kept for an event */
#define NET_INJECT_HOSTS_MAX       16  /* patterns per credential */

enum net_inject_how {
        NET_INJECT_BEARER = 0, /* Authorization: Bearer SECRET */
        NET_INJECT_BASIC,      /* Authorization: Basic base64(SECRET) */
        NET_INJECT_HEADER,     /* NAME: SECRET */
        NET_INJECT_QUERY,      /* ?NAME=SECRET, percent-encoded */
        NET_INJECT_SWAP,       /* nothing set: only placeholders swapped where they are */
};

struct net_inject_host {
        struct net_rule rule; /* host and optional port; no port: 443 (and 80 if plaintext) */
        char path[NET_INJECT_PATH_MAX]; /* "" or the prefix, starting with '/' */
};

struct net_inject_credential {
        char name[NET_INJECT_NAME_MAX + 1];
        char placeholder[NET_INJECT_PLACEHOLDER_MAX];
        size_t placeholder_len;
        char *secret; /* the value sent (BASIC: "user:password", encoded here) */
        size_t secret_len;
        /* what replaces the placeholder where the client put it: the secret,
         * or for a masked JWT only its signature (the agent's copy keeps the
         * real header and claims: "HEADER.CLAIMS.<placeholder>") */
        const char *swap;
        size_t swap_len;
        struct net_inject_host hosts[NET_INJECT_HOSTS_MAX];
        size_t host_count;
        enum net_inject_how how;
        char how_name[65]; /* HEADER, QUERY */
        bool plaintext;    /* may go into plain http:// requests */
};

/* The agent's identity for a request to an `identity.hosts` host: writes a
 * signed assertion (a JWS, text) into out; its length, or <0. Called from
 * the terminator's threads: must be thread-safe. */
typedef int (*net_identity_sign_fn)(void *ctx, const char *host, uint16_t port, const char *method,
                                    const char *path, char *out, size_t out_size);

#define NET_IDENTITY_HEADER "Reins-Agent-Assertion"
#define NET_IDENTITY_MAX    4096 /* bytes of one assertion */

struct net_inject {
        struct net_inject_credential items[NET_INJECT_MAX];
        size_t count;
        /* identity.hosts, and who signs for them (NULL: no assertions) */
        struct net_inject_host identity[NET_INJECT_HOSTS_MAX];
        size_t identity_count;
        net_identity_sign_fn sign;
        void *sign_ctx;
};

/* identity.hosts patterns (host[:port][/path]). -EINVAL with err. */
int net_inject_add_identity(struct net_inject *inject, const char *const *hosts, size_t count,
                            struct reins_error *err);

/* Add one credential; `hosts` are policy patterns host[:port][/path]. The
 * secret is copied (and wiped at net_inject_clear); a JWT's placeholder swaps
 * for its signature alone (`jwt_prefix`, net_inject_jwt_prefix). -EINVAL with err for a
 * secret holding CR, LF or NUL (it would split the head), a bad pattern. */
int net_inject_add(struct net_inject *inject, const char *name, const char *placeholder,
                   const char *secret, size_t secret_len, const char *const *hosts,
                   size_t host_count, enum net_inject_how how, const char *how_name, bool plaintext,
                   size_t jwt_prefix, struct reins_error *err);
/* A JWT (three base64url parts, the first a JSON header): the length of
 * "HEADER.CLAIMS." that may stay readable, else 0. */
size_t net_inject_jwt_prefix(const char *secret, size_t len);
/* Memory for a secret: pages of its own, not inherited across fork
 * (MADV_DONTFORK) nor dumped; net_secret_free wipes and unmaps. */
void *net_secret_alloc(size_t size);
void net_secret_free(void *p, size_t size);
/* Wipe the secrets (sodium_memzero) and free them. */
void net_inject_clear(struct net_inject *inject);

/* Must a CONNECT to host:port be terminated (some credential names it)? */
bool net_inject_terminates(const struct net_inject *inject, const char *host, uint16_t port);

/* The first credential whose placeholder occurs in bytes, or -1. */
int net_inject_find_placeholder(const struct net_inject *inject, const void *bytes, size_t len);

/* What net_inject_rewrite found, for the proxy's events and refusals. */
struct net_inject_report {
        int status;        /* 0: forward `out`; else the HTTP status to refuse with */
        const char *why;   /* with status */
        int misuse;        /* a credential whose placeholder was sent where it may not go, or -1 */
        uint32_t injected; /* bit i: credential i was set in this request */
        bool asserted;     /* the agent's identity assertion was added */
        char method[24];
        char path[NET_INJECT_PATH_MAX]; /* the request's path, cut at NET_INJECT_PATH_MAX-1 */
        size_t head_len;                /* input bytes the head took */
        /* the body that follows: its framing */
        bool chunked;
        uint64_t content_length;
};

/* Rewrite the request head at the start of `in` (origin-form, HTTP/1.1)
 * bound for host:port, `tls` saying whether the hop to the agent was TLS.
 * NET_HTTP_INCOMPLETE: need more bytes. 0: report filled; when
 * report->status is 0, *out (caller frees, NUL-terminated) is the head to send upstream. -ENOMEM.
 */
int net_inject_rewrite(const struct net_inject *inject, const char *host, uint16_t port, bool tls,
                       const char *in, size_t len, char **out, size_t *out_len,
                       struct net_inject_report *report);

/* A request body's framing, followed across reads. */
struct net_inject_body {
        enum {
                NET_BODY_LENGTH,     /* `left` bytes of body */
                NET_BODY_CHUNK_SIZE, /* reading a chunk-size line */
                NET_BODY_CHUNK_DATA, /* `left` bytes of chunk data */
                NET_BODY_CHUNK_CRLF, /* the CRLF after chunk data: `left` bytes of it */
                NET_BODY_TRAILER,    /* the empty line after the last chunk (no trailer fields) */
                NET_BODY_DONE,
        } state;
        uint64_t left;   /* body or chunk bytes; the chunk size being read */
        size_t line_len; /* bytes of the current chunk-size line so far */
        unsigned digits; /* of the chunk size */
        bool cr;         /* a CR was read: only LF may follow */
        bool ext;        /* past the size: extensions */
};

void net_inject_body_start(struct net_inject_body *body, bool chunked, uint64_t content_length);
/* Consume body bytes: *used (<= len) of `bytes` belong to this body. 1: the
 * body is complete (bytes past *used start the next request), 0: more is
 * needed, -EINVAL: malformed framing (the connection must end). */
int net_inject_body_step(struct net_inject_body *body, const char *bytes, size_t len, size_t *used);

#endif

/* The daemon's outgoing connections (SIEM forwarding, webhooks): TCP with
 * deadlines, a minimal HTTP/1.1 POST over TCP or TLS (serve/tls_client.h),
 * and "has the peer's TCP taken every byte" -- what a syslog stream, which
 * has no acknowledgement of its own, can know. Nothing here blocks longer
 * than the deadline it is given. */
#ifndef REINS_SERVE_OUTBOUND_H
#define REINS_SERVE_OUTBOUND_H

#include <stddef.h>

#include "serve/tls_client.h"
#include "util/error.h"

/* A connected TCP socket (close-on-exec), or -errno. */
int outbound_connect(const char *host, const char *port, int timeout_ms);
/* Write all of `data`; -errno (-ETIMEDOUT past the deadline). */
int outbound_send_all(int fd, const void *data, size_t length, int timeout_ms);
/* Wait until the peer's TCP acknowledged every byte written (SIOCOUTQ 0)
 * and then `settle_ms` passed without the connection being reset: a
 * receiver that dies with bytes it never read resets the connection, one
 * that read them all closes it in order. 0: taken, connection open; 1:
 * taken, the peer closed; -errno: not known to be taken. */
int outbound_wait_acked(int fd, int settle_ms, int timeout_ms);
/* Where an HTTP POST goes: http://host:port/path, or https:// when `tls`
 * is set (the certificate verified for `server_name`, else for `host`). */
struct outbound_endpoint {
        const char *host, *port, *path;
        struct serve_tls_client *tls; /* NULL: plain HTTP */
        const char *server_name;
};

/* POST `body` to `to` with `headers` (CRLF-terminated lines, may be NULL);
 * *status gets the response's status code. The response is read up to its
 * header block (at most 64 KiB) and dropped. -errno with err set (a TLS
 * failure says which: the certificate, the name, the handshake). */
int outbound_http_post(const struct outbound_endpoint *to, const char *headers,
                       const char *content_type, const char *body, size_t length, int timeout_ms,
                       int *status, struct reins_error *err);

#endif

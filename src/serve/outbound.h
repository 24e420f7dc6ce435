/* The daemon's outgoing connections (SIEM forwarding, webhooks): TCP with
 * deadlines, a minimal HTTP/1.1 POST, and "has the peer's TCP taken every
 * byte" -- what a syslog stream, which has no acknowledgement of its own,
 * can know. Nothing here blocks longer than the deadline it is given. */
#ifndef REINS_SERVE_OUTBOUND_H
#define REINS_SERVE_OUTBOUND_H

#include <stddef.h>

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
/* POST `body` to http://host:port/path with `headers` (CRLF-terminated
 * lines, may be NULL); *status gets the response's status code. The
 * response body is read (at most 64 KiB) and dropped. */
int outbound_http_post(const char *host, const char *port, const char *path, const char *headers,
                       const char *content_type, const char *body, size_t length, int timeout_ms,
                       int *status);

#endif

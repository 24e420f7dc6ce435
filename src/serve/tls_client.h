/* TLS for the daemon's outgoing connections -- syslog (RFC 5425), and the
 * https:// targets: Splunk HEC, Elasticsearch bulk, webhooks -- with GnuTLS
 * opened at run time like libmicrohttpd (serve/mhd.h): GnuTLS is already
 * what the daemon loads for its own HTTPS listener, so a TLS receiver costs
 * no second TLS library, and no other reins command pays GnuTLS's start-up.
 * The receiver's certificate is verified against a configured CA file, or
 * the system's trust store, and the configured name (the URL's host by
 * default); a failure is a refused connection that says why, never a
 * plain-text fallback. */
#ifndef REINS_SERVE_TLS_CLIENT_H
#define REINS_SERVE_TLS_CLIENT_H

#include <stddef.h>

#include "util/error.h"

#define SERVE_GNUTLS_SONAME "libgnutls.so.30"

struct serve_tls_client;

/* Open GnuTLS (once per target) with the CA file's certificates, or with
 * the system's trust store when `ca_file` is NULL. */
int serve_tls_client_new(const char *ca_file, struct serve_tls_client **out,
                         struct reins_error *err);
void serve_tls_client_free(struct serve_tls_client *c);

/* Handshake on the connected `fd` (not taken), verifying `server_name`.
 * Returns a session handle (opaque) or NULL with err. */
void *serve_tls_client_handshake(struct serve_tls_client *c, int fd, const char *server_name,
                                 int timeout_ms, struct reins_error *err);
/* The same on a socket from outbound_connect (non-blocking): made blocking
 * with send and receive timeouts of `timeout_ms` first (GnuTLS reads and
 * writes the socket itself), then the handshake. */
void *serve_tls_client_start(struct serve_tls_client *c, int fd, const char *server_name,
                             int timeout_ms, struct reins_error *err);
/* Write all of `data` through the session; -errno. */
int serve_tls_client_send(struct serve_tls_client *c, void *session, const void *data,
                          size_t length);
/* Read at most `size` bytes: their count, 0 at the end of the stream,
 * -EAGAIN when the socket's receive timeout passed, else -errno. */
long serve_tls_client_recv(struct serve_tls_client *c, void *session, void *buffer, size_t size);
/* End and free the session (the fd stays open: the caller closes it). */
void serve_tls_client_close(struct serve_tls_client *c, void *session);

#endif

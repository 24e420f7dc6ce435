/* The HTTP/1.x side of the proxy: parse a request head (CONNECT with an
 * authority, or an absolute http:// URI to forward), rebuild the head sent
 * upstream without hop-by-hop headers, and format the proxy's own error
 * responses. Pure: works on buffers, no I/O. */
#ifndef REINS_NET_HTTP_H
#define REINS_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/rules.h"

#define NET_HTTP_LINE_MAX    8192  /* request line or one header line; over: 414 / 431 */
#define NET_HTTP_HEAD_MAX    32768 /* the whole head; over: 431 */
#define NET_HTTP_HEADERS_MAX 100   /* header fields; over: 431 */

#define NET_HTTP_INCOMPLETE 1 /* parse result: need more bytes */

enum net_http_kind {
        NET_HTTP_CONNECT, /* CONNECT host:port: a tunnel */
        NET_HTTP_FORWARD, /* METHOD http://host[:port]/path: forwarded */
};

struct net_http_header {
        const char *name;
        size_t name_len;
        const char *value;
        size_t value_len;
};

struct net_http_request {
        enum net_http_kind kind;
        char method[24];
        char host[NET_HOST_MAX + 1]; /* normalized (see net_host_normalize) */
        uint16_t port;
        const char *path; /* FORWARD: origin-form ("/x?y"), points into the buffer */
        size_t path_len;
        struct net_http_header headers[NET_HTTP_HEADERS_MAX];
        size_t header_count;
        size_t head_len; /* bytes up to and including the blank line */
};

/* 0: a complete, valid head in `req` (pointers into buf); NET_HTTP_INCOMPLETE;
 * or the HTTP status to answer (400, 414, 431) with *why. */
int net_http_parse_request(const char *buf, size_t len, struct net_http_request *req,
                           const char **why);

/* The head to send upstream for a FORWARD request: origin-form target, Host
 * from the URI, hop-by-hop headers (Connection and the fields it names,
 * Proxy-*, Keep-Alive, TE, Trailer, Upgrade) removed, "Connection: close".
 * Transfer-Encoding stays: the body is relayed byte for byte, so its framing
 * is the client's. Caller frees *out. 0 or -ENOMEM. */
int net_http_forward_head(const struct net_http_request *req, char **out, size_t *out_len);

const char *net_http_reason(int status);
/* A complete response with a text body and "Connection: close"; returns the
 * length written (truncated body if out is small). */
size_t net_http_response(int status, const char *body, char *out, size_t out_size);

#endif

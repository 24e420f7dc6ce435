/* HTTP/2 request headers <-> an HTTP/1.1 request head, so that the
 * terminating proxy applies net/inject.c's rules (one place for them) to
 * every HEADERS frame of a stream as to an HTTP/1.1 head. Pure: buffers in,
 * buffers out.
 *
 * Attack surface: the fields come from the agent (decoded by nghttp2, which
 * already refuses upper-case names, connection-specific fields and CR, LF or
 * NUL in values); they are checked again here, and a head is bounded by
 * NET_HTTP_HEAD_MAX. */
#ifndef REINS_NET_H2HEAD_H
#define REINS_NET_H2HEAD_H

#include <stddef.h>
#include <stdint.h>

#define NET_H2_FIELDS_MAX 256 /* header fields of one request or response */

struct net_h2_field {
        const uint8_t *name, *value;
        size_t name_len, value_len;
};

/* An HTTP/1.1 head ("METHOD PATH HTTP/1.1", Host from :authority, the
 * other fields as they are, the empty line) for the request `fields`, into
 * out (NUL-terminated); its length, or -EINVAL (no :method or :path, a
 * CONNECT, a byte that would split the head), -E2BIG (over size). */
int net_h2_head_from_fields(const struct net_h2_field *fields, size_t count, char *out,
                            size_t size);

/* The fields for HTTP/2 of the (rewritten) head in `head` (modified in place:
 * names lower-cased; the fields point into it): :method, :scheme https,
 * :authority (from Host), :path, then the others without hop-by-hop ones
 * (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade, TE
 * other than "trailers"). Their number, or -EINVAL, -E2BIG (over max). */
int net_h2_fields_from_head(char *head, size_t len, struct net_h2_field *out, size_t max);

#endif

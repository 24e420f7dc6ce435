/* Server Name Indication from the first bytes a client sends through a
 * tunnel. Only as much TLS as that needs: record framing (a ClientHello may
 * span several records), the ClientHello fields before the extensions, and
 * the server_name extension. Pure; never reads past `len`. */
#ifndef REINS_NET_SNI_H
#define REINS_NET_SNI_H

#include <stddef.h>
#include <stdint.h>

/* A ClientHello longer than this is refused as malformed (real ones are
 * well under 8 KiB, even with post-quantum key shares). */
#define NET_SNI_MAX_HELLO 16384

enum net_sni_result {
        NET_SNI_NOT_TLS,   /* first bytes are not a TLS handshake record: not our business */
        NET_SNI_NEED_MORE, /* TLS so far, but the ClientHello is not complete yet */
        NET_SNI_FOUND,     /* `out` holds the host name (lower case) */
        NET_SNI_ABSENT,    /* a complete ClientHello without server_name */
        NET_SNI_MALFORMED, /* TLS, but broken or over the limits */
};

enum net_sni_result net_sni_parse(const uint8_t *buf, size_t len, char *out, size_t out_size);

#endif

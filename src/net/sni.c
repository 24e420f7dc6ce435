/* TLS ClientHello → SNI (RFC 8446 §4.1.2, RFC 6066 §3). The caller compares
 * the name with the CONNECT host: a tunnel opened for an allowed name must
 * not carry a TLS session to another virtual host on the same address
 * (domain fronting through a shared CDN IP). */
#include "net/sni.h"

#include <ctype.h>
#include <string.h>

#define TLS_RECORD_HANDSHAKE       22
#define TLS_HANDSHAKE_CLIENT_HELLO 1
#define TLS_EXT_SERVER_NAME        0
#define TLS_SNI_HOST_NAME          0

struct reader {
        const uint8_t *p;
        size_t left;
        int bad;
};

static unsigned read_u8(struct reader *r)
{
        if (r->left < 1) {
                r->bad = 1;
                return 0;
        }
        r->left--;
        return *r->p++;
}

static unsigned read_u16(struct reader *r)
{
        unsigned hi = read_u8(r);
        return (hi << 8) | read_u8(r);
}

static const uint8_t *skip(struct reader *r, size_t n)
{
        if (r->left < n) {
                r->bad = 1;
                return NULL;
        }
        const uint8_t *at = r->p;
        r->p += n;
        r->left -= n;
        return at;
}

/* The server_name extension body: a list of (type, name); only host_name
 * (type 0) exists. More than one host_name is forbidden (RFC 6066). */
static enum net_sni_result parse_server_name(struct reader *ext, char *out, size_t out_size)
{
        size_t list_len = read_u16(ext);
        if (ext->bad || list_len != ext->left || list_len == 0)
                return NET_SNI_MALFORMED;
        int found = 0;
        while (ext->left > 0) {
                unsigned type = read_u8(ext);
                size_t name_len = read_u16(ext);
                const uint8_t *name = skip(ext, name_len);
                if (ext->bad)
                        return NET_SNI_MALFORMED;
                if (type != TLS_SNI_HOST_NAME)
                        continue;
                if (found++ || name_len == 0 || name_len >= out_size)
                        return NET_SNI_MALFORMED;
                for (size_t i = 0; i < name_len; i++) {
                        /* a NUL or control byte would let "allowed.com\0evil"
                         * compare differently here and at the server */
                        if (name[i] <= 0x20 || name[i] >= 0x7F)
                                return NET_SNI_MALFORMED;
                        out[i] = (char)tolower(name[i]);
                }
                out[name_len] = '\0';
        }
        return found ? NET_SNI_FOUND : NET_SNI_MALFORMED;
}

static enum net_sni_result parse_client_hello(const uint8_t *hello, size_t len, char *out,
                                              size_t out_size)
{
        struct reader r = {hello, len, 0};
        skip(&r, 2);           /* legacy_version */
        skip(&r, 32);          /* random */
        skip(&r, read_u8(&r)); /* legacy_session_id */
        size_t suites = read_u16(&r);
        if (suites == 0 || suites % 2)
                return NET_SNI_MALFORMED;
        skip(&r, suites);
        size_t methods = read_u8(&r);
        if (methods == 0)
                return NET_SNI_MALFORMED;
        skip(&r, methods);
        if (r.bad)
                return NET_SNI_MALFORMED;
        if (r.left == 0)
                return NET_SNI_ABSENT; /* no extensions at all (SSLv3-style hello) */
        size_t ext_total = read_u16(&r);
        if (r.bad || ext_total != r.left)
                return NET_SNI_MALFORMED;
        enum net_sni_result result = NET_SNI_ABSENT;
        while (r.left > 0) {
                unsigned type = read_u16(&r);
                size_t ext_len = read_u16(&r);
                const uint8_t *body = skip(&r, ext_len);
                if (r.bad)
                        return NET_SNI_MALFORMED;
                if (type != TLS_EXT_SERVER_NAME)
                        continue;
                if (result != NET_SNI_ABSENT)
                        return NET_SNI_MALFORMED; /* duplicate extension */
                struct reader ext = {body, ext_len, 0};
                result = parse_server_name(&ext, out, out_size);
                if (result == NET_SNI_MALFORMED)
                        return result;
        }
        return result;
}

enum net_sni_result net_sni_parse(const uint8_t *buf, size_t len, char *out, size_t out_size)
{
        if (out_size)
                out[0] = '\0';
        if (len == 0)
                return NET_SNI_NEED_MORE;
        if (buf[0] != TLS_RECORD_HANDSHAKE)
                return NET_SNI_NOT_TLS;
        /* record header: type, version (3.x), length; a first byte of 0x16
         * followed by anything else is not TLS either */
        if (len >= 2 && buf[1] != 3)
                return NET_SNI_NOT_TLS;

        /* gather the handshake bytes across records into `hello` */
        uint8_t hello[NET_SNI_MAX_HELLO + 4];
        size_t have = 0, need = 0; /* need: 4 + handshake length, once known */
        size_t pos = 0;
        while (1) {
                if (len - pos < 5)
                        return NET_SNI_NEED_MORE;
                const uint8_t *rec = buf + pos;
                if (rec[0] != TLS_RECORD_HANDSHAKE || rec[1] != 3)
                        return NET_SNI_MALFORMED;
                size_t rec_len = ((size_t)rec[3] << 8) | rec[4];
                if (rec_len == 0 || rec_len > 16384 + 2048)
                        return NET_SNI_MALFORMED;
                size_t avail = len - pos - 5;
                size_t take = avail < rec_len ? avail : rec_len;
                if (have + take > sizeof(hello))
                        return NET_SNI_MALFORMED;
                memcpy(hello + have, rec + 5, take);
                have += take;
                if (need == 0 && have >= 4) {
                        if (hello[0] != TLS_HANDSHAKE_CLIENT_HELLO)
                                return NET_SNI_MALFORMED;
                        need = 4 + (((size_t)hello[1] << 16) | ((size_t)hello[2] << 8) | hello[3]);
                        if (need > NET_SNI_MAX_HELLO || need < 4 + 38)
                                return NET_SNI_MALFORMED;
                }
                if (need && have >= need)
                        break;
                if (take < rec_len)
                        return NET_SNI_NEED_MORE;
                pos += 5 + rec_len;
        }
        return parse_client_hello(hello + 4, need - 4, out, out_size);
}

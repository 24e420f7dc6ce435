#include "workspace/gitformat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- SHA-1 (FIPS 180-4), only to name blobs the way git does ----------- */

struct git_sha1_state {
        uint32_t h[5];
        uint8_t block[64];
        size_t used;
        uint64_t total;
};

static uint32_t git_rol(uint32_t x, int n)
{
        return (x << n) | (x >> (32 - n));
}

static void git_sha1_block(struct git_sha1_state *s, const uint8_t *p)
{
        uint32_t w[80];
        for (int i = 0; i < 16; i++)
                w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
                       (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
        for (int i = 16; i < 80; i++)
                w[i] = git_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
        for (int i = 0; i < 80; i++) {
                uint32_t f, k;
                if (i < 20) {
                        f = (b & c) | (~b & d);
                        k = 0x5a827999;
                } else if (i < 40) {
                        f = b ^ c ^ d;
                        k = 0x6ed9eba1;
                } else if (i < 60) {
                        f = (b & c) | (b & d) | (c & d);
                        k = 0x8f1bbcdc;
                } else {
                        f = b ^ c ^ d;
                        k = 0xca62c1d6;
                }
                uint32_t t = git_rol(a, 5) + f + e + k + w[i];
                e = d;
                d = c;
                c = git_rol(b, 30);
                b = a;
                a = t;
        }
        s->h[0] += a;
        s->h[1] += b;
        s->h[2] += c;
        s->h[3] += d;
        s->h[4] += e;
}

static void git_sha1_init(struct git_sha1_state *s)
{
        static const uint32_t init[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
                                         0xc3d2e1f0};
        memcpy(s->h, init, sizeof(init));
        s->used = 0;
        s->total = 0;
}

static void git_sha1_update(struct git_sha1_state *s, const void *data, size_t length)
{
        const uint8_t *p = data;
        s->total += length;
        while (length > 0) {
                size_t take = 64 - s->used < length ? 64 - s->used : length;
                memcpy(s->block + s->used, p, take);
                s->used += take;
                p += take;
                length -= take;
                if (s->used == 64) {
                        git_sha1_block(s, s->block);
                        s->used = 0;
                }
        }
}

static void git_sha1_final(struct git_sha1_state *s, uint8_t digest[20])
{
        uint64_t bits = s->total * 8;
        uint8_t pad = 0x80;
        git_sha1_update(s, &pad, 1);
        pad = 0;
        while (s->used != 56)
                git_sha1_update(s, &pad, 1);
        uint8_t len[8];
        for (int i = 0; i < 8; i++)
                len[i] = (uint8_t)(bits >> (56 - 8 * i));
        git_sha1_update(s, len, 8);
        for (int i = 0; i < 5; i++)
                for (int j = 0; j < 4; j++)
                        digest[4 * i + j] = (uint8_t)(s->h[i] >> (24 - 8 * j));
}

void git_sha1(const void *data, size_t length, uint8_t digest[20])
{
        struct git_sha1_state s;
        git_sha1_init(&s);
        git_sha1_update(&s, data, length);
        git_sha1_final(&s, digest);
}

void git_blob_id(const char *data, size_t length, char hex[41])
{
        char header[32];
        int n = snprintf(header, sizeof(header), "blob %zu", length);
        struct git_sha1_state s;
        uint8_t digest[20];
        git_sha1_init(&s);
        git_sha1_update(&s, header, (size_t)n + 1); /* with its NUL */
        git_sha1_update(&s, data, length);
        git_sha1_final(&s, digest);
        for (int i = 0; i < 20; i++)
                snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

/* ---- names ----------------------------------------------------------------- */

bool git_path_needs_quotes(const char *name)
{
        for (const unsigned char *p = (const unsigned char *)name; *p; p++)
                if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
                        return true;
        return false;
}

static void git_write_quoted_bytes(FILE *out, const char *s)
{
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                switch (*p) {
                case '\a':
                        fputs("\\a", out);
                        break;
                case '\b':
                        fputs("\\b", out);
                        break;
                case '\t':
                        fputs("\\t", out);
                        break;
                case '\n':
                        fputs("\\n", out);
                        break;
                case '\v':
                        fputs("\\v", out);
                        break;
                case '\f':
                        fputs("\\f", out);
                        break;
                case '\r':
                        fputs("\\r", out);
                        break;
                case '"':
                        fputs("\\\"", out);
                        break;
                case '\\':
                        fputs("\\\\", out);
                        break;
                default:
                        if (*p < 0x20 || *p >= 0x7f)
                                fprintf(out, "\\%03o", *p);
                        else
                                fputc(*p, out);
                }
        }
}

void git_write_path(FILE *out, const char *prefix, const char *name)
{
        if (!git_path_needs_quotes(prefix) && !git_path_needs_quotes(name)) {
                fputs(prefix, out);
                fputs(name, out);
                return;
        }
        fputc('"', out);
        git_write_quoted_bytes(out, prefix);
        git_write_quoted_bytes(out, name);
        fputc('"', out);
}

/* ---- binary literals ------------------------------------------------------- */

static const char git_base85_alphabet[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";

size_t git_base85_encode(char *out, const uint8_t *data, size_t length)
{
        size_t n = 0;
        for (size_t i = 0; i < length; i += 4) {
                uint32_t v = 0;
                for (size_t j = 0; j < 4; j++)
                        v = v << 8 | (i + j < length ? data[i + j] : 0);
                for (int j = 4; j >= 0; j--) {
                        out[n + (size_t)j] = git_base85_alphabet[v % 85];
                        v /= 85;
                }
                n += 5;
        }
        return n;
}

/* A zlib stream made of stored (uncompressed) deflate blocks: valid for any
 * inflater, and needs no compression library. */
static uint8_t *git_zlib_stored(const char *data, size_t length, size_t *out_length)
{
        size_t blocks = length / 65535 + 1;
        size_t size = 2 + blocks * 5 + length + 4;
        uint8_t *z = malloc(size);
        if (!z)
                return NULL;
        size_t n = 0;
        z[n++] = 0x78; /* deflate, 32 KiB window */
        z[n++] = 0x01; /* no dictionary, fastest; (0x7801 % 31 == 0) */
        size_t pos = 0;
        do {
                size_t take = length - pos > 65535 ? 65535 : length - pos;
                bool last = pos + take == length;
                z[n++] = last ? 1 : 0; /* BFINAL, BTYPE 00 = stored */
                z[n++] = (uint8_t)(take & 0xff);
                z[n++] = (uint8_t)(take >> 8);
                z[n++] = (uint8_t)(~take & 0xff);
                z[n++] = (uint8_t)((~take >> 8) & 0xff);
                memcpy(z + n, data + pos, take);
                n += take;
                pos += take;
        } while (pos < length);
        uint32_t a = 1, b = 0; /* Adler-32 */
        for (size_t i = 0; i < length; i++) {
                a = (a + (uint8_t)data[i]) % 65521;
                b = (b + a) % 65521;
        }
        uint32_t adler = b << 16 | a;
        z[n++] = (uint8_t)(adler >> 24);
        z[n++] = (uint8_t)(adler >> 16);
        z[n++] = (uint8_t)(adler >> 8);
        z[n++] = (uint8_t)adler;
        *out_length = n;
        return z;
}

int git_write_binary_literal(FILE *out, const char *data, size_t length)
{
        size_t zlen;
        uint8_t *z = git_zlib_stored(data, length, &zlen);
        if (!z)
                return -ENOMEM;
        fprintf(out, "literal %zu\n", length);
        char line[80];
        for (size_t pos = 0; pos < zlen; pos += 52) {
                size_t take = zlen - pos > 52 ? 52 : zlen - pos;
                /* line length: A-Z for 1-26 bytes, a-z for 27-52 */
                fputc(take <= 26 ? (int)('A' + take - 1) : (int)('a' + take - 27), out);
                size_t n = git_base85_encode(line, z + pos, take);
                fwrite(line, 1, n, out);
                fputc('\n', out);
        }
        free(z);
        return 0;
}

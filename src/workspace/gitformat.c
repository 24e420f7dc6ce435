#include "workspace/gitformat.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "util/digest.h"

/* ---- blob ids: SHA-1, only to name blobs the way git does ------------------ */

void gitformat_blob_id(const char *data, size_t length, char hex[41])
{
        char header[32];
        int n = snprintf(header, sizeof(header), "blob %zu", length);
        struct digest_sha1 s;
        unsigned char digest[DIGEST_SHA1_BYTES];
        digest_sha1_init(&s);
        digest_sha1_update(&s, header, (size_t)n + 1); /* with its NUL */
        digest_sha1_update(&s, data, length);
        digest_sha1_final(&s, digest);
        for (int i = 0; i < DIGEST_SHA1_BYTES; i++)
                snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

/* ---- names ----------------------------------------------------------------- */

bool gitformat_path_needs_quotes(const char *name)
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

void gitformat_write_path(FILE *out, const char *prefix, const char *name)
{
        if (!gitformat_path_needs_quotes(prefix) && !gitformat_path_needs_quotes(name)) {
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

/* "literal N": the new bytes deflated by zlib (what git apply inflates and
 * checks against N), then base85 in lines of at most 52 bytes. */
int gitformat_write_binary_literal(FILE *out, const char *data, size_t length)
{
        uLongf zlen = compressBound(length);
        uint8_t *z = malloc(zlen);
        if (!z)
                return -ENOMEM;
        int zr = compress2(z, &zlen, (const Bytef *)data, length, Z_DEFAULT_COMPRESSION);
        if (zr != Z_OK) {
                free(z);
                return zr == Z_MEM_ERROR ? -ENOMEM : -EIO;
        }
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

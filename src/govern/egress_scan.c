/* Key material in plaintext egress (egress_scan.h). */
#include "govern/egress_scan.h"

#include <stdbool.h>
#include <string.h>

static bool is_key_char(unsigned char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= '2' && c <= '7');
}

/* AKIA (long-term) or ASIA (temporary) + 16 characters of [A-Z2-7], not
 * inside a longer run of such characters. */
static bool has_aws_key_id(const unsigned char *b, size_t len)
{
        for (size_t i = 0; i + 20 <= len; i++) {
                if (memcmp(b + i, "AKIA", 4) != 0 && memcmp(b + i, "ASIA", 4) != 0)
                        continue;
                if (i > 0 && (is_key_char(b[i - 1]) || (b[i - 1] >= '0' && b[i - 1] <= '9')))
                        continue; /* inside a longer token */
                size_t n = 0;
                while (n < 16 && is_key_char(b[i + 4 + n]))
                        n++;
                if (n == 16 && (i + 20 == len || !is_key_char(b[i + 20])))
                        return true;
        }
        return false;
}

static bool has_private_key(const unsigned char *b, size_t len)
{
        static const char begin[] = "-----BEGIN ";
        static const char tail[] = "PRIVATE KEY-----";
        const size_t nb = sizeof(begin) - 1, nt = sizeof(tail) - 1;
        for (size_t i = 0; i + nb + nt <= len; i++) {
                if (memcmp(b + i, begin, nb) != 0)
                        continue;
                /* "-----BEGIN [RSA |EC |OPENSSH |ENCRYPTED ]PRIVATE KEY-----" */
                for (size_t j = i + nb; j + nt <= len && j <= i + nb + 16; j++)
                        if (memcmp(b + j, tail, nt) == 0)
                                return true;
        }
        return false;
}

const char *egress_scan_key_material(const void *bytes, size_t len)
{
        const unsigned char *b = bytes;
        if (has_aws_key_id(b, len))
                return "aws-access-key-id";
        if (has_private_key(b, len))
                return "private-key";
        return NULL;
}

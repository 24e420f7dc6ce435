/* TLS ClientHello → server name, as the proxy reads the first bytes of a
 * tunnel (net_sni_parse). A found name is a lower-case C string of
 * printable ASCII that fits the buffer, and the answer does not depend on
 * how the bytes arrived: a prefix of a hello is "need more" or the same
 * answer, never another name (the proxy decides on whatever it has). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "net/rules.h"
#include "net/sni.h"

static void check_name(const char *name, size_t size)
{
        size_t n = strnlen(name, size);
        FUZZ_CHECK(n > 0 && n < size);
        for (size_t i = 0; i < n; i++)
                FUZZ_CHECK(name[i] > 0x20 && name[i] < 0x7f && !(name[i] >= 'A' && name[i] <= 'Z'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t *buf = malloc(size ? size : 1); /* exact size: over-reads are caught */
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        char name[NET_HOST_MAX + 1];
        enum net_sni_result full = net_sni_parse(buf, size, name, sizeof(name));
        if (full == NET_SNI_FOUND)
                check_name(name, sizeof(name));
        if (full == NET_SNI_FOUND || full == NET_SNI_ABSENT) {
                size_t cuts[] = {size / 2, size - 1, 5, 6, 9, 43};
                for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
                        if (cuts[i] >= size)
                                continue;
                        char part[NET_HOST_MAX + 1];
                        enum net_sni_result r = net_sni_parse(buf, cuts[i], part, sizeof(part));
                        FUZZ_CHECK(r == NET_SNI_NEED_MORE || r == full);
                        if (r == NET_SNI_FOUND)
                                FUZZ_CHECK(strcmp(part, name) == 0);
                }
        }
        /* a small output buffer: never written past */
        char small[8];
        if (net_sni_parse(buf, size, small, sizeof(small)) == NET_SNI_FOUND)
                check_name(small, sizeof(small));
        free(buf);
        return 0;
}

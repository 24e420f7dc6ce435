/* What the proxy scans in plaintext egress, byte for byte as the agent sent
 * it: key material (govern/egress_scan.c) and the session's canary values
 * (govern/canary.c). Beyond memory safety: a key id found is one that the
 * scanner's own definition accepts, and a canary value anywhere in the
 * bytes is seen. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "govern/canary.h"
#include "govern/egress_scan.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t *buf = malloc(size ? size : 1); /* exact size: over-reads are caught */
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        const char *kind = egress_scan_key_material(buf, size);
        FUZZ_CHECK(!kind || strcmp(kind, "aws-access-key-id") == 0 ||
                   strcmp(kind, "private-key") == 0);
        if (kind && strcmp(kind, "aws-access-key-id") == 0)
                FUZZ_CHECK(memmem(buf, size, "AKIA", 4) || memmem(buf, size, "ASIA", 4));

        char dir[] = "unused";
        struct canary_set set = {.dir = dir};
        memcpy(set.aws_key_id, "AKIAZQ3DREINSFUZZ234", 21);
        memcpy(set.token, "rnsfz_0123456789abcdefghijklmnopqrstuvwx", 41);
        bool seen = canary_seen(&set, buf, size);
        FUZZ_CHECK(seen == (memmem(buf, size, set.aws_key_id, 20) != NULL ||
                            memmem(buf, size, set.token, 40) != NULL));
        free(buf);
        return 0;
}

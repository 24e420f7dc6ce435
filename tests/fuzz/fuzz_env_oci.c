/* An OCI image layout's index.json and manifests (src/env/oci.c): a layout
 * a policy names may come from anywhere, and reins reads it on the host
 * before it verifies a single blob. The input is split at its first NUL:
 * the part before is read as index.json (with and without a tag), the part
 * after as a manifest. Any bytes give a descriptor or an error, never a
 * crash; a descriptor's digest is always sha256: and 64 hex digits (it
 * becomes a file name under blobs/sha256), a manifest's layers are bounded. */
#include <string.h>

#include "env/env.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        return 0;
}

static void check_digest(const char *digest)
{
        FUZZ_CHECK(strlen(digest) == 71 && strncmp(digest, "sha256:", 7) == 0);
        for (const char *c = digest + 7; *c; c++)
                FUZZ_CHECK((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *bytes = (const char *)data;
        const char *nul = memchr(bytes, '\0', size);
        size_t first = nul ? (size_t)(nul - bytes) : size;
        struct env_oci_descriptor d;
        struct reins_error err = {0};
        if (env_oci_parse_index(bytes, first, NULL, &d, &err) == 0)
                check_digest(d.digest);
        err = (struct reins_error){0};
        if (env_oci_parse_index(bytes, first, "latest", &d, &err) == 0)
                check_digest(d.digest);
        if (!nul)
                return 0;
        struct env_oci_descriptor config, *layers = NULL;
        size_t count = 0;
        err = (struct reins_error){0};
        if (env_oci_parse_manifest(nul + 1, size - first - 1, &config, &layers, &count, &err) ==
            0) {
                check_digest(config.digest);
                FUZZ_CHECK(count <= ENV_OCI_MAX_LAYERS);
                for (size_t i = 0; i < count; i++)
                        check_digest(layers[i].digest);
        } else {
                FUZZ_CHECK(layers == NULL && count == 0);
        }
        free(layers);
        return 0;
}

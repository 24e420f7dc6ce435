/* An OCI bundle's config.json (src/oci/spec.c): the image's author and the
 * engine's caller write much of it (args, env, user, mounts, the seccomp
 * profile), and reins reads it on the host before any sandbox exists. Any
 * bytes must give a spec or an error naming config.json, never a crash; a
 * spec that loads is bounded as the reader promises, and its seccomp
 * profile, when there is one, compiled into a BPF program of whole
 * instructions. The rootfs is not looked up (check_root false). */
#include <string.h>

#include "fuzz.h"
#include "oci/spec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct oci_spec *spec = NULL;
        struct reins_error err = {0};
        int r = oci_spec_parse((const char *)data, size, "/nonexistent-bundle", false, &spec, &err);
        if (r < 0) {
                FUZZ_CHECK(spec == NULL);
                FUZZ_CHECK(strncmp(err.message, "config.json", 11) == 0 ||
                           strstr(err.message, "out of memory") != NULL);
                return 0;
        }
        FUZZ_CHECK(spec && spec->args && spec->args[0] && spec->env);
        FUZZ_CHECK(spec->root.mount_count <= OCI_SPEC_MAX_MOUNTS);
        FUZZ_CHECK(spec->root.masked_count <= OCI_SPEC_MAX_PATHS);
        FUZZ_CHECK(spec->root.readonly_count <= OCI_SPEC_MAX_PATHS);
        FUZZ_CHECK(spec->root.group_count <= OCI_SPEC_MAX_GROUPS);
        FUZZ_CHECK(spec->root.cwd && spec->root.cwd[0] == '/');
        for (size_t i = 0; i < spec->root.mount_count; i++)
                FUZZ_CHECK(spec->root.mounts[i].target[0] == '/');
        FUZZ_CHECK(!spec->seccomp || (spec->root.filter && spec->root.filter_len > 0));
        oci_spec_free(spec);
        return 0;
}

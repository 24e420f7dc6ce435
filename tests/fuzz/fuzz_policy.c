/* The policy loader (src/policy): YAML text → a validated, merged,
 * defaulted policy. A policy can come from the workspace the agent writes
 * (.reins/), so its parser sees hostile text. The first byte picks the
 * entry: 0 loads the text as a whole document (policy_load_text; `extends`
 * may name presets only, so nothing is read from disk), 1 parses the exact
 * bytes, NULs included, as one layer (what policy_load does with a file's
 * bytes) and fills in the defaults. A policy that loads has one normal
 * form: its YAML loads again into the same YAML (the policy hash that the
 * trail records depends on that). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "policy/policy.h"
#include "policy/policy_internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        return 0;
}

static void check_loaded(struct reins_policy *policy)
{
        struct reins_error err = {0};
        (void)policy_check_supported(policy, &err);
        char *yaml = policy_to_yaml(policy);
        FUZZ_CHECK(yaml != NULL);
        char hash[65];
        FUZZ_CHECK(policy_sha256_hex(policy, hash) == 0 && strlen(hash) == 64);
        struct reins_policy *again = NULL;
        if (policy_load_text(yaml, "preset:normal-form", &again, &err) != 0) {
                fprintf(stderr, "the normal form does not load: %s\n---\n%s---\n", err.message,
                        yaml);
                abort();
        }
        char *yaml_again = policy_to_yaml(again);
        if (!yaml_again || strcmp(yaml, yaml_again) != 0) {
                fprintf(stderr, "the normal form changes when loaded:\n---\n%s---\n%s---\n", yaml,
                        yaml_again ? yaml_again : "(null)");
                abort();
        }
        free(yaml_again);
        policy_free(again);
        free(yaml);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1 || size > 65536)
                return 0;
        struct reins_policy *policy = NULL;
        struct reins_error err = {0};
        const char *text = (const char *)data + 1;
        size_t length = size - 1;
        if (data[0] & 1) {
                char *copy = malloc(length ? length : 1); /* exact size: over-reads are caught */
                if (!copy)
                        return 0;
                memcpy(copy, text, length);
                if (policy_parse_layer(copy, length, "fuzz.yaml", &policy, &err) == 0 &&
                    policy_apply_defaults(policy) < 0) {
                        policy_free(policy);
                        policy = NULL;
                }
                free(copy);
        } else {
                char *copy = strndup(text, length);
                if (!copy)
                        return 0;
                if (policy_load_text(copy, "preset:fuzz", &policy, &err) < 0)
                        policy = NULL;
                free(copy);
        }
        if (policy)
                check_loaded(policy);
        policy_free(policy);
        return 0;
}

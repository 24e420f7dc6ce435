/* The daemon's configuration file (src/serve/config.c): YAML text → users
 * and roles. The file is the administrator's, but a parser of file bytes is
 * fuzzed all the same: whatever the text, it is refused with a message or
 * it yields grants that keep the schema's promises. */
#include <string.h>

#include "fuzz.h"
#include "serve/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct serve_config config;
        struct reins_error err = {0};
        if (serve_config_parse((const char *)data, size, "fuzz.yaml", &config, &err) < 0) {
                FUZZ_CHECK(err.message[0] != '\0');
                FUZZ_CHECK(strncmp(err.message, "fuzz.yaml", 9) == 0);
                return 0;
        }
        for (size_t i = 0; i < config.count; i++) {
                const struct serve_grant *g = &config.grants[i];
                FUZZ_CHECK(g->role != SERVE_ROLE_NONE);
                FUZZ_CHECK(g->role != SERVE_ROLE_OPERATOR || g->policies.count > 0);
                FUZZ_CHECK(g->policies.count == 0 || g->role == SERVE_ROLE_OPERATOR ||
                           g->role == SERVE_ROLE_APPROVER);
                for (size_t j = 0; j < i; j++)
                        FUZZ_CHECK(config.grants[j].uid != g->uid);
                FUZZ_CHECK(g->agents.count == 0 || g->role == SERVE_ROLE_OPERATOR ||
                           g->role == SERVE_ROLE_APPROVER);
                for (size_t j = 0; j < g->agents.count; j++)
                        FUZZ_CHECK(g->agents.items[j][0] != '\0');
        }
        /* agents: each named once, non-empty, printable; its policies too */
        FUZZ_CHECK(config.agent_count == 0 || config.agents_given);
        for (size_t i = 0; i < config.agent_count; i++) {
                const struct serve_agent *a = &config.agents[i];
                FUZZ_CHECK(a->name && a->name[0] && strlen(a->name) <= 128);
                for (const unsigned char *c = (const unsigned char *)a->name; *c; c++)
                        FUZZ_CHECK(*c >= 0x20 && *c != 0x7f);
                for (size_t j = 0; j < i; j++)
                        FUZZ_CHECK(strcmp(config.agents[j].name, a->name) != 0);
                for (size_t j = 0; j < a->policies.count; j++) {
                        const char *policy = a->policies.items[j];
                        const char *why = NULL;
                        FUZZ_CHECK(policy[0] != '\0');
                        FUZZ_CHECK(serve_config_agent_allows(&config, policy, a->name, &why));
                }
                const char *why = NULL;
                FUZZ_CHECK(!serve_config_agent_allows(&config, "x", NULL, &why) && why);
        }
        serve_config_free(&config);
        return 0;
}

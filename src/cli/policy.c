/* reins policy check FILE | show PRESET | list | rules | keys */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/notice.h"
#include "govern/risk.h"
#include "policy/policy.h"

static void policy_usage(FILE *out)
{
        fprintf(out,
                "usage: reins policy check FILE     validate, print normalized policy + "
                "sha256\n"
                "       reins policy show PRESET    print a built-in preset\n"
                "       reins policy list           list the built-in presets\n"
                "       reins policy rules          the risk engine's rules and defaults\n"
                "       reins policy keys           every key a policy file may set, its type\n");
}

/* The built-in detection rules: the ids the policy's `rules:` section uses. */
static int policy_rules(void)
{
        size_t count = 0;
        const struct risk_rule_info *rules = risk_rule_list(&count);
        printf("%-22s %-9s %6s  %-28s %7s  %s\n", "RULE", "SEVERITY", "WEIGHT", "THRESHOLD",
               "WINDOW", "FIRES ON");
        for (size_t i = 0; i < count; i++) {
                char threshold[64] = "-", window[16] = "-";
                if (rules[i].threshold)
                        snprintf(threshold, sizeof(threshold), "%lld %s",
                                 (long long)rules[i].threshold, rules[i].threshold_unit);
                if (rules[i].window_ms)
                        snprintf(window, sizeof(window), "%llds",
                                 (long long)(rules[i].window_ms / 1000));
                printf("%-22s %-9s %6.0f  %-28.28s %7s  %s\n", rules[i].id,
                       risk_severity_name(rules[i].severity), rules[i].weight, threshold, window,
                       rules[i].explanation);
        }
        return 0;
}

static void policy_key_print(void *ctx, const char *key, const char *type,
                             const char *const *choices)
{
        (void)ctx;
        printf("%-34s %s", key, type);
        for (const char *const *c = choices; c && *c; c++)
                printf("%s%s", c == choices ? " (" : "|", *c);
        printf("%s\n", choices && *choices ? ")" : "");
}

static int policy_check(const char *file)
{
        struct reins_error err = {0};
        struct reins_policy *policy = NULL;
        char hash[65];
        if (policy_load(file, &policy, &err) < 0 || policy_check_supported(policy, &err) < 0) {
                cli_error(&err);
                policy_free(policy);
                return 1;
        }
        char *yaml = policy_to_yaml(policy);
        if (!yaml || policy_sha256_hex(policy, hash) < 0) {
                fprintf(stderr, "reins: out of memory\n");
                free(yaml);
                policy_free(policy);
                return 1;
        }
        printf("# sha256: %s\n%s", hash, yaml);
        free(yaml);
        policy_free(policy);
        return 0;
}

static int policy_show(const char *name)
{
        const char *text = policy_preset_text(name);
        if (!text) {
                fprintf(stderr, "reins: no built-in preset '%s' (see 'reins policy list')\n", name);
                return 1;
        }
        fputs(text, stdout);
        return 0;
}

int cli_policy(int argc, char **argv)
{
        if (argc == 2 && strcmp(argv[1], "list") == 0) {
                for (const char *const *p = policy_preset_names(); *p; p++)
                        printf("%s\n", *p);
                return 0;
        }
        if (argc == 2 && strcmp(argv[1], "keys") == 0) {
                policy_schema_walk(policy_key_print, NULL);
                return 0;
        }
        if (argc == 2 && strcmp(argv[1], "rules") == 0)
                return policy_rules();
        if (argc == 3 && strcmp(argv[1], "check") == 0)
                return policy_check(argv[2]);
        if (argc == 3 && strcmp(argv[1], "show") == 0)
                return policy_show(argv[2]);
        if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
                policy_usage(stdout);
                return 0;
        }
        policy_usage(stderr);
        return EXIT_REINS_USAGE;
}

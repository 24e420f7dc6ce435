/* The normalized policy as YAML: every key in a fixed order, units in their
 * canonical spelling, `extends` already merged away. The bytes are the
 * policy's identity (policy_sha256_hex hashes them and every audit event
 * carries that hash), so nothing here may depend on the locale, on the
 * libyaml version or on how the source file was written. */
#include "policy/policy_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_plain_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               strchr("_./~@:+-*?=", c) != NULL;
}

static char ascii_lower(char c)
{
        return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive in ASCII only: the output must not depend on the locale. */
static bool ascii_equal_ignore_case(const char *a, size_t len, const char *lower_word)
{
        if (strlen(lower_word) != len)
                return false;
        for (size_t i = 0; i < len; i++)
                if (ascii_lower(a[i]) != lower_word[i])
                        return false;
        return true;
}

/* Words a YAML reader would take for something other than a string. */
static bool is_reserved_word(const char *s, size_t len)
{
        static const char *const words[] = {"null", "true", "false", "yes",  "no",   "on",
                                            "off",  "y",    "n",     ".inf", ".nan", NULL};
        for (size_t i = 0; words[i]; i++)
                if (ascii_equal_ignore_case(s, len, words[i]))
                        return true;
        return false;
}

static bool is_letter(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Can s (len bytes) be written as a plain (unquoted) scalar and read back as
 * the same string by any YAML reader? Conservative: when in doubt, quote. */
static bool can_be_plain(const char *s, size_t len)
{
        if (len == 0 || is_reserved_word(s, len))
                return false;
        char first = s[0], second = len > 1 ? s[1] : '\0';
        bool starts_ok = is_letter(first) || first == '_' || first == '/' ||
                         (first == '.' && !(second >= '0' && second <= '9')) ||
                         (first == '~' && second == '/');
        if (!starts_ok)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!is_plain_char(s[i]))
                        return false;
        return s[len - 1] != ':';
}

/* s (len bytes) as a YAML scalar: plain when that is unambiguous, else
 * double-quoted with escapes. */
static void emit_string_n(FILE *out, const char *s, size_t len)
{
        if (can_be_plain(s, len)) {
                fwrite(s, 1, len, out);
                return;
        }
        fputc('"', out);
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)s[i];
                switch (c) {
                case '"':
                        fputs("\\\"", out);
                        break;
                case '\\':
                        fputs("\\\\", out);
                        break;
                case '\n':
                        fputs("\\n", out);
                        break;
                case '\t':
                        fputs("\\t", out);
                        break;
                default:
                        if (c < 0x20 || c == 0x7f)
                                fprintf(out, "\\x%02x", c);
                        else
                                fputc(c, out); /* UTF-8 passes through */
                }
        }
        fputc('"', out);
}

static void emit_string(FILE *out, const char *s)
{
        emit_string_n(out, s, strlen(s));
}

/* Bytes in the largest binary unit that divides them exactly: 4GiB, 1536MiB. */
static void emit_size(FILE *out, uint64_t bytes)
{
        static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        if (bytes == 0) {
                fputs("0", out);
                return;
        }
        int unit = -1;
        uint64_t value = bytes;
        while (unit < 5 && value % 1024 == 0) {
                value /= 1024;
                unit++;
        }
        fprintf(out, "%" PRIu64 "%s", value, unit < 0 ? "" : units[unit]);
}

/* "0", or the units that are not zero, largest first: "1h30m", "250ms". */
static void emit_duration(FILE *out, uint64_t ms)
{
        static const struct {
                const char *name;
                uint64_t ms;
        } units[] = {{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1}};
        if (ms == 0) {
                fputs("0", out);
                return;
        }
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                uint64_t n = ms / units[i].ms;
                if (n) {
                        fprintf(out, "%" PRIu64 "%s", n, units[i].name);
                        ms -= n * units[i].ms;
                }
        }
}

/* 2000 → "2", 500 → "0.5", 1250 → "1.25". */
static void emit_cpus(FILE *out, uint64_t milli)
{
        uint64_t whole = milli / 1000, fraction = milli % 1000;
        if (!fraction) {
                fprintf(out, "%" PRIu64, whole);
                return;
        }
        char digits[4];
        snprintf(digits, sizeof(digits), "%03" PRIu64, fraction);
        for (int i = 2; i > 0 && digits[i] == '0'; i--)
                digits[i] = '\0';
        fprintf(out, "%" PRIu64 ".%s", whole, digits);
}

static void emit_key_string(FILE *out, const char *indent, const char *key, const char *value)
{
        fprintf(out, "%s%s: ", indent, key);
        emit_string(out, value);
        fputc('\n', out);
}

static void emit_list_indented(FILE *out, const char *indent, const char *key,
                               const struct reins_strv *list)
{
        if (list->count == 0) {
                fprintf(out, "%s%s: []\n", indent, key);
                return;
        }
        fprintf(out, "%s%s:\n", indent, key);
        for (size_t i = 0; i < list->count; i++) {
                fprintf(out, "%s  - ", indent);
                emit_string(out, list->items[i]);
                fputc('\n', out);
        }
}

static void emit_list(FILE *out, const char *key, const struct reins_strv *list)
{
        emit_list_indented(out, "  ", key, list);
}

/* A list of "KEY=VALUE" as a YAML mapping. */
static void emit_map(FILE *out, const char *key, const struct reins_strv *map)
{
        if (map->count == 0) {
                fprintf(out, "  %s: {}\n", key);
                return;
        }
        fprintf(out, "  %s:\n", key);
        for (size_t i = 0; i < map->count; i++) {
                const char *entry = map->items[i];
                const char *equals = strchr(entry, '=');
                size_t key_len = equals ? (size_t)(equals - entry) : strlen(entry);
                fputs("    ", out);
                emit_string_n(out, entry, key_len);
                fputs(": ", out);
                emit_string(out, equals ? equals + 1 : "");
                fputc('\n', out);
        }
}

/* A `rules:` map. Severities and actions print their names. Numbers and
 * durations print as the policy spelled them (policy_rule_setting.written),
 * quoted as before they were parsed, so no policy's hash moves; a setting
 * built without a spelling prints its canonical one. */
static void emit_rule_settings(FILE *out, const char *key,
                               const struct policy_rule_settings *settings,
                               const char *(*name_of)(const struct policy_rule_setting *),
                               bool duration)
{
        if (settings->count == 0) {
                fprintf(out, "  %s: {}\n", key);
                return;
        }
        fprintf(out, "  %s:\n", key);
        for (size_t i = 0; i < settings->count; i++) {
                const struct policy_rule_setting *setting = &settings->items[i];
                fputs("    ", out);
                emit_string(out, setting->id);
                fputs(": ", out);
                if (name_of) {
                        emit_string(out, name_of(setting));
                } else if (setting->written) {
                        emit_string(out, setting->written);
                } else {
                        /* digits first: emit_string would quote it the same way */
                        fputc('"', out);
                        if (duration)
                                emit_duration(out, setting->number);
                        else
                                fprintf(out, "%" PRIu64, setting->number);
                        fputc('"', out);
                }
                fputc('\n', out);
        }
}

static const char *severity_of(const struct policy_rule_setting *setting)
{
        return policy_rule_severity_name(setting->severity);
}

static const char *action_of(const struct policy_rule_setting *setting)
{
        return policy_rule_action_name(setting->action);
}

static const char *workspace_mode_name(enum policy_workspace_mode mode)
{
        switch (mode) {
        case POLICY_WORKSPACE_DIRECT:
                return "direct";
        case POLICY_WORKSPACE_READONLY:
                return "readonly";
        case POLICY_WORKSPACE_OVERLAY:
                return "overlay";
        }
        return "direct";
}

static const char *network_mode_name(enum policy_network_mode mode)
{
        switch (mode) {
        case POLICY_NETWORK_NONE:
                return "none";
        case POLICY_NETWORK_PROXY:
                return "proxy";
        case POLICY_NETWORK_HOST:
                return "host";
        }
        return "none";
}

/* Each entry's keys in a fixed order; the secret is never here (only where
 * it comes from). */
static void emit_credentials(FILE *out, const struct policy_credentials *credentials)
{
        fputs("credentials:\n", out);
        for (size_t i = 0; i < credentials->count; i++) {
                const struct policy_credential *c = &credentials->items[i];
                fputs("  - name: ", out);
                emit_string(out, c->name);
                fputc('\n', out);
                if (!c->file)
                        fputs("    source:\n", out);
                switch (c->file ? (enum policy_credential_source) - 1 : c->source_kind) {
                case POLICY_CREDENTIAL_ENV:
                        emit_key_string(out, "      ", "env", c->source);
                        break;
                case POLICY_CREDENTIAL_FILE:
                        emit_key_string(out, "      ", "file", c->source);
                        break;
                case POLICY_CREDENTIAL_COMMAND:
                        fputs("      command:\n", out);
                        for (size_t j = 0; j < c->command.count; j++) {
                                fputs("        - ", out);
                                emit_string(out, c->command.items[j]);
                                fputc('\n', out);
                        }
                        break;
                default:
                        break;
                }
                fputs("    hosts:\n", out);
                for (size_t j = 0; j < c->hosts.count; j++) {
                        fputs("      - ", out);
                        emit_string(out, c->hosts.items[j]);
                        fputc('\n', out);
                }
                if (c->how_name) {
                        char how[96];
                        snprintf(how, sizeof(how), "%s %s", policy_credential_how_name(c->how),
                                 c->how_name);
                        emit_key_string(out, "    ", "how", how);
                } else {
                        emit_key_string(out, "    ", "how", policy_credential_how_name(c->how));
                }
                if (c->env)
                        emit_key_string(out, "    ", "env", c->env);
                fprintf(out, "    plaintext: %s\n", c->plaintext ? "true" : "false");
                if (c->file)
                        emit_key_string(out, "    ", "file", c->file);
                if (c->pattern)
                        emit_key_string(out, "    ", "pattern", c->pattern);
                if (c->json_pointer)
                        emit_key_string(out, "    ", "json", c->json_pointer);
        }
}

static void emit_policy(FILE *out, const struct reins_policy *p)
{
        fputs("version: 1\n", out);
        if (p->name)
                emit_key_string(out, "", "name", p->name);
        if (p->agent)
                emit_key_string(out, "", "agent", p->agent);

        fputs("filesystem:\n", out);
        emit_key_string(out, "  ", "workspace",
                        p->filesystem.workspace ? p->filesystem.workspace : ".");
        fprintf(out, "  workspace_mode: %s\n", workspace_mode_name(p->filesystem.workspace_mode));
        emit_list(out, "read", &p->filesystem.read);
        emit_list(out, "write", &p->filesystem.write);
        emit_list(out, "deny", &p->filesystem.deny);
        emit_list(out, "protect", &p->filesystem.protect);
        emit_list(out, "secrets", &p->filesystem.secrets);
        if (p->filesystem.cache.count) /* absent when empty: older policies keep their hash */
                emit_list(out, "cache", &p->filesystem.cache);

        fputs("network:\n", out);
        fprintf(out, "  mode: %s\n", network_mode_name(p->network.mode));
        emit_list(out, "allow", &p->network.allow);
        emit_list(out, "deny", &p->network.deny);
        emit_list(out, "ask", &p->network.ask);
        emit_map(out, "hosts", &p->network.hosts);
        fputs("  egress_budget: ", out);
        emit_size(out, p->network.egress_budget_bytes);
        fputc('\n', out);

        fputs("exec:\n", out);
        emit_list(out, "deny", &p->exec.deny);

        fputs("env:\n", out);
        emit_list(out, "keep", &p->env.keep);
        emit_map(out, "set", &p->env.set);

        const struct policy_limits *l = &p->limits;
        fputs("limits:\n  memory: ", out);
        emit_size(out, l->memory_bytes);
        fprintf(out, "\n  pids: %" PRIu64 "\n  cpus: ", l->pids);
        emit_cpus(out, l->cpus_milli);
        fputs("\n  wall_time: ", out);
        emit_duration(out, l->wall_time_ms);
        fprintf(out, "\n  open_files: %" PRIu64 "\n  tmp_size: ", l->open_files);
        emit_size(out, l->tmp_size_bytes);
        fputs("\n  workspace_size: ", out);
        emit_size(out, l->workspace_size_bytes);
        /* written only when not the default: the trail's bounds came after
         * policies were first hashed, and the hash of one that does not
         * name them stays what it was */
        if (l->trail_size_bytes != POLICY_TRAIL_SIZE_DEFAULT) {
                fputs("\n  trail_size: ", out);
                emit_size(out, l->trail_size_bytes);
        }
        if (l->trail_rate_bytes != POLICY_TRAIL_RATE_DEFAULT) {
                fputs("\n  trail_rate: ", out);
                emit_size(out, l->trail_rate_bytes);
        }
        fputc('\n', out);

        fputs("syscalls:\n", out);
        emit_key_string(out, "  ", "profile",
                        p->syscalls.profile ? p->syscalls.profile : "default");
        emit_list(out, "allow", &p->syscalls.allow);
        emit_list(out, "deny", &p->syscalls.deny);

        fprintf(out, "canaries: %s\n", p->canaries ? "true" : "false");
        /* only when written: the hash of every other policy stays what it was */
        if (p->isolation)
                emit_key_string(out, "", "isolation", p->isolation);
        /* only when some: the hash of every policy without them stays what it was */
        if (p->credentials.count)
                emit_credentials(out, &p->credentials);
        if (p->identity.hosts.count) { /* likewise */
                fputs("identity:\n", out);
                emit_list(out, "hosts", &p->identity.hosts);
        }
        /* only when set: the hash of every policy without anchors stays what it was */
        if (p->audit.anchor.count) {
                fputs("audit:\n", out);
                emit_list(out, "anchor", &p->audit.anchor);
        }
        /* only when set: a policy on the host's root keeps its hash */
        if (p->environment.image || p->environment.debian_suite || p->environment.sdks.count ||
            p->environment.debian_packages.count) {
                fputs("environment:\n", out);
                if (p->environment.image)
                        emit_key_string(out, "  ", "image", p->environment.image);
                if (p->environment.debian_suite || p->environment.debian_packages.count) {
                        fputs("  debian:\n", out);
                        if (p->environment.debian_suite)
                                emit_key_string(out, "    ", "suite", p->environment.debian_suite);
                        emit_list_indented(out, "    ", "packages",
                                           &p->environment.debian_packages);
                }
                emit_list(out, "sdks", &p->environment.sdks);
                emit_key_string(out, "  ", "writable",
                                p->environment.writable ? p->environment.writable : "none");
        }
        fputs("rules:\n", out);
        emit_list(out, "disable", &p->rules.disable);
        emit_rule_settings(out, "severity", &p->rules.severity, severity_of, false);
        emit_rule_settings(out, "weight", &p->rules.weight, NULL, false);
        emit_rule_settings(out, "threshold", &p->rules.threshold, NULL, false);
        emit_rule_settings(out, "window", &p->rules.window, NULL, true);
        emit_rule_settings(out, "action", &p->rules.action, action_of, false);
        fprintf(out, "risk:\n  engine: %s\n  half_life: ", policy_risk_engine_name(p->risk.engine));
        emit_duration(out, p->risk.half_life_ms);
        fprintf(out, "\n  tier1: %llu\n  tier2: %llu\n  tier3: %llu\n",
                (unsigned long long)p->risk.tier1, (unsigned long long)p->risk.tier2,
                (unsigned long long)p->risk.tier3);

        /* absent means "no approvals": writing defaults would turn them on */
        if (p->approvals.present) {
                fputs("approvals:\n  timeout: ", out);
                emit_duration(out, p->approvals.timeout_ms);
                fputc('\n', out);
                emit_key_string(out, "  ", "default",
                                policy_approval_default_name(p->approvals.default_decision));
                emit_key_string(out, "  ", "unknown",
                                policy_approval_unknown_name(p->approvals.unknown));
        }
}

char *policy_to_yaml(const struct reins_policy *policy)
{
        if (!policy)
                return NULL;
        char *text = NULL;
        size_t length = 0;
        FILE *out = open_memstream(&text, &length);
        if (!out)
                return NULL;
        emit_policy(out, policy);
        bool failed = ferror(out) != 0;
        if (fclose(out) != 0 || failed) {
                free(text);
                return NULL;
        }
        return text;
}

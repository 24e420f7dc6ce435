/* Checks of single policy values (one path, one name, one glob). They only
 * look at the text: whether a path exists or a syscall is known is for the
 * sandbox to decide when it builds the plan. */
#include "policy/policy_internal.h"

#include <errno.h>
#include <string.h>

#include "policy/risk_rules.h"
#include "util/glob.h"
#include "policy/parse_units.h"

static int invalid(const char **why, const char *reason)
{
        *why = reason;
        return -EINVAL;
}

static bool has_control_character(const char *value)
{
        for (const unsigned char *c = (const unsigned char *)value; *c; c++)
                if (*c < 0x20 || *c == 0x7f)
                        return true;
        return false;
}

static bool has_blank(const char *value)
{
        return strpbrk(value, " \t") != NULL;
}

static bool is_letter_or_underscore(char c)
{
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* "dir/" and "dir" name the same thing; keep one spelling ("/" stays). */
static void drop_trailing_slashes(char *value)
{
        size_t len = strlen(value);
        while (len > 1 && value[len - 1] == '/')
                value[--len] = '\0';
}

int policy_check_label(char *value, const char **why)
{
        if (!*value)
                return invalid(why, "must not be empty");
        /* recorded in audit events: one line, no terminal escapes */
        if (has_control_character(value))
                return invalid(why, "control characters are not allowed");
        if (strlen(value) > 128)
                return invalid(why, "longer than 128 characters");
        return 0;
}

/* A checkpoint anchor (audit/anchor.h): opened at start, where a bad one
 * stops the run with its own message; here only its shape. */
int policy_check_anchor(char *value, const char **why)
{
        if (!*value)
                return invalid(why, "must not be empty");
        if (has_control_character(value))
                return invalid(why, "control characters are not allowed");
        if (strlen(value) > 1024)
                return invalid(why, "longer than 1024 characters");
        if (strncmp(value, "https://", 8) == 0)
                return invalid(why, "https is not supported: use http:// to a local "
                                    "forwarder, or syslog");
        return 0;
}

int policy_check_extends(char *value, const char **why)
{
        if (!*value)
                return invalid(why, "must not be empty");
        if (has_control_character(value))
                return invalid(why, "control characters are not allowed");
        return 0;
}

int policy_check_workspace(char *value, const char **why)
{
        if (!*value)
                return invalid(why, "must not be empty (use . for the current directory)");
        if (has_control_character(value))
                return invalid(why, "control characters are not allowed");
        drop_trailing_slashes(value);
        return 0;
}

int policy_check_host_path(char *value, const char **why)
{
        if (!*value)
                return invalid(why, "empty path");
        if (has_control_character(value))
                return invalid(why, "control characters are not allowed");
        drop_trailing_slashes(value);
        if (value[0] != '/' && strcmp(value, "~") != 0 && strncmp(value, "~/", 2) != 0)
                return invalid(why, "must be absolute (/usr) or start with ~/");
        /* bound paths are literal: a user writing "/opt/" + "*" would otherwise get
         * a bind of a directory literally named '*', or nothing at all */
        if (!glob_is_literal(value))
                return invalid(why, "wildcards are not allowed here (list the directory)");
        const char *reason;
        if (glob_validate(value, &reason) < 0)
                return invalid(why, reason);
        return 0;
}

int policy_check_glob(char *value, const char **why)
{
        drop_trailing_slashes(value);
        return glob_validate(value, why);
}

int policy_check_protect(char *value, const char **why)
{
        drop_trailing_slashes(value);
        int r = glob_validate(value, why);
        if (r < 0)
                return r;
        if (value[0] == '/' || value[0] == '~')
                return invalid(why, "must be relative to the workspace (like .git/hooks)");
        return 0;
}

int policy_check_destination(char *value, const char **why)
{
        if (!*value)
                return invalid(why, "empty destination");
        if (has_control_character(value) || has_blank(value))
                return invalid(why, "blanks and control characters are not allowed "
                                    "(write host:port, e.g. api.example.com:443)");
        return 0;
}

int policy_check_host_name(char *value, const char **why)
{
        if (!*value)
                return invalid(why, "empty host name");
        if (has_control_character(value) || has_blank(value) || strchr(value, '='))
                return invalid(why, "blanks, '=' and control characters are not allowed");
        return 0;
}

int policy_check_address(char *value, const char **why)
{
        if (!*value)
                return invalid(why, "empty address");
        if (has_control_character(value) || has_blank(value))
                return invalid(why, "blanks and control characters are not allowed");
        return 0;
}

int policy_check_env_name(char *value, const char **why)
{
        if (!is_letter_or_underscore(value[0]))
                return invalid(why, "a variable name starts with a letter or '_'");
        for (const char *c = value + 1; *c; c++)
                if (!is_letter_or_underscore(*c) && !is_digit(*c))
                        return invalid(why, "a variable name has only letters, digits and '_'");
        return 0;
}

int policy_check_env_pattern(char *value, const char **why)
{
        size_t len = strlen(value);
        if (len == 1 && value[0] == '*')
                /* passing everything would hand every secret in the caller's
                 * environment to the agent: name the variables instead */
                return invalid(why, "'*' alone would keep every variable, secrets included; "
                                    "name them or use a prefix like LC_*");
        if (len > 1 && value[len - 1] == '*') {
                value[len - 1] = '\0';
                int r = policy_check_env_name(value, why);
                value[len - 1] = '*';
                return r;
        }
        return policy_check_env_name(value, why);
}

int policy_check_env_value(char *value, const char **why)
{
        (void)value;
        (void)why;
        return 0; /* any string: NUL bytes are refused before we get here */
}

int policy_check_syscall_name(char *value, const char **why)
{
        if (!*value)
                return invalid(why, "empty name");
        if (strlen(value) > 64)
                return invalid(why, "longer than 64 characters");
        for (const char *c = value; *c; c++)
                if (!(*c >= 'a' && *c <= 'z') && !is_digit(*c) && *c != '_')
                        return invalid(why, "a syscall name has only a-z, 0-9 and '_'");
        return 0;
}

/* ---- the risk engine's rules ---- */

int policy_check_rule_id(char *value, const char **why)
{
        if (!risk_rule_find(value))
                return invalid(why, "no such rule (see 'reins policy rules')");
        return 0;
}

int policy_check_counting_rule(char *value, const char **why)
{
        const struct risk_rule_info *rule = risk_rule_find(value);
        if (!rule)
                return invalid(why, "no such rule (see 'reins policy rules')");
        if (!rule->threshold)
                return invalid(why, "this rule does not count anything: it has no threshold");
        return 0;
}

int policy_check_windowed_rule(char *value, const char **why)
{
        const struct risk_rule_info *rule = risk_rule_find(value);
        if (!rule)
                return invalid(why, "no such rule (see 'reins policy rules')");
        if (!rule->window_ms)
                return invalid(why, "this rule has no time window");
        return 0;
}

/* Index of `text` in a NULL-terminated table of names, or -1. */
static int name_index(const char *const *names, const char *text)
{
        for (int i = 0; names[i]; i++)
                if (strcmp(text, names[i]) == 0)
                        return i;
        return -1;
}

int policy_parse_rule_severity(const char *text, struct policy_rule_setting *out, const char **why)
{
        int i = name_index(policy_rule_severity_names, text);
        if (i < 0)
                return invalid(why, "a severity is low, medium, high or critical");
        out->severity = (enum policy_rule_severity)i;
        return 0;
}

int policy_parse_rule_action(const char *text, struct policy_rule_setting *out, const char **why)
{
        int i = name_index(policy_rule_action_names, text);
        if (i < 0)
                return invalid(why, "an action is log, score, T1, T2, T3 or kill");
        out->action = (enum policy_rule_action)i;
        return 0;
}

int policy_parse_rule_weight(const char *text, struct policy_rule_setting *out, const char **why)
{
        uint64_t n = 0;
        if (parse_count(text, &n) < 0 || n < 1 || n > 1000000000)
                return invalid(why, "a whole number from 1 to 1000000000");
        out->number = n;
        return 0;
}

int policy_parse_rule_window(const char *text, struct policy_rule_setting *out, const char **why)
{
        uint64_t ms = 0;
        if (parse_duration_ms(text, &ms) < 0 || ms < 1000)
                return invalid(why, "a duration of at least 1s (30s, 2m)");
        out->number = ms;
        return 0;
}

/* environment.image: a transport and a reference, as skopeo spells them;
 * only the local transports (no registry is contacted at run time). */
int policy_check_image(char *value, const char **why)
{
        static const char *const transports[] = {
            "oci:", "docker-archive:", "containers-storage:", NULL};
        if (has_control_character(value) || has_blank(value))
                return invalid(why, "control characters and blanks are not allowed");
        if (strlen(value) > 1024)
                return invalid(why, "longer than 1024 characters");
        for (size_t i = 0; transports[i]; i++) {
                size_t n = strlen(transports[i]);
                if (strncmp(value, transports[i], n) == 0)
                        return value[n] ? 0 : invalid(why, "names no image after the transport");
        }
        return invalid(why, "expected oci:DIR[:TAG], docker-archive:FILE or "
                            "containers-storage:NAME");
}

/* Debian's names: lower-case letters, digits and + - . (Debian Policy 5.6.1). */
static bool is_debian_name(const char *value, size_t len)
{
        if (len < 2 || !((value[0] >= 'a' && value[0] <= 'z') || is_digit(value[0])))
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = value[i];
                if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '+' || c == '-' || c == '.'))
                        return false;
        }
        return true;
}

int policy_check_suite(char *value, const char **why)
{
        if (strlen(value) > 64 || !is_debian_name(value, strlen(value)))
                return invalid(why, "expected a Debian suite or codename such as bookworm");
        return 0;
}

/* NAME or NAME=VERSION (a pin, as apt-get spells it). */
int policy_check_package(char *value, const char **why)
{
        const char *equal = strchr(value, '=');
        size_t name_len = equal ? (size_t)(equal - value) : strlen(value);
        if (strlen(value) > 256 || !is_debian_name(value, name_len))
                return invalid(why, "expected a Debian package name (NAME or NAME=VERSION)");
        if (equal) {
                const char *v = equal + 1;
                if (!*v || has_control_character(v) || has_blank(v) || strpbrk(v, "/,="))
                        return invalid(why, "the version after '=' is not a Debian version");
        }
        return 0;
}

int policy_check_sdk(char *value, const char **why)
{
        static const char *const known[] = {"python", "node", "build", NULL};
        for (size_t i = 0; known[i]; i++)
                if (strcmp(value, known[i]) == 0)
                        return 0;
        return invalid(why, "unknown SDK (known: python, node, build)");
}

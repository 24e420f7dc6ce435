/* `credentials:` entries (policy.h): the checks of their values, the
 * list's release, and a child entry replacing its parent's by name. The
 * YAML walk is parse.c's (parse_credentials); the secrets themselves are
 * read by the session (session/credentials.c), never here. */
#include "policy/policy_internal.h"

#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int invalid(const char **why, const char *reason)
{
        *why = reason;
        return -EINVAL;
}

static bool is_name_char(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
}

int policy_check_credential_pattern(char *value, const char **why)
{
        regex_t re;
        if (!*value || regcomp(&re, value, REG_EXTENDED) != 0)
                return invalid(why, "not a POSIX extended regular expression");
        size_t groups = re.re_nsub;
        regfree(&re);
        if (groups < 1)
                return invalid(why, "needs a group, (...), around the secret");
        return 0;
}

int policy_check_json_pointer(char *value, const char **why)
{
        if (value[0] != '/')
                return invalid(why, "a JSON Pointer (RFC 6901) starts with '/': /auths/host/auth");
        for (const char *c = value; *c; c++)
                if (*c == '~' && c[1] != '0' && c[1] != '1')
                        return invalid(why, "'~' is followed by 0 or 1 in a JSON Pointer");
        return 0;
}

int policy_check_credential_name(char *value, const char **why)
{
        if (!*value)
                return invalid(why, "must not be empty");
        if (strlen(value) > POLICY_CREDENTIAL_NAME_MAX)
                return invalid(why, "longer than 32 characters");
        for (const char *c = value; *c; c++)
                if (!is_name_char(*c))
                        return invalid(why, "a credential name has only letters, digits, '_' "
                                            "and '-' (it is part of the placeholder)");
        return 0;
}

/* The host and optional port as network.allow writes them; then a path
 * prefix that an HTTP request-target can start with. */
int policy_check_credential_host(char *value, const char **why)
{
        if (!*value)
                return invalid(why, "empty host");
        for (const unsigned char *c = (const unsigned char *)value; *c; c++)
                if (*c <= 0x20 || *c == 0x7f || *c == '?' || *c == '#' || *c == '=')
                        return invalid(why, "blanks, control characters, '?', '#' and '=' are "
                                            "not allowed (write host[:port][/path-prefix])");
        if (value[0] == '/')
                return invalid(why, "no host before the path");
        const char *path = strchr(value, '/');
        size_t host_len = path ? (size_t)(path - value) : strlen(value);
        if (memchr(value, '*', host_len) && strncmp(value, "*.", 2) != 0)
                return invalid(why, "a wildcard only as a leading '*.' (*.example.com)");
        if (path && strchr(path, '*'))
                return invalid(why, "no wildcard in the path prefix");
        if (path && strstr(path, "/../"))
                return invalid(why, "'..' in the path prefix");
        for (size_t i = 0; i < host_len; i++)
                if (value[i] >= 'A' && value[i] <= 'Z')
                        value[i] = (char)(value[i] - 'A' + 'a');
        return 0;
}

static bool is_token_char(char c)
{
        /* RFC 9110 token characters, a header's or parameter's name */
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

int policy_parse_credential_how(const char *text, struct policy_credential *out, const char **why)
{
        if (strcmp(text, "bearer") == 0) {
                out->how = POLICY_CREDENTIAL_BEARER;
                return 0;
        }
        if (strcmp(text, "basic") == 0) {
                out->how = POLICY_CREDENTIAL_BASIC;
                return 0;
        }
        if (strcmp(text, "swap") == 0) {
                out->how = POLICY_CREDENTIAL_SWAP;
                return 0;
        }
        const char *name;
        if (strncmp(text, "header ", 7) == 0) {
                out->how = POLICY_CREDENTIAL_HEADER;
                name = text + 7;
        } else if (strncmp(text, "query ", 6) == 0) {
                out->how = POLICY_CREDENTIAL_QUERY;
                name = text + 6;
        } else {
                return invalid(why, "expected bearer, basic, swap, 'header NAME' or 'query NAME'");
        }
        if (!*name || strlen(name) > 64)
                return invalid(why, "the name after header/query is 1 to 64 characters");
        for (const char *c = name; *c; c++)
                if (!is_token_char(*c))
                        return invalid(why, "a header or parameter name has no blanks or "
                                            "separators");
        if (out->how == POLICY_CREDENTIAL_HEADER &&
            (strcasecmp(name, "host") == 0 || strcasecmp(name, "content-length") == 0 ||
             strcasecmp(name, "transfer-encoding") == 0 || strcasecmp(name, "connection") == 0))
                return invalid(why, "that header frames the request: it cannot carry a secret");
        char *copy = strdup(name);
        if (!copy)
                return invalid(why, "out of memory");
        free(out->how_name);
        out->how_name = copy;
        return 0;
}

const char *policy_credential_how_name(enum policy_credential_how how)
{
        switch (how) {
        case POLICY_CREDENTIAL_BEARER:
                return "bearer";
        case POLICY_CREDENTIAL_BASIC:
                return "basic";
        case POLICY_CREDENTIAL_HEADER:
                return "header";
        case POLICY_CREDENTIAL_QUERY:
                return "query";
        case POLICY_CREDENTIAL_SWAP:
                return "swap";
        }
        return "bearer";
}

void policy_credential_clear(struct policy_credential *c)
{
        free(c->name);
        free(c->source);
        strv_free(&c->command);
        strv_free(&c->hosts);
        free(c->how_name);
        free(c->env);
        free(c->file);
        free(c->pattern);
        free(c->json_pointer);
        memset(c, 0, sizeof(*c));
}

void policy_credentials_free(struct policy_credentials *credentials)
{
        for (size_t i = 0; i < credentials->count; i++)
                policy_credential_clear(&credentials->items[i]);
        free(credentials->items);
        credentials->items = NULL;
        credentials->count = 0;
}

static int copy_string(char **dst, const char *src)
{
        *dst = NULL;
        if (!src)
                return 0;
        *dst = strdup(src);
        return *dst ? 0 : -ENOMEM;
}

static int copy_strv(struct reins_strv *dst, const struct reins_strv *src)
{
        for (size_t i = 0; i < src->count; i++)
                if (strv_push(dst, src->items[i]) < 0)
                        return -ENOMEM;
        return 0;
}

int policy_credentials_put(struct policy_credentials *credentials,
                           const struct policy_credential *credential)
{
        struct policy_credential copy = {
            .source_kind = credential->source_kind,
            .how = credential->how,
            .plaintext = credential->plaintext,
        };
        if (copy_string(&copy.name, credential->name) < 0 ||
            copy_string(&copy.source, credential->source) < 0 ||
            copy_string(&copy.how_name, credential->how_name) < 0 ||
            copy_string(&copy.env, credential->env) < 0 ||
            copy_string(&copy.file, credential->file) < 0 ||
            copy_string(&copy.pattern, credential->pattern) < 0 ||
            copy_string(&copy.json_pointer, credential->json_pointer) < 0 ||
            copy_strv(&copy.command, &credential->command) < 0 ||
            copy_strv(&copy.hosts, &credential->hosts) < 0) {
                policy_credential_clear(&copy);
                return -ENOMEM;
        }
        for (size_t i = 0; i < credentials->count; i++) {
                if (strcmp(credentials->items[i].name, copy.name) == 0) {
                        policy_credential_clear(&credentials->items[i]);
                        credentials->items[i] = copy;
                        return 0;
                }
        }
        struct policy_credential *grown =
            realloc(credentials->items, (credentials->count + 1) * sizeof(*grown));
        if (!grown) {
                policy_credential_clear(&copy);
                return -ENOMEM;
        }
        credentials->items = grown;
        credentials->items[credentials->count++] = copy;
        return 0;
}

/* Pattern parsing and matching for network.allow / network.deny. Matching is
 * on normalized names only (lower case, no trailing dot), so "API.GitHub.com."
 * and "api.github.com" are one destination and cannot be used to dodge a deny. */
#include "net/rules.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const uint16_t allow_default_ports[] = {80, 443};

bool net_host_is_ip_literal(const char *host)
{
        unsigned char buf[sizeof(struct in6_addr)];
        return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int normalize_name(char *name, const char **why)
{
        size_t len = strlen(name);
        if (len == 0) {
                *why = "empty host name";
                return -EINVAL;
        }
        if (len > NET_HOST_MAX) {
                *why = "host name longer than 253 characters";
                return -EINVAL;
        }
        size_t label = 0;
        for (size_t i = 0; i <= len; i++) {
                char c = name[i];
                if (c == '.' || c == '\0') {
                        if (label == 0) {
                                *why = "empty label in host name";
                                return -EINVAL;
                        }
                        if (name[i - 1] == '-' || name[i - label] == '-') {
                                *why = "a host name label starts or ends with '-'";
                                return -EINVAL;
                        }
                        label = 0;
                        continue;
                }
                if (++label > 63) {
                        *why = "a host name label is longer than 63 characters";
                        return -EINVAL;
                }
                c = (char)tolower((unsigned char)c);
                name[i] = c;
                /* '_' occurs in real names (SRV-style, some CDNs); anything
                 * else outside LDH is a smuggling attempt or a typo */
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
                        *why = "host name has a character outside a-z, 0-9, '-', '_' and '.'";
                        return -EINVAL;
                }
        }
        return 0;
}

int net_host_normalize(const char *host, size_t len, char *out, size_t out_size, const char **why)
{
        const char *dummy;
        if (!why)
                why = &dummy;
        if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
                /* bracketed: only an IPv6 literal may be inside */
                if (len - 2 >= out_size || len - 2 > INET6_ADDRSTRLEN) {
                        *why = "bad IPv6 literal";
                        return -EINVAL;
                }
                memcpy(out, host + 1, len - 2);
                out[len - 2] = '\0';
                unsigned char buf[sizeof(struct in6_addr)];
                if (memchr(out, '%', len - 2) || inet_pton(AF_INET6, out, buf) != 1) {
                        *why = "bad IPv6 literal";
                        return -EINVAL;
                }
                for (char *p = out; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
                return 0;
        }
        if (len > 0 && host[len - 1] == '.')
                len--; /* "example.com." is "example.com" */
        if (len == 0) {
                *why = "empty host name";
                return -EINVAL;
        }
        if (len > NET_HOST_MAX || len >= out_size) {
                *why = "host name longer than 253 characters";
                return -EINVAL;
        }
        if (memchr(host, '\0', len)) {
                *why = "NUL byte in host name";
                return -EINVAL;
        }
        memcpy(out, host, len);
        out[len] = '\0';
        unsigned char buf[sizeof(struct in6_addr)];
        if (inet_pton(AF_INET6, out, buf) == 1) {
                for (char *p = out; *p; p++)
                        *p = (char)tolower((unsigned char)*p);
                return 0;
        }
        if (inet_pton(AF_INET, out, buf) == 1)
                return 0;
        /* a name whose last label is numeric ("127.1", "0x7f.1", "2130706433")
         * is an IPv4 address to other resolvers (inet_aton): never a name,
         * and no top-level domain is numeric */
        const char *last = strrchr(out, '.');
        last = last ? last + 1 : out;
        bool numeric = *last != '\0';
        for (const char *p = last; *p && numeric; p++)
                numeric = isdigit((unsigned char)*p);
        if (numeric || strncasecmp(last, "0x", 2) == 0) {
                *why = "numeric host that is not a dotted-quad IPv4 literal";
                return -EINVAL;
        }
        return normalize_name(out, why);
}

static int parse_port(const char *s, uint16_t *port)
{
        if (!*s || strlen(s) > 5)
                return -EINVAL;
        unsigned long v = 0;
        for (const char *p = s; *p; p++) {
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                v = v * 10 + (unsigned long)(*p - '0');
        }
        if (v == 0 || v > 65535)
                return -EINVAL;
        *port = (uint16_t)v;
        return 0;
}

int net_rule_parse(const char *text, struct net_rule *rule, const char **why)
{
        memset(rule, 0, sizeof(*rule));
        size_t len = strlen(text);
        if (len == 0) {
                *why = "empty pattern";
                return -EINVAL;
        }
        if (len >= sizeof(rule->text)) {
                *why = "pattern too long";
                return -EINVAL;
        }
        memcpy(rule->text, text, len + 1);
        char buf[sizeof(rule->text)];
        memcpy(buf, text, len + 1);

        /* split off ":port": after "]" for "[v6]:port"; a bare IPv6 literal
         * has several colons and no port */
        char *host = buf;
        char *colon = NULL;
        if (buf[0] == '[') {
                char *close = strchr(buf, ']');
                if (!close) {
                        *why = "'[' without ']'";
                        return -EINVAL;
                }
                if (close[1] == ':')
                        colon = close + 1;
                else if (close[1] != '\0') {
                        *why = "junk after ']'";
                        return -EINVAL;
                }
        } else if (strchr(buf, ':') == strrchr(buf, ':')) {
                colon = strchr(buf, ':');
        }
        if (colon) {
                *colon = '\0';
                if (parse_port(colon + 1, &rule->port) < 0) {
                        *why = "port must be a number from 1 to 65535";
                        return -EINVAL;
                }
        }
        if (strcmp(host, "*") == 0) {
                rule->kind = NET_RULE_ANY;
                return 0;
        }
        if (strncmp(host, "*.", 2) == 0) {
                rule->kind = NET_RULE_WILDCARD;
                host += 2;
        } else {
                rule->kind = NET_RULE_EXACT;
        }
        if (strchr(host, '*')) {
                *why = "'*' is only allowed as the whole first label ('*.example.com')";
                return -EINVAL;
        }
        char norm[NET_HOST_MAX + 1];
        if (net_host_normalize(host, strlen(host), norm, sizeof(norm), why) < 0)
                return -EINVAL;
        if (rule->kind == NET_RULE_WILDCARD) {
                if (net_host_is_ip_literal(norm)) {
                        *why = "'*.' cannot prefix an IP address";
                        return -EINVAL;
                }
                snprintf(rule->host, sizeof(rule->host), ".%s", norm);
                if (strlen(norm) + 1 >= sizeof(rule->host)) {
                        *why = "host name longer than 253 characters";
                        return -EINVAL;
                }
        } else {
                snprintf(rule->host, sizeof(rule->host), "%s", norm);
        }
        return 0;
}

bool net_rule_matches(const struct net_rule *rule, const char *host, uint16_t port,
                      const uint16_t *default_ports, size_t n_default)
{
        if (rule->port) {
                if (rule->port != port)
                        return false;
        } else if (n_default) {
                bool found = false;
                for (size_t i = 0; i < n_default && !found; i++)
                        found = default_ports[i] == port;
                if (!found)
                        return false;
        }
        switch (rule->kind) {
        case NET_RULE_ANY:
                return true;
        case NET_RULE_EXACT:
                return strcmp(rule->host, host) == 0;
        case NET_RULE_WILDCARD: {
                /* ".github.com" matches "api.github.com" (a label boundary
                 * precedes the suffix) and neither "github.com" nor
                 * "evilgithub.com"; IP literals never match a name suffix */
                size_t hl = strlen(host), sl = strlen(rule->host);
                return hl > sl && strcmp(host + hl - sl, rule->host) == 0 &&
                       !net_host_is_ip_literal(host);
        }
        }
        return false;
}

int net_rules_build(struct net_rules *rules, const struct reins_strv *patterns, const char *key,
                    struct reins_error *err)
{
        rules->items = NULL;
        rules->count = 0;
        if (!patterns || patterns->count == 0)
                return 0;
        rules->items = calloc(patterns->count, sizeof(*rules->items));
        if (!rules->items)
                return reins_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < patterns->count; i++) {
                const char *why = "invalid";
                if (net_rule_parse(patterns->items[i], &rules->items[i], &why) < 0) {
                        net_rules_free(rules);
                        return reins_error_set(err, EINVAL, "%s: '%s': %s", key, patterns->items[i],
                                               why);
                }
                rules->count++;
        }
        return 0;
}

void net_rules_free(struct net_rules *rules)
{
        free(rules->items);
        rules->items = NULL;
        rules->count = 0;
}

static const struct net_rule *rules_find(const struct net_rules *rules, const char *host,
                                         uint16_t port, const uint16_t *defaults, size_t n)
{
        for (size_t i = 0; rules && i < rules->count; i++)
                if (net_rule_matches(&rules->items[i], host, port, defaults, n))
                        return &rules->items[i];
        return NULL;
}

enum net_verdict net_rules_decide(const struct net_rules *allow, const struct net_rules *deny,
                                  const char *host, uint16_t port, const char **rule)
{
        const struct net_rule *r = rules_find(deny, host, port, NULL, 0);
        if (r) {
                *rule = r->text;
                return NET_VERDICT_DENY_RULE;
        }
        r = rules_find(allow, host, port, allow_default_ports,
                       sizeof(allow_default_ports) / sizeof(allow_default_ports[0]));
        if (r) {
                *rule = r->text;
                return NET_VERDICT_ALLOW;
        }
        *rule = NULL;
        return NET_VERDICT_NOT_ALLOWED;
}

const char *net_rules_match_any_port(const struct net_rules *rules, const char *host, uint16_t port)
{
        const struct net_rule *r = rules_find(rules, host, port, NULL, 0);
        return r ? r->text : NULL;
}

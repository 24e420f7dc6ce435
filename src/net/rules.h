/* Destination patterns of network.allow / network.deny / --allow-net:
 * "host", "*.domain" (subdomains only, never the domain itself), "*" (any
 * name), an IP literal ("10.0.0.5", "[::1]"), each with an optional ":port".
 * Pure: parsing, validation and matching, no I/O. */
#ifndef REINS_NET_RULES_H
#define REINS_NET_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/strv.h"

#define NET_HOST_MAX 253 /* longest DNS name in text form (RFC 1035) */

enum net_rule_kind {
        NET_RULE_EXACT,    /* the name (or IP literal) itself */
        NET_RULE_WILDCARD, /* "*.domain": any name below domain, not domain */
        NET_RULE_ANY,      /* "*": every name */
};

struct net_rule {
        enum net_rule_kind kind;
        char host[NET_HOST_MAX + 2];  /* normalized; for WILDCARD the suffix ".domain" */
        uint16_t port;                /* 0: not stated */
        char text[NET_HOST_MAX + 16]; /* the pattern as written */
};

struct net_rules {
        struct net_rule *items;
        size_t count;
};

/* Normalize a host the client asked for into `out`: lower case, one trailing
 * dot dropped, IPv6 brackets dropped; refuses empty, over-long, bad labels and
 * bytes outside [a-z0-9-_.] for names. Returns 0 or -EINVAL with *why set. */
int net_host_normalize(const char *host, size_t len, char *out, size_t out_size, const char **why);
/* Is a normalized host an IPv4 or IPv6 literal? */
bool net_host_is_ip_literal(const char *host);

/* Parse one pattern. -EINVAL with *why. */
int net_rule_parse(const char *text, struct net_rule *rule, const char **why);
/* Does a rule match a normalized host and port? A rule without a port
 * matches `default_ports` (NULL-free array of `n_default` ports; n_default 0
 * means every port). */
bool net_rule_matches(const struct net_rule *rule, const char *host, uint16_t port,
                      const uint16_t *default_ports, size_t n_default);

/* Parse a list; `key` names it in errors ("network.allow: '*foo': ..."). */
int net_rules_build(struct net_rules *rules, const struct reins_strv *patterns, const char *key,
                    struct reins_error *err);
void net_rules_free(struct net_rules *rules);

enum net_verdict {
        NET_VERDICT_ALLOW,
        NET_VERDICT_DENY_RULE,   /* a deny pattern matched */
        NET_VERDICT_NOT_ALLOWED, /* no allow pattern matched (default deny) */
};

/* Deny beats allow, order never matters, default deny. Allow patterns without
 * a port mean ports 80 and 443; deny patterns without a port mean every port
 * (a deny is never narrower than it reads). *rule: the deciding pattern text,
 * or NULL for the default deny. */
enum net_verdict net_rules_decide(const struct net_rules *allow, const struct net_rules *deny,
                                  const char *host, uint16_t port, const char **rule);
/* The text of the first pattern of `rules` matching host:port, or NULL. A
 * pattern without a port matches every port: used for network.ask, which
 * (like a deny) is never narrower than it reads, so an ask of "gist.github.com"
 * also holds gist.github.com:8443 that some allow pattern grants. */
const char *net_rules_match_any_port(const struct net_rules *rules, const char *host,
                                     uint16_t port);

#endif

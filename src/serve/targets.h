/* Where the daemon sends what happens (issue 15, items 4 and 5): the
 * `forward:` and `notify:` lists of its configuration file (serve/config.h).
 *
 *   forward:                       # live SIEM forwarding (serve/forward.c)
 *     - name: siem                 # [a-z0-9_-]{1,32}: names its cursor file
 *       type: syslog-tcp           # syslog-tcp | syslog-tls | splunk-hec | elasticsearch
 *       address: 127.0.0.1:6514    # syslog: HOST:PORT
 *       url: https://siem.example:8088/services/collector/event   # HEC, bulk: http(s)://
 *       token: SECRET              # splunk-hec: Authorization: Splunk SECRET
 *       ca: /etc/reins/siem-ca.pem # syslog-tls (required), https:// (else the system's
 *                                  # trust store): the CA that signs the receiver
 *       server_name: siem.example  # TLS: the name its certificate holds (default: the host)
 *       batch: 100                 # events per batch (1..1000)
 *       backoff_max: 30            # seconds between attempts at most (1..3600)
 *   notify:                        # escalation (serve/notify.c)
 *     - name: oncall
 *       type: webhook              # webhook | command
 *       url: https://hooks.example/reins   # http:// or https://
 *       secret: SHARED             # webhook: X-Reins-Signature: sha256=HEX(HMAC(body))
 *       ca: /etc/reins/hook-ca.pem # https://: the CA (default: the system's trust store)
 *       server_name: hooks.example # https://: the certificate's name (default: the host)
 *       command: [/usr/local/bin/page, --team, sec]   # command: argv, no shell
 *       attempts: 5                # webhook: tries before the dead-letter file
 *       timeout: 10                # seconds, per attempt / for the command
 *       on: [tier, finding, approval, frozen]
 *       severity: high             # finding: at or above (low|medium|high|critical)
 *       approval_wait: 60          # approval: waiting longer than N seconds
 */
#ifndef REINS_SERVE_TARGETS_H
#define REINS_SERVE_TARGETS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"
#include "util/strv.h"

enum serve_forward_type {
        SERVE_FORWARD_SYSLOG_TCP,
        SERVE_FORWARD_SYSLOG_TLS,
        SERVE_FORWARD_HEC,
        SERVE_FORWARD_ELASTIC,
};

struct serve_forward_target {
        char *name;
        enum serve_forward_type type;
        char *host, *port; /* syslog: address; HTTP: from the url */
        char *path;        /* HTTP: the url's path */
        bool tls;          /* HTTP: an https:// url */
        char *token;       /* splunk-hec */
        char *ca;          /* syslog-tls, https: CA file (https: NULL: the system's) */
        char *server_name; /* syslog-tls, https: NULL: the host */
        unsigned batch;
        unsigned backoff_max; /* seconds */
};

enum serve_notify_on {
        SERVE_NOTIFY_TIER = 1 << 0,
        SERVE_NOTIFY_FINDING = 1 << 1,
        SERVE_NOTIFY_APPROVAL = 1 << 2,
        SERVE_NOTIFY_FROZEN = 1 << 3,
};

struct serve_notify_target {
        char *name;
        bool command_hook; /* else a webhook */
        char *host, *port, *path;
        bool tls;          /* an https:// url */
        char *ca;          /* https: NULL: the system's trust store */
        char *server_name; /* https: NULL: the host */
        char *secret;
        struct reins_strv command;
        unsigned attempts;
        unsigned timeout; /* seconds */
        unsigned on;      /* enum serve_notify_on */
        int severity;     /* 0 low .. 3 critical */
        unsigned approval_wait;
};

struct serve_targets {
        struct serve_forward_target *forward;
        size_t forward_count;
        struct serve_notify_target *notify;
        size_t notify_count;
};

/* yaml_node_t and the walk (serve/yaml_map.h), not included here */
struct yaml_node_s;
struct serve_yaml_walk;

/* The lists `forward:` and `notify:` (`key` names them in errors). */
int serve_targets_parse_forward(const struct serve_yaml_walk *w, const struct yaml_node_s *node,
                                const char *key, struct serve_targets *out);
int serve_targets_parse_notify(const struct serve_yaml_walk *w, const struct yaml_node_s *node,
                               const char *key, struct serve_targets *out);
void serve_targets_free(struct serve_targets *targets);

/* "low", "medium", "high", "critical": 0..3; -1 otherwise. */
int serve_severity_rank(const char *name);

#endif

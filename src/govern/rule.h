/* Inside the risk engine: the rule table, the per-session state the rules
 * keep, the parsed view of one event, and the text helpers the rules share.
 * Nothing here is used outside src/govern. */
#ifndef REINS_GOVERN_RULE_H
#define REINS_GOVERN_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "govern/risk.h"

#define RULE_PATH_MAX     512
#define RULE_ARGV_MAX     64 /* arguments looked at per exec; the rest are ignored */
#define RULE_RING_MAX     64 /* entries in any counting window */
#define RULE_FETCHED_MAX  16 /* download targets remembered */
#define RULE_EVIDENCE_MAX 8  /* event references in one finding */
#define RULE_TIME_MAX     40
#define RULE_PATHS_MAX    512 /* distinct paths one counting window tells apart (a power of two) */

/* A reference to an event: its trail seq when it has one, else its time. */
struct rule_evidence {
        int64_t seq; /* -1: none */
        char time[RULE_TIME_MAX];
};

/* Timestamped values (with evidence) in a sliding window, bounded: the
 * newest RULE_RING_MAX entries count. */
struct rule_window {
        int64_t at[RULE_RING_MAX];
        int64_t value[RULE_RING_MAX];
        struct rule_evidence evidence[RULE_RING_MAX];
        int head, count;
};

/* A sum over a sliding window kept in RULE_RING_MAX time buckets: any
 * number of additions in bounded state, at the price of one bucket's width
 * of blur at the window's far end. */
struct rule_counter {
        int64_t start_ms[RULE_RING_MAX];
        int64_t sum[RULE_RING_MAX];
};

/* Path hashes seen in a sliding window, to count distinct paths: the same
 * file edited a hundred times is one file. Open addressing; an entry older
 * than the window is free again. */
struct rule_path_set {
        uint64_t hash[RULE_PATHS_MAX]; /* 0: never used */
        int64_t at[RULE_PATHS_MAX];
        int used; /* slots ever used, stale ones included */
};

struct rule_host_seen {
        uint64_t host_hash, domain_hash;
        int64_t at;
};

/* The parsed event every rule reads. Strings are borrowed from the event. */
struct rule_event {
        int64_t now_ms;
        struct rule_evidence evidence;
        /* exec */
        const char *argv[RULE_ARGV_MAX];
        int argc;
        int argv_dropped;    /* arguments past RULE_ARGV_MAX, not in argv */
        const char *command; /* basename of argv[0] */
        unsigned command_class;
        const char *path, *cwd;
        /* net.* */
        const char *host, *address;
        bool allowed;
        int64_t bytes_up; /* net.progress, net.close: sent since the last report */
};

struct rule_state {
        bool enabled;
        enum risk_severity severity;
        double weight;
        int64_t threshold, window_ms;
        enum risk_action action;
        int64_t last_fired_ms;
        bool has_fired;
};

struct risk_engine {
        struct risk_config config;
        struct rule_state rules[RULE_COUNT];
        char workspace[RULE_PATH_MAX];
        /* score */
        double score;
        int64_t score_ms;
        int tier;
        uint64_t findings;
        /* secret read then egress */
        bool secret_read;
        int64_t secret_read_ms;
        struct rule_evidence secret_evidence;
        char secret_path[RULE_PATH_MAX];
        /* counting rules */
        struct rule_window denials;
        struct rule_window asks;      /* approval requests and refusals */
        struct rule_window deletions; /* the evidence; the count is deleted */
        struct rule_counter deleted;
        struct rule_window rewrites; /* the evidence; the count is rewritten + rewritten_unseen */
        struct rule_path_set rewritten;
        struct rule_counter rewritten_unseen; /* estimated, past RULE_ARGV_MAX */
        struct rule_window encryptions;       /* value: the hash of the file's resolved path */
        struct rule_host_seen hosts[RULE_RING_MAX];
        int hosts_head;
        /* bytes sent: over egress-volume's window, over egress-spike's
         * window and over the history it is compared with */
        struct rule_counter egress, egress_recent, egress_history;
        bool egress_spike_held; /* fired for the spike under way: quiet until it ends */
        /* download targets of curl -o / wget -O */
        char fetched[RULE_FETCHED_MAX][RULE_PATH_MAX];
        int fetched_head;
        char dropped[RULE_FETCHED_MAX][RULE_PATH_MAX]; /* made executable this session */
        int dropped_head;
        /* last event time, for a time that fails to parse */
        int64_t last_ms;
        char time_prefix[20]; /* "YYYY-MM-DDTHH:MM:SS" of the last parsed time */
        int64_t time_prefix_ms;
};

/* Fire rule `id` for the event (plus up to `extra_count` earlier events as
 * evidence). Honors enable and the re-fire interval; `detail` says what
 * matched, in a few words. */
void rule_fire(struct risk_engine *engine, enum rule_id id, const struct rule_event *event,
               const char *detail, const struct rule_evidence *extra, int extra_count);

/* The rules, by event type. */
void rule_exec(struct risk_engine *engine, const struct rule_event *event);
void rule_net_decision(struct risk_engine *engine, const struct rule_event *event);
/* Bytes sent (net.progress, or the rest of a connection at net.close). */
void rule_net_sent(struct risk_engine *engine, const struct rule_event *event);
void rule_net_budget(struct risk_engine *engine, const struct rule_event *event);

/* --- windows */
void rule_window_add(struct rule_window *w, int64_t at, int64_t value,
                     const struct rule_evidence *evidence);
int64_t rule_window_sum(const struct rule_window *w, int64_t since);
int rule_window_last_evidence(const struct rule_window *w, int64_t since, struct rule_evidence *out,
                              int max);
void rule_window_clear(struct rule_window *w);

void rule_counter_add(struct rule_counter *c, int64_t window_ms, int64_t now_ms, int64_t value);
int64_t rule_counter_sum(const struct rule_counter *c, int64_t window_ms, int64_t now_ms);
void rule_counter_clear(struct rule_counter *c);

/* True when `hash` was not in the set since `since` (it is now, at now_ms). */
bool rule_path_set_add(struct rule_path_set *set, uint64_t hash, int64_t now_ms, int64_t since);
int rule_path_set_count(const struct rule_path_set *set, int64_t since);
void rule_path_set_clear(struct rule_path_set *set);

/* A counting rule reached its threshold: fire with the window's events as
 * evidence (`detail` says what was counted), then start counting afresh. */
void rule_fire_count(struct risk_engine *engine, enum rule_id id, const struct rule_event *event,
                     struct rule_window *evidence, const char *detail);
/* `counted` of the `looked` arguments seen counted; the same share of the
 * arguments past RULE_ARGV_MAX is assumed to (xargs packs thousands into
 * one exec, and they are of a kind). */
int64_t rule_count_with_dropped(const struct rule_event *event, int counted, int looked);

/* mass-rewrite (rule_rewrite.c) */
void rule_rewrite(struct risk_engine *engine, const struct rule_event *event);

/* --- text helpers (rule_text.c) */

/* Command classes, from the basename of argv[0]. */
enum {
        CMD_SHELL = 1u << 0,       /* sh, bash, … */
        CMD_INTERPRETER = 1u << 1, /* python, perl, node, … (shells too) */
        CMD_SEARCH = 1u << 2,      /* grep, rg, find, strings, … */
        CMD_READER = 1u << 3,      /* cat, less, head, cp, base64, … */
        CMD_FETCH = 1u << 4,       /* curl, wget */
        CMD_RECON = 1u << 5,
        CMD_ESCAPE = 1u << 6,
        CMD_NETCAT = 1u << 7, /* nc, ncat, netcat */
        CMD_SOCAT = 1u << 8,
        CMD_WRITER = 1u << 9, /* tee, cp, mv, install, ln, sed, dd */
        CMD_CRONTAB = 1u << 10,
        CMD_RM = 1u << 11,
        CMD_FIND = 1u << 12,
        CMD_DECODE = 1u << 13,  /* base64, xxd, openssl */
        CMD_WRAPPER = 1u << 14, /* sudo, env, nohup, exec, … (skipped in scripts) */
        CMD_TELNET = 1u << 15,  /* telnet, openssl (a socket a shell can sit on) */
        CMD_REWRITE = 1u << 16, /* sed, perl, shred, truncate, dd, gpg, openssl, age */
};
void rule_text_init(void); /* builds the command index; idempotent */
unsigned rule_command_class(const char *name, size_t length);
const char *rule_basename(const char *path);
/* `command` is `name`, or `name` with a version suffix (perl5.36, gpg2). */
bool rule_command_is(const char *command, const char *name);

/* `arg` made absolute against `cwd` with "." and ".." folded; "~" stays a
 * leading "~". False when it does not fit. */
bool rule_path_resolve(const char *cwd, const char *arg, char *out, size_t size);

bool rule_is_secret_path(const char *path);
bool rule_is_persistence_path(const char *path);
/* "/", "/home", "/home/u", "/root", "~", a dot-dir in a home, system trees. */
bool rule_is_broad_root(const char *resolved);
/* A build product or cache (build/, node_modules, *.o, *.log …): losing
 * many of them is `make clean`. */
bool rule_is_disposable(const char *path);
/* The key-material needle `text` contains, or NULL. */
const char *rule_key_material(const char *text);

bool rule_contains(const char *haystack, const char *needle);
bool rule_contains_nocase(const char *haystack, const char *needle);
bool rule_host_matches(const char *host, const char *domain); /* equal or a subdomain */
double rule_label_entropy(const char *label, size_t length);  /* bits per character */
uint64_t rule_hash(const char *text, size_t length);

/* A shell script cut into stages: `a | b; c` is pipelines 0 (a, b) and 1 (c). */
#define RULE_STAGES_MAX 32
struct rule_stage {
        int pipeline;
        unsigned command_class;
        const char *begin, *end; /* the stage's text, its command word first */
};
int rule_script_stages(const char *script, struct rule_stage *stages, int max);
bool rule_stage_has_word(const struct rule_stage *stage, const char *word);

#endif

/* Rules over the proxy's events: metadata services, DNS-shaped
 * exfiltration, paste and tunnel services, egress volume and spikes,
 * probing, and the egress half of "secret read then egress". */
#include "govern/rule.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/cleanup.h"

/* Instance metadata hands out the cloud role's credentials: an agent has no
 * business there (AWS/Azure/GCP/OpenStack, AWS IPv6, ECS, Alibaba). */
static const char *const metadata_hosts[] = {
    "169.254.169.254", "metadata.google.internal", "metadata.goog",      "fd00:ec2::254",
    "169.254.170.2",   "100.100.100.200",          "metadata.azure.com",
};

/* Anonymous sinks for data: paste sites, file drops, request catchers and
 * tunnels (a tunnel also lets a remote party reach into the session). */
static const char *const paste_domains[] = {
    "pastebin.com",
    "paste.ee",
    "hastebin.com",
    "dpaste.org",
    "dpaste.com",
    "paste.rs",
    "termbin.com",
    "ix.io",
    "sprunge.us",
    "0x0.st",
    "transfer.sh",
    "file.io",
    "tmpfiles.org",
    "filebin.net",
    "gofile.io",
    "catbox.moe",
    "temp.sh",
    "bashupload.com",
    "webhook.site",
    "requestbin.com",
    "requestbin.net",
    "pipedream.net",
    "ngrok.io",
    "ngrok-free.app",
    "ngrok.app",
    "ngrok.dev",
    "trycloudflare.com",
    "oast.fun",
    "oast.pro",
    "oast.live",
    "oast.site",
    "oast.online",
    "oast.me",
    "interact.sh",
    "burpcollaborator.net",
    "requestcatcher.com",
    "beeceptor.com",
    "hookbin.com",
    "serveo.net",
    "loca.lt",
    "localtunnel.me",
    "rentry.co",
    "ghostbin.com",
    "paste.c-net.org",
};

static bool is_ip_literal(const char *host)
{
        if (strchr(host, ':'))
                return true;
        for (const char *p = host; *p; p++)
                if (!((*p >= '0' && *p <= '9') || *p == '.'))
                        return false;
        return true;
}

static void check_metadata(struct risk_engine *engine, const struct rule_event *event)
{
        for (size_t i = 0; i < ARRAY_SIZE(metadata_hosts); i++) {
                const char *m = metadata_hosts[i];
                if ((event->host && strcasecmp(event->host, m) == 0) ||
                    (event->address && strcasecmp(event->address, m) == 0)) {
                        rule_fire(engine, RULE_CLOUD_METADATA, event, m, NULL, 0);
                        return;
                }
        }
}

/* The registrable domain, roughly: the last two labels, three under a
 * two-letter country code with a generic second level (example.co.uk). */
static const char *registrable_domain(const char *host)
{
        const char *dots[3] = {NULL, NULL, NULL}; /* last, second last, third last */
        for (const char *p = host; *p; p++)
                if (*p == '.') {
                        dots[2] = dots[1];
                        dots[1] = dots[0];
                        dots[0] = p;
                }
        if (!dots[1])
                return host;
        const char *second = dots[1] + 1;
        size_t second_len = (size_t)(dots[0] - second);
        bool country = strlen(dots[0] + 1) == 2;
        bool generic =
            (second_len == 2 && (strncmp(second, "co", 2) == 0 || strncmp(second, "ac", 2) == 0)) ||
            (second_len == 3 && (strncmp(second, "com", 3) == 0 || strncmp(second, "org", 3) == 0 ||
                                 strncmp(second, "net", 3) == 0 || strncmp(second, "gov", 3) == 0 ||
                                 strncmp(second, "edu", 3) == 0));
        if (country && generic)
                return dots[2] ? dots[2] + 1 : host;
        return second;
}

static void check_dns_name(struct risk_engine *engine, const struct rule_event *event)
{
        const struct rule_state *s = &engine->rules[RULE_DNS_EXFIL_NAME];
        const char *domain = registrable_domain(event->host);
        /* only the labels left of the registrable domain carry chosen data */
        for (const char *p = event->host; p < domain;) {
                const char *end = strchr(p, '.');
                if (!end || end > domain)
                        end = domain;
                size_t length = (size_t)(end - p);
                char detail[96];
                if ((int64_t)length > s->threshold) {
                        snprintf(detail, sizeof(detail), "label of %zu characters", length);
                        rule_fire(engine, RULE_DNS_EXFIL_NAME, event, detail, NULL, 0);
                        return;
                }
                /* hex carries 4 bits a character, base32 5: random data
                 * encoded into a label sits near those; words sit near 3 */
                if (length >= 24) {
                        double entropy = rule_label_entropy(p, length);
                        if (entropy >= 4.0) {
                                snprintf(detail, sizeof(detail),
                                         "label entropy %.2f bits/char over %zu characters",
                                         entropy, length);
                                rule_fire(engine, RULE_DNS_EXFIL_NAME, event, detail, NULL, 0);
                                return;
                        }
                }
                p = end + 1;
        }
}

static void check_subdomains(struct risk_engine *engine, const struct rule_event *event)
{
        const struct rule_state *s = &engine->rules[RULE_DNS_EXFIL_SUBDOMAINS];
        const char *domain = registrable_domain(event->host);
        if (domain == event->host)
                return;
        uint64_t host_hash = rule_hash(event->host, strlen(event->host));
        uint64_t domain_hash = rule_hash(domain, strlen(domain));
        int64_t since = event->now_ms - s->window_ms;
        int distinct = 1;
        for (int i = 0; i < RULE_RING_MAX; i++) {
                const struct rule_host_seen *h = &engine->hosts[i];
                if (h->at < since || (h->host_hash == 0 && h->domain_hash == 0))
                        continue;
                if (h->host_hash == host_hash)
                        return; /* seen in the window: not a new name */
                if (h->domain_hash == domain_hash)
                        distinct++;
        }
        struct rule_host_seen *slot = &engine->hosts[engine->hosts_head];
        slot->host_hash = host_hash;
        slot->domain_hash = domain_hash;
        slot->at = event->now_ms;
        engine->hosts_head = (engine->hosts_head + 1) % RULE_RING_MAX;
        if (distinct >= s->threshold) {
                char detail[160];
                snprintf(detail, sizeof(detail), "%d distinct names under %s", distinct, domain);
                rule_fire(engine, RULE_DNS_EXFIL_SUBDOMAINS, event, detail, NULL, 0);
                for (int i = 0; i < RULE_RING_MAX; i++)
                        if (engine->hosts[i].domain_hash == domain_hash)
                                engine->hosts[i].at = INT64_MIN;
        }
}

static void check_paste(struct risk_engine *engine, const struct rule_event *event)
{
        for (size_t i = 0; i < ARRAY_SIZE(paste_domains); i++)
                if (rule_host_matches(event->host, paste_domains[i])) {
                        rule_fire(engine, RULE_PASTE_UPLOAD, event, paste_domains[i], NULL, 0);
                        return;
                }
}

static void check_secret_egress(struct risk_engine *engine, const struct rule_event *event)
{
        const struct rule_state *s = &engine->rules[RULE_SECRET_EGRESS];
        if (!engine->secret_read || !event->allowed ||
            event->now_ms - engine->secret_read_ms > s->window_ms)
                return;
        char detail[RULE_PATH_MAX + 300];
        snprintf(detail, sizeof(detail), "read %s, then connected to %s", engine->secret_path,
                 event->host      ? event->host
                 : event->address ? event->address
                                  : "?");
        rule_fire(engine, RULE_SECRET_EGRESS, event, detail, &engine->secret_evidence, 1);
}

static void check_denials(struct risk_engine *engine, const struct rule_event *event)
{
        const struct rule_state *s = &engine->rules[RULE_REPEATED_DENIALS];
        rule_window_add(&engine->denials, event->now_ms, 1, &event->evidence);
        int64_t since = event->now_ms - s->window_ms;
        int64_t count = rule_window_sum(&engine->denials, since);
        if (count < s->threshold)
                return;
        char detail[64];
        snprintf(detail, sizeof(detail), "%lld denied connections", (long long)count);
        rule_fire_count(engine, RULE_REPEATED_DENIALS, event, &engine->denials, detail);
}

void rule_net_decision(struct risk_engine *engine, const struct rule_event *event)
{
        check_metadata(engine, event);
        if (!event->allowed)
                check_denials(engine, event);
        else
                check_secret_egress(engine, event);
        if (!event->host || !event->host[0] || is_ip_literal(event->host))
                return;
        check_dns_name(engine, event);
        check_subdomains(engine, event);
        check_paste(engine, event);
}

static void check_volume(struct risk_engine *engine, const struct rule_event *event)
{
        const struct rule_state *s = &engine->rules[RULE_EGRESS_VOLUME];
        rule_counter_add(&engine->egress, s->window_ms, event->now_ms, event->bytes_up);
        int64_t total = rule_counter_sum(&engine->egress, s->window_ms, event->now_ms);
        if (total < s->threshold)
                return;
        char detail[96];
        snprintf(detail, sizeof(detail), "%lld bytes sent in %lld s", (long long)total,
                 (long long)(s->window_ms / 1000));
        rule_fire(engine, RULE_EGRESS_VOLUME, event, detail, NULL, 0);
        rule_counter_clear(&engine->egress);
}

/* The session is its own baseline: what it sent in the SPIKE_HISTORY
 * windows before this one. A spike is over the floor (the threshold: small
 * sessions never spike) and over SPIKE_MULTIPLE times that average. */
#define SPIKE_HISTORY  30
#define SPIKE_MULTIPLE 10

static void check_spike(struct risk_engine *engine, const struct rule_event *event)
{
        const struct rule_state *s = &engine->rules[RULE_EGRESS_SPIKE];
        int64_t window = s->window_ms, history = s->window_ms * (SPIKE_HISTORY + 1);
        rule_counter_add(&engine->egress_recent, window, event->now_ms, event->bytes_up);
        rule_counter_add(&engine->egress_history, history, event->now_ms, event->bytes_up);
        int64_t recent = rule_counter_sum(&engine->egress_recent, window, event->now_ms);
        int64_t before = 0;
        if (recent >= s->threshold) { /* the history only matters over the floor */
                before = rule_counter_sum(&engine->egress_history, history, event->now_ms) - recent;
                if (before < 0)
                        before = 0; /* the two counters blur differently at their edges */
        }
        /* recent > MULTIPLE * (before / HISTORY), without the division */
        bool spike = recent >= s->threshold &&
                     (double)recent * SPIKE_HISTORY > (double)SPIKE_MULTIPLE * (double)before;
        /* One finding per spike: it ends when the window is back under the
         * floor or the history has caught up with it. A steady upload is
         * one finding at its start, a jump in its rate another. */
        if (!spike || engine->egress_spike_held) {
                engine->egress_spike_held = spike;
                return;
        }
        engine->egress_spike_held = true;
        char detail[160];
        if (before > 0)
                snprintf(detail, sizeof(detail),
                         "%lld bytes sent in %lld s, %.0f times the rate of the %lld s before",
                         (long long)recent, (long long)(window / 1000),
                         (double)recent * SPIKE_HISTORY / (double)before,
                         (long long)(window * SPIKE_HISTORY / 1000));
        else
                snprintf(detail, sizeof(detail),
                         "%lld bytes sent in %lld s, nothing in the %lld s before",
                         (long long)recent, (long long)(window / 1000),
                         (long long)(window * SPIKE_HISTORY / 1000));
        rule_fire(engine, RULE_EGRESS_SPIKE, event, detail, NULL, 0);
}

void rule_net_sent(struct risk_engine *engine, const struct rule_event *event)
{
        if (event->bytes_up <= 0)
                return;
        check_volume(engine, event);
        check_spike(engine, event);
}

void rule_net_budget(struct risk_engine *engine, const struct rule_event *event)
{
        rule_fire(engine, RULE_EGRESS_VOLUME, event, "the session's egress budget is spent", NULL,
                  0);
}

/* What reins refused, said on the terminal as it happens: one line per
 * denied destination and per refused syscall, coalesced (the same
 * destination is said once) and rate-limited, so a user sees why `curl`
 * answered 403 without -v, or why renaming onto .git/config failed
 * (it is protected). And -v in words: one line per event, its type and
 * fields, instead of JSON (--events stays JSON). Lines go out as notices
 * (util/notice.h): escaped whole, since hosts, reasons, commands and paths
 * are the agent's text, and framed for a raw terminal. */
#include "cli/run_notices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/notice.h"
#include "util/text_escape.h"

#define NOTICE_BURST      5 /* lines at once, then NOTICE_PER_SECOND */
#define NOTICE_PER_SECOND 2

static bool notice_seen(struct run_notices *n, const char *key)
{
        for (size_t i = 0; i < n->seen_count; i++)
                if (strcmp(n->seen[i], key) == 0)
                        return true;
        if (n->seen_count < RUN_NOTICES_KEYS)
                snprintf(n->seen[n->seen_count++], sizeof(n->seen[0]), "%s", key);
        return false;
}

/* A token bucket: NOTICE_BURST, refilled at NOTICE_PER_SECOND. */
static bool notice_allowed(struct run_notices *n)
{
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double t = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
        if (n->last == 0)
                n->tokens = NOTICE_BURST;
        else
                n->tokens += (t - n->last) * NOTICE_PER_SECOND;
        if (n->tokens > NOTICE_BURST)
                n->tokens = NOTICE_BURST;
        n->last = t;
        if (n->tokens < 1) {
                n->suppressed++;
                return false;
        }
        n->tokens -= 1;
        return true;
}

static const char *field(const json_t *event, const char *key)
{
        const char *v = json_string_value(json_object_get(event, key));
        return v ? v : "";
}

static void notice_net(struct run_notices *n, const json_t *event)
{
        if (strcmp(field(event, "decision"), "denied") != 0)
                return;
        char key[320];
        json_int_t port = json_integer_value(json_object_get(event, "port"));
        const char *host = field(event, "host")[0] ? field(event, "host") : field(event, "address");
        snprintf(key, sizeof(key), "net %s:%lld", host, (long long)port);
        if (notice_seen(n, key) || !notice_allowed(n))
                return;
        const char *why = field(event, "gate_reason")[0] ? field(event, "gate_reason")
                          : field(event, "detail")[0]    ? field(event, "detail")
                                                         : field(event, "reason");
        notice("denied %s:%lld: %s", host[0] ? host : "?", (long long)port,
               why[0] ? why : "not allowed by the policy");
}

static void notice_syscall(struct run_notices *n, const json_t *event)
{
        char key[128];
        snprintf(key, sizeof(key), "syscall %s", field(event, "syscall"));
        if (notice_seen(n, key) || !notice_allowed(n))
                return;
        notice("refused %s() to %s (the sandbox forbids it)", field(event, "syscall"),
               field(event, "comm"));
}

/* A rename onto a protected path, answered EROFS (sandbox/protect_notify.h):
 * the agent sees "Read-only file system", the user sees why. Once per path. */
static void notice_protected(struct run_notices *n, const json_t *event)
{
        /* "kept out", "created": run_protect.c says those at the end; a
         * summary names no new path */
        if (strcmp(field(event, "action"), "refused") != 0)
                return;
        char key[160];
        snprintf(key, sizeof(key), "protect %s", field(event, "path"));
        if (notice_seen(n, key) || !notice_allowed(n))
                return;
        notice("%s is protected: read-only in the sandbox (filesystem.protect; see reins policy "
               "show)",
               field(event, "path"));
}

static void notice_limit(struct run_notices *n, const json_t *event)
{
        /* most limit events name themselves by `kind` (timeout, memory,
         * trail_size ...), the workspace copy's by `limit` */
        const char *what = field(event, "limit");
        if (!*what)
                what = field(event, "kind");
        /* a trail that cannot be written ends the session: run.c says so */
        if (strcmp(what, "trail_write") == 0)
                return;
        char key[128];
        snprintf(key, sizeof(key), "limit %s", what);
        if (notice_seen(n, key) || !notice_allowed(n))
                return;
        notice("limit reached: %s", what);
}

void run_notices_sink(void *ctx, const json_t *event)
{
        struct run_notices *n = ctx;
        const char *type = field(event, "type");
        if (strcmp(type, "net.decision") == 0)
                notice_net(n, event);
        else if (strcmp(type, "syscall.denied") == 0)
                notice_syscall(n, event);
        else if (strcmp(type, "limit") == 0)
                notice_limit(n, event);
        else if (strcmp(type, "file.protected_write") == 0 ||
                 strcmp(type, "file.protected_refused") == 0)
                notice_protected(n, event);
}

void run_notices_finish(struct run_notices *n, const char *session)
{
        if (n->suppressed > 0)
                notice("%llu more refusals not shown ('reins audit show %s' lists them)",
                       (unsigned long long)n->suppressed, session);
        n->suppressed = 0;
}

/* -v: "reins: TYPE key=value ..."; nested values (lists, objects) as
 * compact ASCII JSON. The notice writer escapes the whole line. */
void run_notices_verbose_sink(void *ctx, const json_t *event)
{
        (void)ctx;
        char line[4096];
        size_t used = (size_t)snprintf(line, sizeof(line), "%s", field(event, "type"));
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)event, key, value)
        {
                if (used >= sizeof(line) - 1 || strcmp(key, "type") == 0 ||
                    strcmp(key, "session") == 0 || strcmp(key, "time") == 0)
                        continue;
                char *text =
                    json_is_string(value)
                        ? strdup(json_string_value(value))
                        : json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
                if (!text)
                        continue;
                int w = snprintf(line + used, sizeof(line) - used, " %s=%s", key, text);
                free(text);
                if (w > 0)
                        used =
                            used + (size_t)w < sizeof(line) ? used + (size_t)w : sizeof(line) - 1;
        }
        notice("%s", line);
}

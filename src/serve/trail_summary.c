/* Summaries of trails, kept and brought up to date (serve/trail_summary.h).
 *
 * Bytes of egress. The proxy reports a connection's bytes twice over:
 * net.progress gives what moved since the last one while it is open, and
 * net.close gives the connection's totals (src/net/proxy.h). Summing both
 * would count a long upload twice, so a net.close adds only what its
 * net.progress events did not: bytes_up less its "bytes_up_reported" (the
 * proxy's own figure), and bytes_down less the bytes_down this summary saw
 * in that connection's net.progress events (the proxy does not say; a table
 * of the open connections with progress seen, SUMMARY_OPEN_MAX of them,
 * twice the proxy's own cap on open connections, keeps them).
 *
 * Bounds (the trail is its user's to write, whatever it holds):
 *   - a line longer than SUMMARY_LINE_MAX is no record: skipped unread;
 *   - one call reads at most SUMMARY_PASS_BYTES of one trail, and the calls
 *     of one request share a budget of their own (trail_summary_query): a
 *     huge trail is caught up over several calls rather than holding one
 *     for long, and its counts say "partial" until then;
 *   - each summary's lists: SUMMARY_*_MAX items, and SUMMARY_LIST_BYTES of
 *     them (estimated: their strings plus SUMMARY_ITEM_BYTES each); past
 *     either, "truncated" and the list keeps what it had (the counts go on);
 *   - each text shown to a person: escaped to ASCII, SUMMARY_TEXT_MAX bytes;
 *   - minutes: the last 24 hours (as the trail's newest record tells);
 *   - the cache: SUMMARY_CACHE_MAX trails and SUMMARY_CACHE_BYTES of
 *     summaries; past either the least recently read trail is forgotten
 *     (summed again from its start if asked for again).
 *
 * One mutex covers the cache; a call holds it while it reads its trail's
 * new bytes (at most SUMMARY_PASS_BYTES). */
#include "serve/trail_summary.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/clock.h"
#include "audit/format.h"
#include "audit/text.h"

#define SUMMARY_LINE_MAX         (256 << 10) /* the trail's writer caps a record at 64 KiB */
#define SUMMARY_PASS_BYTES       (16 << 20)
#define SUMMARY_CACHE_MAX        4096
#define SUMMARY_CACHE_BYTES      (64 << 20)
#define SUMMARY_PROCESSES_MAX    2000
#define SUMMARY_DESTINATIONS_MAX 256
#define SUMMARY_TIERS_MAX        256
#define SUMMARY_FINDINGS_MAX     512
#define SUMMARY_EVIDENCE_MAX     32
#define SUMMARY_LIST_BYTES       (2 << 20)
#define SUMMARY_ITEM_BYTES       1024 /* a jansson object of a few fields, as measured */
#define SUMMARY_TEXT_MAX         512
#define SUMMARY_HOST_MAX         255
#define SUMMARY_MINUTES          (24 * 60)
#define SUMMARY_OPEN_MAX         512
#define SUMMARY_INTEGER_MAX      ((int64_t)1 << 53) /* what a JSON reader keeps exactly */

struct summary_minute {
        int64_t minute; /* since the epoch */
        uint32_t count[TRAIL_SUMMARY_COUNTS];
};

/* A connection with net.progress seen and no net.close yet. */
struct summary_open {
        int64_t connection;
        uint64_t bytes_down; /* what its net.progress events reported */
};

struct summary {
        char *path;
        dev_t dev;
        ino_t ino;
        off_t offset;    /* the start of the first line not read */
        off_t size;      /* the file's size when last read to its end; -1: not */
        bool discarding; /* inside an over-long line */
        uint64_t used;   /* when last read (the cache's clock) */
        uint64_t bytes_up, bytes_down, connections, denied, asked;
        uint64_t count[TRAIL_SUMMARY_COUNTS];
        /* minutes with something counted, oldest first */
        struct summary_minute *minutes;
        size_t minute_count, minute_capacity;
        struct summary_open *open;
        size_t open_count;
        json_t *processes, *destinations, *tiers, *findings;
        json_t *destination_index; /* {"host:port": index in destinations} */
        size_t list_bytes;
        bool truncated;
};

struct serve_summaries {
        pthread_mutex_t lock;
        struct summary **items;
        size_t count;
        json_t *index;  /* {path: index in items} */
        json_t *trails; /* {session: the trail its record names} */
        size_t bytes;   /* the summaries' estimated size */
        uint64_t clock;
        char *buffer; /* SUMMARY_LINE_MAX + 1 */
};

struct serve_summaries *serve_summaries_new(void)
{
        struct serve_summaries *all = calloc(1, sizeof(*all));
        if (!all)
                return NULL;
        pthread_mutex_init(&all->lock, NULL);
        all->items = calloc(SUMMARY_CACHE_MAX, sizeof(*all->items));
        all->index = json_object();
        all->trails = json_object();
        all->buffer = malloc(SUMMARY_LINE_MAX + 1);
        if (!all->items || !all->index || !all->trails || !all->buffer) {
                serve_summaries_free(all);
                return NULL;
        }
        return all;
}

static void summary_clear(struct summary *s)
{
        json_decref(s->processes);
        json_decref(s->destinations);
        json_decref(s->tiers);
        json_decref(s->findings);
        json_decref(s->destination_index);
        free(s->minutes);
        free(s->open);
        char *path = s->path;
        memset(s, 0, sizeof(*s));
        s->path = path;
}

static size_t summary_size(const struct summary *s)
{
        return sizeof(*s) + strlen(s->path) + s->list_bytes +
               s->minute_capacity * sizeof(*s->minutes) +
               (s->open ? SUMMARY_OPEN_MAX * sizeof(*s->open) : 0);
}

static void summary_free(struct summary *s)
{
        if (!s)
                return;
        summary_clear(s);
        free(s->path);
        free(s);
}

void serve_summaries_free(struct serve_summaries *all)
{
        if (!all)
                return;
        for (size_t i = 0; all->items && i < all->count; i++)
                summary_free(all->items[i]);
        pthread_mutex_destroy(&all->lock);
        free(all->items);
        json_decref(all->index);
        json_decref(all->trails);
        free(all->buffer);
        free(all);
}

/* ---- the cache ---- */

static void summaries_forget(struct serve_summaries *all, size_t i)
{
        struct summary *s = all->items[i];
        all->bytes -= summary_size(s);
        json_object_del(all->index, s->path);
        summary_free(s);
        all->items[i] = all->items[--all->count];
        if (i < all->count)
                json_object_set_new(all->index, all->items[i]->path, json_integer((json_int_t)i));
}

/* Forget the least recently read summaries (never `keep`) until the cache
 * is within its bounds, with room for one more when `room`. */
static void summaries_trim(struct serve_summaries *all, const struct summary *keep, bool room)
{
        while (all->count > 0 && (all->count + (room ? 1 : 0) > SUMMARY_CACHE_MAX ||
                                  all->bytes > SUMMARY_CACHE_BYTES)) {
                size_t oldest = all->count;
                for (size_t i = 0; i < all->count; i++)
                        if (all->items[i] != keep &&
                            (oldest == all->count ||
                             all->items[i]->used < all->items[oldest]->used))
                                oldest = i;
                if (oldest == all->count)
                        return;
                summaries_forget(all, oldest);
        }
}

static struct summary *summaries_find(struct serve_summaries *all, const char *path)
{
        json_t *at = json_object_get(all->index, path);
        if (json_is_integer(at))
                return all->items[json_integer_value(at)];
        summaries_trim(all, NULL, true);
        struct summary *s = calloc(1, sizeof(*s));
        if (!s || !(s->path = strdup(path)) ||
            json_object_set_new(all->index, path, json_integer((json_int_t)all->count)) < 0) {
                summary_free(s);
                return NULL;
        }
        all->items[all->count++] = s;
        all->bytes += summary_size(s);
        return s;
}

char *serve_summaries_trail_of(struct serve_summaries *all, const char *id)
{
        pthread_mutex_lock(&all->lock);
        const char *path = json_string_value(json_object_get(all->trails, id));
        char *copy = path ? strdup(path) : NULL;
        pthread_mutex_unlock(&all->lock);
        return copy;
}

void serve_summaries_remember_trail(struct serve_summaries *all, const char *id, const char *path)
{
        json_t *value = json_string(path);
        if (!value)
                return;
        pthread_mutex_lock(&all->lock);
        /* full: forgotten all at once, and found again in the records */
        if (json_object_size(all->trails) >= SUMMARY_CACHE_MAX)
                json_object_clear(all->trails);
        json_object_set_new(all->trails, id, value);
        pthread_mutex_unlock(&all->lock);
}

/* ---- reading records ---- */

static uint64_t summary_add(uint64_t a, uint64_t b)
{
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* A count in a record: an integer from 0 to 2^53, else 0. */
static uint64_t record_count(const json_t *record, const char *key)
{
        json_int_t v = json_integer_value(json_object_get(record, key));
        return v < 0 ? 0 : v > SUMMARY_INTEGER_MAX ? (uint64_t)SUMMARY_INTEGER_MAX : (uint64_t)v;
}

static bool record_is(const char *type, const char *name)
{
        return type && strcmp(type, name) == 0;
}

/* What a person reads, from text someone else wrote: escaped to printable
 * ASCII (audit/text.h) and cut at SUMMARY_TEXT_MAX bytes. NULL when the
 * text is empty or memory ran out. */
static json_t *summary_text_of(struct audit_buffer *b)
{
        if (b->failed || !b->data || b->length == 0) {
                audit_buffer_free(b);
                return NULL;
        }
        if (b->length > SUMMARY_TEXT_MAX) {
                memcpy(b->data + SUMMARY_TEXT_MAX - 3, "...", 4);
                b->length = SUMMARY_TEXT_MAX;
        }
        json_t *text = json_string(b->data);
        audit_buffer_free(b);
        return text;
}

static json_t *summary_text(const json_t *value)
{
        struct audit_buffer b = {.ascii = true};
        const char *s = json_string_value(value);
        if (!s)
                return NULL;
        /* only the part that can be shown is escaped */
        audit_text_escape(&b, s, strnlen(s, SUMMARY_TEXT_MAX));
        return summary_text_of(&b);
}

/* A copy of the record's "time" when it looks like one, else null. */
static json_t *summary_time(const json_t *record, int64_t *ms)
{
        const char *time = json_string_value(json_object_get(record, "time"));
        *ms = 0;
        /* shown as it is: only the characters a time is written with */
        if (!time || strlen(time) >= AUDIT_TIME_MAX ||
            time[strspn(time, "0123456789-:.TZ+ ")] != '\0' || audit_time_parse_ms(time, ms) < 0) {
                *ms = INT64_MIN;
                return json_null();
        }
        return json_string(time);
}

/* Room for one more item of `bytes` in a list of `count` items (at most
 * `max`)? When not, the summary says it is truncated. */
static bool summary_room(struct summary *s, const json_t *list, size_t max, size_t bytes)
{
        if (json_array_size(list) >= max || s->list_bytes + bytes > SUMMARY_LIST_BYTES) {
                s->truncated = true;
                return false;
        }
        return true;
}

/* Append `item` (taken) to *list, counting its bytes. */
static void summary_append(struct summary *s, json_t **list, json_t *item, size_t bytes)
{
        if (!*list)
                *list = json_array();
        if (!item || !*list || json_array_append_new(*list, item) < 0)
                return;
        s->list_bytes += bytes;
}

static size_t text_bytes(const json_t *text)
{
        return json_string_length(text) + SUMMARY_ITEM_BYTES;
}

/* One more of `which` in the minute of `ms` (minutes older than 24 hours
 * before the newest are dropped). */
static void summary_count_minute(struct summary *s, int64_t ms, enum trail_summary_count which)
{
        if (ms == INT64_MIN || ms < 0)
                return;
        int64_t minute = ms / 60000;
        size_t n = s->minute_count;
        int64_t newest = n ? s->minutes[n - 1].minute : minute;
        if (minute <= newest - SUMMARY_MINUTES)
                return;
        /* the trail's clock goes forwards, nearly always: look from the end */
        size_t at = n;
        while (at > 0 && s->minutes[at - 1].minute > minute)
                at--;
        if (at > 0 && s->minutes[at - 1].minute == minute) {
                s->minutes[at - 1].count[which]++;
                return;
        }
        /* older than 24 hours before this minute: gone */
        size_t old = 0;
        while (old < at && s->minutes[old].minute <= minute - SUMMARY_MINUTES)
                old++;
        if (old > 0) {
                memmove(s->minutes, s->minutes + old, (n - old) * sizeof(*s->minutes));
                n -= old;
                at -= old;
        }
        if (n == s->minute_capacity) {
                size_t capacity = s->minute_capacity ? s->minute_capacity * 2 : 16;
                if (capacity > SUMMARY_MINUTES + 1)
                        capacity = SUMMARY_MINUTES + 1;
                struct summary_minute *bigger =
                    n < capacity ? realloc(s->minutes, capacity * sizeof(*bigger)) : NULL;
                if (!bigger) {
                        s->minute_count = n;
                        return;
                }
                s->minutes = bigger;
                s->minute_capacity = capacity;
        }
        memmove(s->minutes + at + 1, s->minutes + at, (n - at) * sizeof(*s->minutes));
        memset(&s->minutes[at], 0, sizeof(s->minutes[at]));
        s->minutes[at].minute = minute;
        s->minutes[at].count[which] = 1;
        s->minute_count = n + 1;
}

static void summary_count(struct summary *s, int64_t ms, enum trail_summary_count which)
{
        s->count[which]++;
        summary_count_minute(s, ms, which);
}

/* The destination of a net.* record (created when there is room); NULL
 * when the record names none or the list is full. */
static json_t *summary_destination(struct summary *s, const json_t *record)
{
        const char *host = json_string_value(json_object_get(record, "host"));
        json_int_t port = json_integer_value(json_object_get(record, "port"));
        if (!host || !host[0] || port < 0 || port > 65535)
                return NULL;
        char key[SUMMARY_HOST_MAX + 16];
        snprintf(key, sizeof(key), "%.*s:%lld", SUMMARY_HOST_MAX, host, (long long)port);
        json_t *at = json_object_get(s->destination_index, key);
        if (json_is_integer(at))
                return json_array_get(s->destinations, (size_t)json_integer_value(at));
        if (!s->destination_index && !(s->destination_index = json_object()))
                return NULL;
        json_t *shown = summary_text(json_object_get(record, "host"));
        size_t bytes = text_bytes(shown) + strlen(key);
        if (!shown || !summary_room(s, s->destinations, SUMMARY_DESTINATIONS_MAX, bytes)) {
                json_decref(shown);
                return NULL;
        }
        json_t *item = json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "host", shown, "port",
                                 (json_int_t)port, "allowed", (json_int_t)0, "denied",
                                 (json_int_t)0, "asked", (json_int_t)0, "bytes_up", (json_int_t)0,
                                 "bytes_down", (json_int_t)0, "last_seq", (json_int_t)-1);
        size_t index = json_array_size(s->destinations);
        summary_append(s, &s->destinations, item, bytes);
        if (json_array_size(s->destinations) != index + 1)
                return NULL;
        json_object_set_new(s->destination_index, key, json_integer((json_int_t)index));
        return item;
}

/* Add `n` to the integer `key` of a destination (saturating at 2^53). */
static void destination_add(json_t *destination, const char *key, uint64_t n)
{
        json_t *value = json_object_get(destination, key);
        uint64_t now = (uint64_t)json_integer_value(value);
        uint64_t sum = summary_add(now, n);
        json_integer_set(value, (json_int_t)(sum > (uint64_t)SUMMARY_INTEGER_MAX
                                                 ? (uint64_t)SUMMARY_INTEGER_MAX
                                                 : sum));
}

static void destination_seen(json_t *destination, json_int_t seq)
{
        json_integer_set(json_object_get(destination, "last_seq"), seq);
}

static struct summary_open *summary_open_find(struct summary *s, int64_t connection)
{
        for (size_t i = 0; i < s->open_count; i++)
                if (s->open[i].connection == connection)
                        return &s->open[i];
        return NULL;
}

static void summary_net_decision(struct summary *s, const json_t *record, json_int_t seq)
{
        const char *decision = json_string_value(json_object_get(record, "decision"));
        const char *key = record_is(decision, "allowed")  ? "allowed"
                          : record_is(decision, "denied") ? "denied"
                          : record_is(decision, "ask")    ? "asked"
                                                          : NULL;
        if (!key)
                return;
        if (strcmp(key, "allowed") == 0)
                s->connections++;
        else if (strcmp(key, "denied") == 0)
                s->denied++;
        else
                s->asked++;
        json_t *destination = summary_destination(s, record);
        destination_add(destination, key, 1);
        destination_seen(destination, seq);
}

/* Bytes moved: net.progress (while open) and net.close (the rest). */
static void summary_net_bytes(struct summary *s, const json_t *record, json_int_t seq, bool closing)
{
        uint64_t up = record_count(record, "bytes_up");
        uint64_t down = record_count(record, "bytes_down");
        json_t *id = json_object_get(record, "connection");
        struct summary_open *open =
            json_is_integer(id) ? summary_open_find(s, json_integer_value(id)) : NULL;
        if (closing) {
                uint64_t reported_up = record_count(record, "bytes_up_reported");
                up = up > reported_up ? up - reported_up : 0;
                if (open) {
                        down = down > open->bytes_down ? down - open->bytes_down : 0;
                        *open = s->open[--s->open_count];
                }
        } else if (json_is_integer(id)) {
                if (!open) {
                        if (!s->open && !(s->open = calloc(SUMMARY_OPEN_MAX, sizeof(*s->open))))
                                return;
                        /* full: the oldest goes (its net.close may then
                         * count its bytes down twice) */
                        if (s->open_count == SUMMARY_OPEN_MAX)
                                memmove(s->open, s->open + 1, --s->open_count * sizeof(*s->open));
                        open = &s->open[s->open_count++];
                        open->connection = json_integer_value(id);
                        open->bytes_down = 0;
                }
                open->bytes_down = summary_add(open->bytes_down, down);
        }
        s->bytes_up = summary_add(s->bytes_up, up);
        s->bytes_down = summary_add(s->bytes_down, down);
        json_t *destination = summary_destination(s, record);
        destination_add(destination, "bytes_up", up);
        destination_add(destination, "bytes_down", down);
        destination_seen(destination, seq);
}

/* exec: a process, with the seq of its parent's exec when this trail has
 * one. "pid" and "ppid" are as the host sees them (the trail's "host_pid"
 * and "ppid": one pid space, so a tree can be drawn from them), and
 * "sandbox_pid" is the pid inside the sandbox (the trail's "pid"). */
static void summary_exec(struct summary *s, const json_t *record, json_int_t seq, json_t *time)
{
        struct audit_buffer b = {.ascii = true};
        audit_format_summary(&b, record);
        json_t *text = summary_text_of(&b);
        size_t bytes = text_bytes(text);
        if (!text || !summary_room(s, s->processes, SUMMARY_PROCESSES_MAX, bytes)) {
                json_decref(text);
                return;
        }
        json_t *host_pid = json_object_get(record, "host_pid");
        json_t *pid = json_is_integer(host_pid) ? host_pid : json_object_get(record, "pid");
        json_t *ppid = json_object_get(record, "ppid");
        json_t *parent = json_null();
        for (size_t i = json_array_size(s->processes); json_is_integer(ppid) && i > 0; i--) {
                json_t *earlier = json_array_get(s->processes, i - 1);
                if (json_integer_value(json_object_get(earlier, "pid")) ==
                    json_integer_value(ppid)) {
                        parent = json_copy(json_object_get(earlier, "seq"));
                        break;
                }
        }
        summary_append(s, &s->processes,
                       json_pack("{s:I, s:I, s:I, s:o, s:o, s:O, s:I}", "pid",
                                 (json_int_t)json_integer_value(pid), "sandbox_pid",
                                 (json_int_t)json_integer_value(json_object_get(record, "pid")),
                                 "ppid", (json_int_t)json_integer_value(ppid), "parent_seq", parent,
                                 "text", text, "time", time, "seq", seq),
                       bytes);
}

static void summary_tier(struct summary *s, const json_t *record, json_int_t seq, json_t *time)
{
        json_t *reason = summary_text(json_object_get(record, "reason"));
        size_t bytes = text_bytes(reason);
        if (!summary_room(s, s->tiers, SUMMARY_TIERS_MAX, bytes)) {
                json_decref(reason);
                return;
        }
        json_int_t to = json_integer_value(json_object_get(record, "to"));
        json_int_t from = json_integer_value(json_object_get(record, "from"));
        summary_append(s, &s->tiers,
                       json_pack("{s:O, s:I, s:I, s:o, s:I}", "time", time, "tier",
                                 to < 0 || to > 3 ? (json_int_t)-1 : to, "from",
                                 from < 0 || from > 3 ? (json_int_t)-1 : from, "reason",
                                 reason ? reason : json_string(""), "seq", seq),
                       bytes);
}

/* risk.finding: the rule, its severity, what it means and what set it off
 * (the seqs of its evidence; an evidence without one is a time, left out). */
static void summary_finding(struct summary *s, const json_t *record, json_int_t seq, json_t *time)
{
        json_t *rule = summary_text(json_object_get(record, "rule"));
        json_t *severity = summary_text(json_object_get(record, "severity"));
        struct audit_buffer b = {.ascii = true};
        const char *explanation = json_string_value(json_object_get(record, "explanation"));
        const char *detail = json_string_value(json_object_get(record, "detail"));
        if (explanation)
                audit_text_escape(&b, explanation, strnlen(explanation, SUMMARY_TEXT_MAX));
        if (detail && detail[0]) {
                audit_buffer_adds(&b, explanation ? " (" : "(");
                audit_text_escape(&b, detail, strnlen(detail, SUMMARY_TEXT_MAX));
                audit_buffer_addc(&b, ')');
        }
        json_t *text = summary_text_of(&b);
        json_t *evidence = json_array();
        json_t *item;
        size_t i;
        json_array_foreach(json_object_get(record, "evidence"), i, item)
        {
                if (json_array_size(evidence) >= SUMMARY_EVIDENCE_MAX)
                        break;
                if (json_is_integer(item) && json_integer_value(item) >= 0)
                        json_array_append_new(evidence, json_integer(json_integer_value(item)));
        }
        size_t bytes = text_bytes(rule) + text_bytes(severity) + text_bytes(text) +
                       json_array_size(evidence) * 16;
        if (!evidence || !summary_room(s, s->findings, SUMMARY_FINDINGS_MAX, bytes)) {
                json_decref(rule);
                json_decref(severity);
                json_decref(text);
                json_decref(evidence);
                return;
        }
        summary_append(s, &s->findings,
                       json_pack("{s:o, s:o, s:o, s:O, s:I, s:o}", "rule",
                                 rule ? rule : json_string(""), "severity",
                                 severity ? severity : json_string(""), "text",
                                 text ? text : json_string(""), "time", time, "seq", seq,
                                 "evidence", evidence),
                       bytes);
}

/* One record (a JSON object with an integer seq). */
static void summary_record(struct summary *s, const json_t *record)
{
        const char *type = json_string_value(json_object_get(record, "type"));
        json_int_t seq = json_integer_value(json_object_get(record, "seq"));
        int64_t ms;
        json_t *time = summary_time(record, &ms);
        if (audit_record_is_denial(record))
                summary_count(s, ms, TRAIL_SUMMARY_DENIALS);
        if (record_is(type, "session.start")) {
                s->open_count = 0; /* a resumed session: a new proxy, new ids */
        } else if (record_is(type, "exec")) {
                summary_exec(s, record, seq, time);
        } else if (record_is(type, "net.decision")) {
                summary_net_decision(s, record, seq);
        } else if (record_is(type, "net.progress") || record_is(type, "net.close")) {
                summary_net_bytes(s, record, seq, record_is(type, "net.close"));
        } else if (record_is(type, "approval.request")) {
                summary_count(s, ms, TRAIL_SUMMARY_APPROVALS);
        } else if (record_is(type, "risk.tier")) {
                summary_tier(s, record, seq, time);
        } else if (record_is(type, "risk.finding")) {
                summary_count(s, ms, TRAIL_SUMMARY_FINDINGS);
                summary_finding(s, record, seq, time);
        }
        json_decref(time);
}

/* Read the complete lines between s->offset and `end`, at most *budget
 * bytes of them (*budget is left with what remains). A line that does not
 * end yet is left for the next call; one longer than SUMMARY_LINE_MAX is
 * skipped to its end. True when the budget ran out before the lines did. */
static bool summary_scan_lines(struct serve_summaries *all, struct summary *s, int fd, off_t end,
                               size_t *budget)
{
        char *buffer = all->buffer;
        while (s->offset<end && * budget> 0) {
                size_t want = SUMMARY_LINE_MAX + 1;
                if ((off_t)want > end - s->offset)
                        want = (size_t)(end - s->offset);
                ssize_t n = pread(fd, buffer, want, s->offset);
                if (n <= 0)
                        return false;
                size_t pos = 0;
                while (pos < (size_t)n) {
                        char *newline = memchr(buffer + pos, '\n', (size_t)n - pos);
                        if (!newline)
                                break;
                        size_t length = (size_t)(newline - (buffer + pos));
                        if (s->discarding) {
                                s->discarding = false; /* the end of an over-long line */
                        } else {
                                json_t *record = json_loadb(buffer + pos, length, 0, NULL);
                                if (json_is_object(record) &&
                                    json_is_integer(json_object_get(record, "seq")))
                                        summary_record(s, record);
                                json_decref(record);
                        }
                        pos += length + 1;
                }
                if (pos == 0) {
                        /* no newline: an incomplete last line waits; a full
                         * buffer is an over-long line, skipped to its end */
                        if (!s->discarding && (size_t)n < SUMMARY_LINE_MAX + 1)
                                return false;
                        s->discarding = true;
                        pos = (size_t)n;
                }
                s->offset += (off_t)pos;
                *budget = pos >= *budget ? 0 : *budget - pos;
                if ((size_t)n < want)
                        return false;
        }
        return s->offset < end;
}

/* The same within SUMMARY_PASS_BYTES and the request's budget, if any. */
static bool summary_scan(struct serve_summaries *all, struct summary *s, int fd, off_t end,
                         size_t *request_budget)
{
        size_t budget = SUMMARY_PASS_BYTES;
        if (request_budget && *request_budget < budget)
                budget = *request_budget;
        size_t start = budget;
        bool more = summary_scan_lines(all, s, fd, end, &budget);
        if (request_budget)
                *request_budget -= start - budget;
        return more;
}

/* ---- answers ---- */

static json_t *summary_copy(const json_t *list)
{
        return list ? json_deep_copy(list) : json_array();
}

static void summary_answer(const struct summary *s, struct trail_summary_query *q)
{
        if (q->want_totals) {
                q->egress = json_pack("{s:I, s:I, s:I, s:I, s:I}", "bytes_up",
                                      (json_int_t)(s->bytes_up > (uint64_t)SUMMARY_INTEGER_MAX
                                                       ? (uint64_t)SUMMARY_INTEGER_MAX
                                                       : s->bytes_up),
                                      "bytes_down",
                                      (json_int_t)(s->bytes_down > (uint64_t)SUMMARY_INTEGER_MAX
                                                       ? (uint64_t)SUMMARY_INTEGER_MAX
                                                       : s->bytes_down),
                                      "connections", (json_int_t)s->connections, "denied",
                                      (json_int_t)s->denied, "asked", (json_int_t)s->asked);
                /* partial: the trail is longer than what was read yet */
                q->counts = json_pack(
                    "{s:I, s:I, s:I, s:b}", "denials", (json_int_t)s->count[TRAIL_SUMMARY_DENIALS],
                    "findings", (json_int_t)s->count[TRAIL_SUMMARY_FINDINGS], "approvals",
                    (json_int_t)s->count[TRAIL_SUMMARY_APPROVALS], "partial", s->size < 0);
        }
        if (q->want_detail)
                q->detail = json_pack(
                    "{s:o, s:o, s:o, s:o, s:b}", "processes", summary_copy(s->processes),
                    "destinations", summary_copy(s->destinations), "tiers", summary_copy(s->tiers),
                    "findings", summary_copy(s->findings), "truncated", s->truncated);
        for (size_t i = 0; q->bucket_count > 0 && q->bucket_ms > 0 && i < s->minute_count; i++) {
                int64_t ms = s->minutes[i].minute * 60000;
                if (ms < q->since_ms)
                        continue;
                uint64_t at = (uint64_t)(ms - q->since_ms) / (uint64_t)q->bucket_ms;
                if (at >= q->bucket_count)
                        break;
                for (int k = 0; k < TRAIL_SUMMARY_COUNTS; k++)
                        q->buckets[at][k] += s->minutes[i].count[k];
        }
}

static int summary_answered(const struct trail_summary_query *query)
{
        bool failed = (query->want_totals && (!query->egress || !query->counts)) ||
                      (query->want_detail && !query->detail);
        return failed ? -ENOMEM : 0;
}

int trail_summary_peek(struct serve_summaries *all, const char *path, const struct stat *st,
                       struct trail_summary_query *query)
{
        pthread_mutex_lock(&all->lock);
        json_t *at = json_object_get(all->index, path);
        struct summary *s = json_is_integer(at) ? all->items[json_integer_value(at)] : NULL;
        /* the same file, and nothing appended since it was read (a torn
         * last line waits, so the size, not the offset, is compared) */
        if (!s || s->dev != st->st_dev || s->ino != st->st_ino || s->size != st->st_size) {
                pthread_mutex_unlock(&all->lock);
                return -ESTALE;
        }
        s->used = ++all->clock;
        summary_answer(s, query);
        pthread_mutex_unlock(&all->lock);
        return summary_answered(query);
}

int trail_summary_read(struct serve_summaries *all, const char *path, int fd, const struct stat *st,
                       struct trail_summary_query *query)
{
        pthread_mutex_lock(&all->lock);
        struct summary *s = summaries_find(all, path);
        if (!s) {
                pthread_mutex_unlock(&all->lock);
                return -ENOMEM;
        }
        all->bytes -= summary_size(s);
        /* another file at the name, or one cut shorter: summed anew */
        if (s->dev != st->st_dev || s->ino != st->st_ino || st->st_size < s->offset) {
                summary_clear(s);
                s->dev = st->st_dev;
                s->ino = st->st_ino;
        }
        bool more = summary_scan(all, s, fd, st->st_size, query->budget);
        /* all of it read (not cut short by SUMMARY_PASS_BYTES): a peek at
         * this size has nothing to read */
        s->size = more ? -1 : st->st_size;
        s->used = ++all->clock;
        all->bytes += summary_size(s);
        summary_answer(s, query);
        summaries_trim(all, s, false);
        pthread_mutex_unlock(&all->lock);
        return summary_answered(query);
}

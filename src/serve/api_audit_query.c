/* Audit queries across sessions and exports through the API.
 *
 * GET /v1/audit?session=ID&since=&until=&type=PREFIX&limit=N: the records of
 * the sessions the caller may read (every one, or those named), and of the
 * daemon's own trails for a caller who may read every trail, merged by time:
 * the last `limit` (default 1000, at most 10 000) that match, oldest first,
 * at most AUDIT_QUERY_BYTES of records in all, each as {"session", "record"}
 * ("daemon": true for the daemon's own). Each trail is read from its last
 * AUDIT_QUERY_TAIL bytes, one trail at a time, so memory is bounded by one
 * trail's tail plus what is kept. "truncated" says that more matched, or
 * that a trail was longer than what was read.
 *
 * GET /v1/sessions/{id}/audit/export?format=ocsf|syslog|cef (and type,
 * since, until): the session's trail in the format `reins audit export`
 * writes, line for line -- the same function (audit/export.h), so the same
 * escaping of everything the agent wrote. Streamed from the trail as it was
 * when the call came, a chunk at a time. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "audit/clock.h"
#include "audit/export.h"
#include "audit/format.h"
#include "policy/parse_units.h"
#include "serve/audit_query.h"
#include "serve/serve_internal.h"
#include "serve/sessions.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/path.h"

#define AUDIT_QUERY_TAIL      (8 << 20)
#define AUDIT_QUERY_BYTES     (8 << 20)
#define AUDIT_QUERY_LIMIT     1000
#define AUDIT_QUERY_LIMIT_MAX 10000
#define AUDIT_QUERY_ARGS_MAX  64
#define EXPORT_CHUNK          (256 << 10)
#define EXPORT_LINE_MAX       (256 << 10)

bool serve_audit_readable(const struct serve_grant *grant, const char *no_grant_why,
                          const char *policy, bool daemon)
{
        const char *why;
        if (!serve_grant_allows(grant, no_grant_why, SERVE_RIGHT_READ_AUDIT, policy, NULL, &why))
                return false;
        /* a grant limited to listed policies reads those sessions only */
        bool every = grant->role == SERVE_ROLE_ADMIN || grant->policies.count == 0;
        return (policy && !daemon) || every;
}

struct args_walk {
        const char *name;
        struct reins_strv *out;
        int error;
};

static enum MHD_Result args_each(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
        (void)kind;
        struct args_walk *w = cls;
        if (!key || strcmp(key, w->name) != 0 || !value)
                return MHD_YES;
        for (const char *p = value; *p && w->error == 0;) {
                size_t n = strcspn(p, ",");
                if (n > 0) {
                        if (w->out->count >= AUDIT_QUERY_ARGS_MAX)
                                w->error = -E2BIG;
                        else if (strv_push_take(w->out, strndup(p, n)) < 0)
                                w->error = -ENOMEM;
                }
                p += n + (p[n] == ',');
        }
        return w->error ? MHD_NO : MHD_YES;
}

int serve_request_args(const struct serve_request *request, const char *name,
                       struct reins_strv *out)
{
        struct args_walk w = {.name = name, .out = out};
        if (request->connection)
                request->serve->mhd.get_connection_values(request->connection,
                                                          MHD_GET_ARGUMENT_KIND, args_each, &w);
        return w.error;
}

static int time_parse(const char *text, int64_t *ms)
{
        uint64_t back = 0;
        /* a number alone would be seconds back (the CLI's rule); a time is
         * what an API caller means by a bare number far more often */
        if (strspn(text, "0123456789") < strlen(text) && parse_duration_ms(text, &back) == 0) {
                *ms = audit_now_ms() - (int64_t)back;
                return 0;
        }
        return audit_time_parse_ms(text, ms);
}

bool serve_time_window_parse(const struct serve_request *request, struct serve_reply *reply,
                             struct serve_time_window *window)
{
        memset(window, 0, sizeof(*window));
        const char *since = serve_request_arg(request, "since");
        const char *until = serve_request_arg(request, "until");
        if (since && time_parse(since, &window->since_ms) < 0) {
                serve_reply_error(reply, 400,
                                  "since: expected a time (2026-11-23T21:00:00Z, 2026-11-23) or "
                                  "a duration (10m, 2h)");
                return false;
        }
        if (until && time_parse(until, &window->until_ms) < 0) {
                serve_reply_error(reply, 400,
                                  "until: expected a time (2026-11-23T21:00:00Z, 2026-11-23) or "
                                  "a duration (10m, 2h)");
                return false;
        }
        window->has_since = since != NULL;
        window->has_until = until != NULL;
        return true;
}

bool serve_time_window_match(const struct serve_time_window *window, const json_t *record)
{
        if (!window->has_since && !window->has_until)
                return true;
        int64_t when = 0;
        const char *time = json_string_value(json_object_get(record, "time"));
        if (!time || audit_time_parse_ms(time, &when) < 0)
                return false;
        return (!window->has_since || when >= window->since_ms) &&
               (!window->has_until || when < window->until_ms);
}

/* ---- GET /v1/audit ---- */

struct kept {
        int64_t ms;
        const char *time; /* in record */
        const char *session;
        json_int_t seq;
        json_t *item; /* {"session", "record"} */
        size_t bytes;
};

struct query {
        const char *type;
        struct serve_time_window window;
        size_t limit;
        struct kept *kept; /* oldest first */
        size_t count, bytes;
        bool truncated;
};

static int kept_compare(const struct kept *a, const struct kept *b)
{
        if (a->ms != b->ms)
                return a->ms < b->ms ? -1 : 1;
        int c = strcmp(a->time, b->time);
        if (c)
                return c;
        if ((c = strcmp(a->session, b->session)))
                return c;
        return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void kept_drop_oldest(struct query *q)
{
        q->bytes -= q->kept[0].bytes;
        json_decref(q->kept[0].item);
        memmove(&q->kept[0], &q->kept[1], (q->count - 1) * sizeof(q->kept[0]));
        q->count--;
        q->truncated = true;
}

/* One record that matched: kept when among the newest `limit` (and bytes). */
static void query_keep(struct query *q, const char *session, bool daemon, json_t *record,
                       size_t bytes)
{
        struct kept k = {.session = session, .bytes = bytes};
        k.time = json_string_value(json_object_get(record, "time"));
        if (!k.time || audit_time_parse_ms(k.time, &k.ms) < 0)
                k.time = "", k.ms = 0;
        k.seq = json_integer_value(json_object_get(record, "seq"));
        if (q->count == q->limit && kept_compare(&k, &q->kept[0]) <= 0) {
                q->truncated = true;
                return;
        }
        k.item = json_pack("{s:s, s:O, s:o}", "session", session, "record", record, "text",
                           audit_format_summary_json(record));
        if (!k.item) {
                q->truncated = true;
                return;
        }
        if (daemon)
                json_object_set_new(k.item, "daemon", json_true());
        /* `session` must outlive this trail's reading: the item holds it */
        k.session = json_string_value(json_object_get(k.item, "session"));
        if (q->count == q->limit)
                kept_drop_oldest(q);
        size_t low = 0, high = q->count;
        while (low < high) {
                size_t middle = (low + high) / 2;
                if (kept_compare(&q->kept[middle], &k) < 0)
                        low = middle + 1;
                else
                        high = middle;
        }
        memmove(&q->kept[low + 1], &q->kept[low], (q->count - low) * sizeof(q->kept[0]));
        q->kept[low] = k;
        q->count++;
        q->bytes += bytes;
        while (q->bytes > AUDIT_QUERY_BYTES && q->count > 1)
                kept_drop_oldest(q);
}

/* One trail's last AUDIT_QUERY_TAIL bytes through the query. */
static void query_trail(struct query *q, const char *session, bool daemon, const char *path,
                        uid_t uid)
{
        struct stat st;
        cleanup_fd int fd = serve_api_trail_open_path(path, uid, &st);
        if (fd < 0)
                return;
        bool cut = st.st_size > AUDIT_QUERY_TAIL;
        if (cut && lseek(fd, st.st_size - AUDIT_QUERY_TAIL, SEEK_SET) < 0)
                return;
        cleanup_free char *text = NULL;
        size_t length = 0;
        bool truncated = false;
        if (fileio_read_fd(fd, AUDIT_QUERY_TAIL, &text, &length, &truncated) < 0)
                return;
        char *line = text;
        if (cut && (line = memchr(text, '\n', length)))
                line++; /* the first line may be a part of one */
        bool before_since = false;
        while (line && line < text + length) {
                char *newline = memchr(line, '\n', (size_t)(text + length - line));
                if (!newline)
                        break; /* a torn last write */
                size_t n = (size_t)(newline - line);
                json_t *record = json_loadb(line, n, 0, NULL);
                const char *kind = json_string_value(json_object_get(record, "type"));
                if (json_is_object(record) &&
                    (!q->type || (kind && strncmp(kind, q->type, strlen(q->type)) == 0))) {
                        int64_t when = 0;
                        if (serve_time_window_match(&q->window, record))
                                query_keep(q, session, daemon, record, n);
                        else if (q->window.has_since &&
                                 audit_time_parse_ms(
                                     kind ? json_string_value(json_object_get(record, "time")) : "",
                                     &when) == 0 &&
                                 when < q->window.since_ms)
                                before_since = true;
                }
                json_decref(record);
                line = newline + 1;
        }
        /* the part not read (older) may hold matching records, unless a
         * record read was already older than the window */
        if (cut && !before_since)
                q->truncated = true;
}

/* The daemon's own trails (STATE/trails/serve-ID.jsonl). */
static void query_own_trails(struct query *q, struct serve *serve)
{
        cleanup_free char *dir = path_join(serve->state_dir, "trails");
        cleanup_closedir DIR *d = dir ? opendir(dir) : NULL;
        struct dirent *de;
        while (d && (de = readdir(d))) {
                if (strncmp(de->d_name, "serve-", 6) != 0 ||
                    strspn(de->d_name + 6, "0123456789abcdef") != 24 ||
                    strcmp(de->d_name + 30, ".jsonl") != 0)
                        continue;
                char id[25];
                snprintf(id, sizeof(id), "%.24s", de->d_name + 6);
                cleanup_free char *path = path_join(dir, de->d_name);
                if (path)
                        query_trail(q, id, true, path, serve->uid);
        }
}

static void query_session(struct query *q, const struct serve_request *request, const json_t *entry)
{
        const char *id = json_string_value(json_object_get(entry, "session"));
        cleanup_free char *path = id ? serve_api_trail_path(request, id, entry) : NULL;
        if (path)
                query_trail(q, id, false, path,
                            (uid_t)json_integer_value(json_object_get(entry, "uid")));
}

void serve_api_audit_query(const struct serve_request *request, struct serve_reply *reply)
{
        struct serve *serve = request->serve;
        struct query q = {.type = serve_request_arg(request, "type")};
        const char *limit_text = serve_request_arg(request, "limit");
        char *end = NULL;
        unsigned long limit = limit_text ? strtoul(limit_text, &end, 10) : AUDIT_QUERY_LIMIT;
        if (limit_text && (!*limit_text || *end || limit == 0 || limit > AUDIT_QUERY_LIMIT_MAX)) {
                serve_reply_error(reply, 400, "limit: expected 1 to %d", AUDIT_QUERY_LIMIT_MAX);
                return;
        }
        q.limit = limit;
        if (!serve_time_window_parse(request, reply, &q.window))
                return;
        struct reins_strv sessions = {0};
        int r = serve_request_args(request, "session", &sessions);
        if (r < 0) {
                strv_free(&sessions);
                serve_reply_error(reply, r == -E2BIG ? 400 : 500, "%s",
                                  r == -E2BIG ? "session: at most 64" : "out of memory");
                return;
        }
        json_t *chosen = json_array();
        /* named sessions: each checked, a refusal audited; else every one
         * the caller may read */
        for (size_t i = 0; chosen && i < sessions.count; i++) {
                json_t *entry = NULL;
                struct reins_error err = {0};
                r = serve_sessions_find(serve, sessions.items[i], &entry, &err);
                if (r < 0) {
                        serve_reply_error(reply, r == -ENOENT ? 404 : 500, "%s", err.message);
                        goto out;
                }
                json_array_append_new(chosen, entry);
                if (!serve_check(request, reply, SERVE_RIGHT_READ_AUDIT,
                                 serve_session_policy(entry)))
                        goto out;
        }
        if (chosen && sessions.count == 0) {
                json_t *all = NULL;
                struct reins_error err = {0};
                if (serve_sessions_collect(serve, &all, &err) < 0) {
                        serve_reply_error(reply, 500, "%s", err.message);
                        goto out;
                }
                size_t i;
                json_t *entry;
                json_array_foreach(
                    all, i, entry) if (serve_audit_readable(request->grant, request->no_grant_why,
                                                            serve_session_policy(entry), false))
                    json_array_append(chosen, entry);
                json_decref(all);
        }
        q.kept = calloc(q.limit, sizeof(*q.kept));
        if (!chosen || !q.kept) {
                serve_reply_error(reply, 500, "out of memory");
                goto out;
        }
        size_t i;
        json_t *entry;
        json_array_foreach(chosen, i, entry)
        {
                query_session(&q, request, entry);
        }
        if (sessions.count == 0 &&
            serve_audit_readable(request->grant, request->no_grant_why, NULL, true))
                query_own_trails(&q, serve);
        json_t *records = json_array();
        for (size_t k = 0; k < q.count; k++)
                json_array_append_new(records, q.kept[k].item);
        q.count = 0;
        serve_reply_json(reply, 200,
                         json_pack("{s:o, s:b, s:I}", "records", records, "truncated", q.truncated,
                                   "sessions", (json_int_t)json_array_size(chosen)));
out:
        for (size_t k = 0; k < q.count; k++)
                json_decref(q.kept[k].item);
        free(q.kept);
        json_decref(chosen);
        strv_free(&sessions);
}

/* ---- GET /v1/sessions/{id}/audit/export ---- */

struct export_stream {
        int fd;
        off_t offset, end; /* the trail as it was when the call came */
        enum audit_export_format format;
        char *type;
        struct serve_time_window window;
        char hostname[256];
        char *in; /* read, not yet split into lines */
        size_t in_length;
        bool discarding; /* inside a line longer than any record */
        char *out;
        size_t out_length, out_sent;
};

static void export_free(void *cls)
{
        struct export_stream *e = cls;
        if (e->fd >= 0)
                close(e->fd);
        free(e->type);
        free(e->in);
        free(e->out);
        free(e);
}

static void export_line(struct export_stream *e, const char *line, size_t length)
{
        json_auto_t *record = json_loadb(line, length, 0, NULL);
        const char *kind = json_string_value(json_object_get(record, "type"));
        if (!json_is_object(record) ||
            (e->type && (!kind || strncmp(kind, e->type, strlen(e->type)) != 0)) ||
            !serve_time_window_match(&e->window, record))
                return;
        /* the CLI's own line: `reins audit export --format F` */
        cleanup_free char *text = audit_export_line(e->format, record, e->hostname);
        if (!text)
                return;
        size_t n = strlen(text);
        char *bigger = realloc(e->out, e->out_length + n + 1);
        if (!bigger)
                return;
        memcpy(bigger + e->out_length, text, n);
        bigger[e->out_length + n] = '\n';
        e->out = bigger;
        e->out_length += n + 1;
}

/* Read the next chunk and turn its complete lines into output. */
static bool export_pull(struct export_stream *e)
{
        if (e->offset >= e->end)
                return false;
        size_t want = EXPORT_CHUNK;
        if ((off_t)want > e->end - e->offset)
                want = (size_t)(e->end - e->offset);
        char *bigger = realloc(e->in, e->in_length + want);
        if (!bigger)
                return false;
        e->in = bigger;
        ssize_t n = pread(e->fd, e->in + e->in_length, want, e->offset);
        if (n <= 0)
                return false;
        e->offset += n;
        e->in_length += (size_t)n;
        size_t start = 0;
        for (;;) {
                char *newline = memchr(e->in + start, '\n', e->in_length - start);
                if (!newline)
                        break;
                size_t length = (size_t)(newline - (e->in + start));
                if (!e->discarding)
                        export_line(e, e->in + start, length);
                e->discarding = false;
                start += length + 1;
        }
        memmove(e->in, e->in + start, e->in_length - start);
        e->in_length -= start;
        if (e->in_length > EXPORT_LINE_MAX) {
                /* longer than any record: dropped to its end */
                e->in_length = 0;
                e->discarding = true;
        }
        return true;
}

static ssize_t export_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        (void)pos;
        struct export_stream *e = cls;
        while (e->out_sent == e->out_length) {
                e->out_sent = e->out_length = 0;
                if (!export_pull(e))
                        return MHD_CONTENT_READER_END_OF_STREAM;
        }
        size_t n = e->out_length - e->out_sent;
        if (n > max)
                n = max;
        memcpy(buf, e->out + e->out_sent, n);
        e->out_sent += n;
        return (ssize_t)n;
}

void serve_api_session_audit_export(const struct serve_request *request, struct serve_reply *reply)
{
        const char *format = serve_request_arg(request, "format");
        enum audit_export_format parsed;
        if (!format || audit_export_format_parse(format, &parsed) < 0) {
                serve_reply_error(reply, 400, "format: expected ocsf, syslog or cef");
                return;
        }
        struct serve_time_window window;
        if (!serve_time_window_parse(request, reply, &window))
                return;
        struct stat st;
        int fd = serve_api_trail_open(request, reply, &st, NULL);
        if (fd < 0)
                return;
        struct export_stream *e = calloc(1, sizeof(*e));
        const char *type = serve_request_arg(request, "type");
        if (!e || (type && !(e->type = strdup(type)))) {
                free(e);
                close(fd);
                serve_reply_error(reply, 500, "out of memory");
                return;
        }
        e->fd = fd;
        e->end = st.st_size;
        e->format = parsed;
        e->window = window;
        if (gethostname(e->hostname, sizeof(e->hostname) - 1) < 0)
                snprintf(e->hostname, sizeof(e->hostname), "-");
        reply->status = 200;
        reply->content_type =
            parsed == AUDIT_EXPORT_OCSF ? "application/x-ndjson" : "text/plain; charset=utf-8";
        reply->stream_read = export_read;
        reply->stream_free = export_free;
        reply->stream = e;
}

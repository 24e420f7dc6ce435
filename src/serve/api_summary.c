/* What the trails add up to, through the API (issue 16's dashboard):
 *
 *   - session entries (GET /v1/sessions, GET /v1/sessions/{id}) gain
 *     "egress" and "counts" when the caller may read that session's trail;
 *   - GET /v1/activity?window=hour|day: denials, findings and approval
 *     requests per bucket (hour: 60 of one minute; day: 48 of 30 minutes)
 *     across the sessions whose trails the caller may read;
 *   - GET /v1/sessions/{id}/summary: the processes, destinations, tiers and
 *     findings of one session.
 *
 * Each comes from serve/trail_summary.h: a trail is read once, and after
 * that only what was appended to it. A trail the daemon cannot read (gone,
 * not its user's file, a symlink) leaves its session without the fields:
 * a listing never fails for one trail. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audit/clock.h"
#include "serve/api_summary.h"
#include "serve/audit_query.h"
#include "serve/record.h"
#include "serve/serve_internal.h"
#include "serve/sessions.h"
#include "serve/trail_summary.h"
#include "util/cleanup.h"

/* What one listing or one activity call reads of all the trails, new
 * bytes only: the first call after a start with many long trails stays
 * bounded, and the rest is read by the next calls (counts say "partial"). */
#define SUMMARY_REQUEST_BYTES (64 << 20)
#define ACTIVITY_HOUR_BUCKETS 60
#define ACTIVITY_DAY_BUCKETS  48
#define ACTIVITY_BUCKETS_MAX  ACTIVITY_HOUR_BUCKETS
_Static_assert(ACTIVITY_DAY_BUCKETS <= ACTIVITY_BUCKETS_MAX, "the buckets fit either window");

static bool summary_readable(const struct serve_request *request, const json_t *entry)
{
        return serve_request_allows_agent(request, SERVE_RIGHT_READ_AUDIT,
                                          serve_session_policy(entry), serve_session_agent(entry));
}

/* The trail of session `id`: as its record names it (remembered: a record
 * names its trail once, when the session starts), else where
 * serve_api_trail_path looks. */
static char *summary_trail_path(const struct serve_request *request, const char *id,
                                const json_t *entry)
{
        struct serve *serve = request->serve;
        char *path = serve_summaries_trail_of(serve->summaries, id);
        if (path)
                return path;
        json_auto_t *record = serve_record_read(serve->sessions_dir, id);
        const char *recorded = json_string_value(json_object_get(record, "trail"));
        if (recorded) {
                serve_summaries_remember_trail(serve->summaries, id, recorded);
                return strdup(recorded);
        }
        return serve_api_trail_path(request, id, entry);
}

/* The summary of the trail of the session `entry`; <0 when it cannot be
 * read. The caller has checked that it may. */
static int summary_of_entry(const struct serve_request *request, const json_t *entry,
                            struct trail_summary_query *query)
{
        struct serve *serve = request->serve;
        const char *id = json_string_value(json_object_get(entry, "session"));
        if (!serve->summaries || !id)
                return -ENOENT;
        cleanup_free char *path = summary_trail_path(request, id, entry);
        if (!path)
                return -ENOENT;
        uid_t uid = (uid_t)json_integer_value(json_object_get(entry, "uid"));
        struct stat st;
        /* unchanged since it was read: answered without opening it (lstat:
         * a symlink at the name is no trail, as for the open below) */
        if (lstat(path, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_uid != uid)
                return -EPERM;
        int r = trail_summary_peek(serve->summaries, path, &st, query);
        if (r != -ESTALE)
                return r;
        /* a regular file of the session's user, never through a symlink */
        cleanup_fd int fd = serve_api_trail_open_path(path, uid, &st);
        if (fd < 0)
                return fd;
        return trail_summary_read(serve->summaries, path, fd, &st, query);
}

/* The sums of `entry`, reading at most what *budget allows. */
static void summary_annotate(const struct serve_request *request, json_t *entry, size_t *budget)
{
        if (!summary_readable(request, entry))
                return;
        struct trail_summary_query query = {.want_totals = true, .budget = budget};
        if (summary_of_entry(request, entry, &query) == 0) {
                json_object_set(entry, "egress", query.egress);
                json_object_set(entry, "counts", query.counts);
        }
        json_decref(query.egress);
        json_decref(query.counts);
}

void serve_summary_annotate(const struct serve_request *request, json_t *entry)
{
        summary_annotate(request, entry, NULL);
}

void serve_summary_annotate_list(const struct serve_request *request, json_t *entries)
{
        size_t budget = SUMMARY_REQUEST_BYTES;
        size_t i;
        json_t *entry;
        json_array_foreach(entries, i, entry) summary_annotate(request, entry, &budget);
}

void serve_api_activity(const struct serve_request *request, struct serve_reply *reply)
{
        const char *window = serve_request_arg(request, "window");
        if (!window)
                window = "hour";
        size_t count;
        int64_t bucket_ms;
        if (strcmp(window, "hour") == 0) {
                count = ACTIVITY_HOUR_BUCKETS;
                bucket_ms = 60 * 1000;
        } else if (strcmp(window, "day") == 0) {
                count = ACTIVITY_DAY_BUCKETS;
                bucket_ms = 30 * 60 * 1000;
        } else {
                serve_reply_error(reply, 400, "window: expected hour or day");
                return;
        }
        struct reins_error err = {0};
        json_auto_t *sessions = NULL;
        if (serve_sessions_collect(request->serve, &sessions, &err) < 0) {
                serve_reply_error(reply, 500, "%s", err.message);
                return;
        }
        /* whole buckets, the last one holding now */
        int64_t until = (audit_now_ms() / bucket_ms + 1) * bucket_ms;
        int64_t since = until - (int64_t)count * bucket_ms;
        uint64_t buckets[ACTIVITY_BUCKETS_MAX][TRAIL_SUMMARY_COUNTS] = {{0}};
        size_t counted = 0;
        size_t budget = SUMMARY_REQUEST_BYTES;
        size_t i;
        json_t *entry;
        json_array_foreach(sessions, i, entry)
        {
                if (!serve_request_allows_agent(request, SERVE_RIGHT_READ_SESSIONS,
                                                serve_session_policy(entry),
                                                serve_session_agent(entry)) ||
                    !summary_readable(request, entry))
                        continue;
                struct trail_summary_query query = {.since_ms = since,
                                                    .bucket_ms = bucket_ms,
                                                    .bucket_count = count,
                                                    .buckets = buckets,
                                                    .budget = &budget};
                if (summary_of_entry(request, entry, &query) == 0)
                        counted++;
        }
        static const char *const names[] = {"denials", "findings", "approvals"};
        uint64_t totals[TRAIL_SUMMARY_COUNTS] = {0};
        json_t *list = json_array();
        for (size_t b = 0; b < count; b++) {
                json_t *bucket = json_pack("{s:I}", "start",
                                           (json_int_t)((since + (int64_t)b * bucket_ms) / 1000));
                for (int k = 0; k < TRAIL_SUMMARY_COUNTS; k++) {
                        json_object_set_new(bucket, names[k],
                                            json_integer((json_int_t)buckets[b][k]));
                        totals[k] += buckets[b][k];
                }
                json_array_append_new(list, bucket);
        }
        json_t *total = json_object();
        for (int k = 0; k < TRAIL_SUMMARY_COUNTS; k++)
                json_object_set_new(total, names[k], json_integer((json_int_t)totals[k]));
        serve_reply_json(reply, 200,
                         json_pack("{s:s, s:I, s:I, s:I, s:o, s:o, s:I}", "window", window,
                                   "bucket_seconds", (json_int_t)(bucket_ms / 1000), "since",
                                   (json_int_t)(since / 1000), "until", (json_int_t)(until / 1000),
                                   "buckets", list, "totals", total, "sessions",
                                   (json_int_t)counted));
}

void serve_api_session_summary(const struct serve_request *request, struct serve_reply *reply)
{
        struct stat st;
        json_auto_t *entry = NULL;
        /* read-audit checked against the session's policy and agent */
        cleanup_fd int fd = serve_api_trail_open(request, reply, &st, &entry);
        if (fd < 0)
                return;
        cleanup_free char *path = summary_trail_path(request, request->id, entry);
        struct trail_summary_query query = {.want_totals = true, .want_detail = true};
        if (!path || !request->serve->summaries ||
            trail_summary_read(request->serve->summaries, path, fd, &st, &query) < 0) {
                json_decref(query.egress);
                json_decref(query.counts);
                json_decref(query.detail);
                serve_reply_error(reply, 500, "summing up the trail of %s failed", request->id);
                return;
        }
        json_t *answer = query.detail;
        json_object_set_new(answer, "session", json_string(request->id));
        json_object_set_new(answer, "egress", query.egress);
        json_object_set_new(answer, "counts", query.counts);
        serve_reply_json(reply, 200, answer);
}

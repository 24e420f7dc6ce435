/* What a session's trail adds up to, for the dashboard (issue 16): its
 * egress (bytes up and down, connections, denied, asked), its counts of
 * denials, findings and approval requests, those counts per minute for the
 * last 24 hours, and lists a person reads: the processes it ran, the
 * destinations it reached, its risk tiers and its findings.
 *
 * One summary per trail, kept between calls and brought up to date by
 * reading only the bytes appended since the last visit: a listing of 500
 * sessions costs, per session, an open, an fstat and a look at a table. The
 * trail is opened by the caller (serve_api_trail_open_path: a regular file
 * of the session's user, never through a symlink) and handed over as an fd;
 * a trail replaced (another inode) or cut shorter is summed again from its
 * start.
 *
 * The trail is written by the session's user (a user can write anything
 * there): every line is bounded (TRAIL_SUMMARY_LINE_MAX), every list is
 * bounded by count and by bytes, the whole cache by entries and bytes, and
 * every string that reaches a person is escaped (audit/text.h) and cut. */
#ifndef REINS_SERVE_TRAIL_SUMMARY_H
#define REINS_SERVE_TRAIL_SUMMARY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

struct serve_summaries;

struct serve_summaries *serve_summaries_new(void);
void serve_summaries_free(struct serve_summaries *all);

/* Where the daemon's record of session `id` says its trail is, as
 * remembered (a malloc'd copy), or NULL; and remembering it. A record names
 * its trail once, at the start: a listing need not read every record again
 * to find every trail. At most SUMMARY_CACHE_MAX are kept. */
char *serve_summaries_trail_of(struct serve_summaries *all, const char *id);
void serve_summaries_remember_trail(struct serve_summaries *all, const char *id, const char *path);

/* The three counts a bucket of activity holds. */
enum trail_summary_count {
        TRAIL_SUMMARY_DENIALS,
        TRAIL_SUMMARY_FINDINGS,
        TRAIL_SUMMARY_APPROVALS,
        TRAIL_SUMMARY_COUNTS,
};

/* What a caller wants from one trail. Inputs first, then what is filled. */
struct trail_summary_query {
        /* buckets: `bucket_count` of `bucket_ms` each from `since_ms`; the
         * counts of the minutes inside are added to `buckets` (the
         * caller's, zeroed by it). bucket_count 0: none. */
        int64_t since_ms, bucket_ms;
        size_t bucket_count;
        uint64_t (*buckets)[TRAIL_SUMMARY_COUNTS];
        /* bytes the calls of one request may still read, shared by them and
         * lowered by each (NULL: each call reads up to its own limit) */
        size_t *budget;
        bool want_totals; /* egress and counts */
        bool want_detail; /* the lists */
        /* filled (new references) */
        json_t *egress; /* {"bytes_up", "bytes_down", "connections", "denied", "asked"} */
        /* {"denials", "findings", "approvals", "partial": the trail is
         * longer than what was read yet} */
        json_t *counts;
        /* {"processes", "destinations", "tiers", "findings", "truncated"} */
        json_t *detail;
};

/* Answer `query` from the summary of the trail at `path` as it is, when
 * `st` (its lstat) shows the file it was read from, at the size it had
 * then: nothing to read, so nothing to open. 0, -ESTALE (open it and call
 * trail_summary_read), or -ENOMEM. */
int trail_summary_peek(struct serve_summaries *all, const char *path, const struct stat *st,
                       struct trail_summary_query *query);

/* Bring the summary of the trail at `path` (open as `fd`, `st` its fstat,
 * taken after the open) up to date and answer `query`. 0, or -ENOMEM. */
int trail_summary_read(struct serve_summaries *all, const char *path, int fd, const struct stat *st,
                       struct trail_summary_query *query);

#endif

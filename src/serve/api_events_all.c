/* GET /v1/events: one server-sent-events stream across every session the
 * caller may read (READ_AUDIT on the session's policy), the daemon's own
 * trail included for those who may read every trail; sessions that start
 * after the stream opened come in as they start.
 *
 *   ?session=ID (several, or a comma-separated list)  only those sessions
 *   ?type=PREFIX                                      records whose type starts so
 *   ?severity=low|medium|high|critical                at least that severity
 *                                                     (serve/severity.h's table)
 *
 * Each message is
 *     id: N
 *     data: {"session": ID, "severity": S, ["daemon": true,] "record": {...}}
 * where N is the daemon's event id (serve/events_bus.h says why a number
 * and how it maps back to the trails). Last-Event-ID: N resumes after N,
 * from memory or, when the ring has forgotten it, from the trails; 0 is
 * "from the oldest event the daemon still indexes". Without it the stream
 * starts with what comes next.
 *
 * A subscriber is a thread of libmicrohttpd's waiting on the shared ring's
 * condition variable; it holds at most one batch (STREAM_BATCH bytes, or
 * one record) of its own. A slow reader costs only its own thread: the
 * follower never waits for it, and when the ring has moved past it, it
 * reads back from the trails. One that falls behind what the index keeps
 * is dropped with a final comment that says from where to resume. ": keepalive"
 * comments every STREAM_KEEPALIVE_MS; the stream ends when the daemon stops. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/audit_query.h"
#include "serve/events_bus.h"
#include "serve/serve_internal.h"
#include "serve/sessions.h"
#include "serve/targets.h"
#include "util/cleanup.h"

#define STREAM_BATCH        (64 << 10)
#define STREAM_KEEPALIVE_MS 5000 /* under the connection's 10 s idle timeout */

struct stream {
        struct serve *serve;
        struct serve_grant grant; /* a copy: the connection's may go first */
        bool has_grant;
        const char *no_grant_why; /* a static string */
        struct reins_strv sessions;
        char *type;
        int severity;
        uint64_t next;
        char *out;
        size_t out_length, out_sent;
        bool ended;
        long long last_sent_ms;
};

static long long stream_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stream_free(void *cls)
{
        struct stream *s = cls;
        serve_events_unsubscribe(s->serve->events);
        strv_free(&s->grant.policies);
        strv_free(&s->grant.agents);
        strv_free(&s->sessions);
        free(s->type);
        free(s->out);
        free(s);
}

static bool stream_append(struct stream *s, const char *text, size_t length)
{
        char *bigger = realloc(s->out, s->out_length + length);
        if (!bigger) {
                s->ended = true;
                return false;
        }
        memcpy(bigger + s->out_length, text, length);
        s->out = bigger;
        s->out_length += length;
        return true;
}

/* One event from the ring or the replay: kept when it passes. */
static bool stream_accept(void *ctx, const struct serve_event *event)
{
        struct stream *s = ctx;
        if (!serve_audit_readable(s->has_grant ? &s->grant : NULL, s->no_grant_why, event->policy,
                                  event->daemon))
                return true;
        if (s->sessions.count && !strv_contains(&s->sessions, event->session))
                return true;
        if (s->type && strncmp(event->type, s->type, strlen(s->type)) != 0)
                return true;
        if ((int)event->severity < s->severity)
                return true;
        return stream_append(s, event->message, event->length) && s->out_length < STREAM_BATCH;
}

static void stream_final(struct stream *s, const char *why)
{
        char line[512];
        int n = snprintf(line, sizeof(line), ": %s\n\n", why);
        if (n > 0)
                stream_append(s, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
        s->ended = true;
}

/* Fill the batch: from the ring, else back from the trails. */
static void stream_fill(struct stream *s)
{
        struct serve_events *bus = s->serve->events;
        int r = serve_events_take(bus, &s->next, STREAM_KEEPALIVE_MS, stream_accept, s);
        if (r == -ERANGE) {
                r = serve_events_replay(bus, &s->next, stream_accept, s);
                if (r == -ENOENT) {
                        char why[256];
                        snprintf(why, sizeof(why),
                                 "dropped: event %" PRIu64
                                 " is older than the daemon's index keeps; reconnect with "
                                 "Last-Event-ID: 0 for the oldest it has",
                                 s->next);
                        stream_final(s, why);
                }
        } else if (r == -ESHUTDOWN) {
                stream_final(s, "the daemon stops");
        }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        (void)pos;
        struct stream *s = cls;
        for (;;) {
                if (s->out_sent < s->out_length) {
                        size_t n = s->out_length - s->out_sent;
                        if (n > max)
                                n = max;
                        memcpy(buf, s->out + s->out_sent, n);
                        s->out_sent += n;
                        if (s->out_sent == s->out_length) {
                                s->out_sent = s->out_length = 0;
                                /* a batch is given back once sent: one
                                 * large record does not stay allocated */
                                free(s->out);
                                s->out = NULL;
                        }
                        s->last_sent_ms = stream_now_ms();
                        return (ssize_t)n;
                }
                if (s->ended)
                        return MHD_CONTENT_READER_END_OF_STREAM;
                if (atomic_load(&s->serve->stopping)) {
                        stream_final(s, "the daemon stops");
                        continue;
                }
                stream_fill(s);
                if (s->out_length == 0 && !s->ended &&
                    stream_now_ms() - s->last_sent_ms >= STREAM_KEEPALIVE_MS) {
                        static const char keepalive[] = ": keepalive\n\n";
                        stream_append(s, keepalive, sizeof(keepalive) - 1);
                }
        }
}

/* ?session=: each one the caller may read (refused and audited when not). */
static bool stream_check_sessions(const struct serve_request *request, struct serve_reply *reply,
                                  const struct reins_strv *sessions)
{
        for (size_t i = 0; i < sessions->count; i++) {
                json_auto_t *entry = NULL;
                struct reins_error err = {0};
                int r = serve_sessions_find(request->serve, sessions->items[i], &entry, &err);
                if (r < 0) {
                        serve_reply_error(reply, r == -ENOENT ? 404 : 500, "%s", err.message);
                        return false;
                }
                if (!serve_check(request, reply, SERVE_RIGHT_READ_AUDIT,
                                 serve_session_policy(entry)))
                        return false;
        }
        return true;
}

void serve_api_events(const struct serve_request *request, struct serve_reply *reply)
{
        struct serve *serve = request->serve;
        const char *resume = request->connection
                                 ? serve->mhd.lookup_connection_value(
                                       request->connection, MHD_HEADER_KIND, "Last-Event-ID")
                                 : NULL;
        char *end = NULL;
        unsigned long long after = resume ? strtoull(resume, &end, 10) : 0;
        if (resume && (!*resume || *end || after == ULLONG_MAX)) {
                serve_reply_error(reply, 400, "Last-Event-ID: expected an event id");
                return;
        }
        const char *severity = serve_request_arg(request, "severity");
        int rank = severity ? serve_severity_rank(severity) : 0;
        if (rank < 0) {
                serve_reply_error(reply, 400, "severity: expected low, medium, high or critical");
                return;
        }
        if (!serve->events) {
                serve_reply_error(reply, 503, "the events follower is not running");
                return;
        }
        struct stream *s = calloc(1, sizeof(*s));
        if (!s) {
                serve_reply_error(reply, 500, "out of memory");
                return;
        }
        s->serve = serve;
        s->severity = rank;
        s->no_grant_why = request->no_grant_why;
        const char *type = serve_request_arg(request, "type");
        int r = serve_request_args(request, "session", &s->sessions);
        if (r == 0 && request->grant) {
                s->has_grant = true;
                s->grant.uid = request->grant->uid;
                s->grant.role = request->grant->role;
                r = strv_copy(&s->grant.policies, &request->grant->policies);
                if (r == 0)
                        r = strv_copy(&s->grant.agents, &request->grant->agents);
        }
        if (r == 0 && type && !(s->type = strdup(type)))
                r = -ENOMEM;
        if (r < 0) {
                stream_free(s);
                if (r == -E2BIG)
                        serve_reply_error(reply, 400, "session: at most 64");
                else
                        serve_reply_error(reply, 500, "out of memory");
                return;
        }
        if (!stream_check_sessions(request, reply, &s->sessions)) {
                stream_free(s);
                return;
        }
        uint64_t head = serve_events_next_id(serve->events);
        /* 0: the oldest event the daemon still indexes */
        s->next = !resume ? head
                  : after ? (uint64_t)after + 1
                          : serve_events_first_id(serve->events);
        if (s->next > head)
                s->next = head; /* an id from the future (another daemon's): from now */
        s->last_sent_ms = stream_now_ms();
        serve_events_subscribe(serve->events);
        reply->status = 200;
        reply->content_type = "text/event-stream";
        reply->stream_read = stream_read;
        reply->stream_free = stream_free;
        reply->stream = s;
}

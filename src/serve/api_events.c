/* GET /v1/sessions/{id}/events: the session's events as server-sent events
 * (text/event-stream), read from its own audit trail as the supervisor
 * writes it: each record once, `id:` its seq, so a client that reconnects
 * with `Last-Event-ID: N` resumes after record N and misses nothing the
 * trail kept. `?type=PREFIX` filters. The stream ends after the trail's
 * final checkpoint, or when the supervisor is gone; a comment line every
 * 15 s keeps proxies from closing it and finds clients that left.
 *
 * libmicrohttpd runs one thread per connection: the reader below may wait
 * for new records without holding anyone else up. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/runtime.h"
#include "serve/serve_internal.h"
#include "util/cleanup.h"

#define EVENTS_POLL_MS 100
/* Is the supervisor still there? Asked once a second, not at every poll: a
 * hundred quiet streams cost a read each per poll, not also a /proc read. */
#define EVENTS_ALIVE_MS   1000
#define EVENTS_KEEPALIVE  15000 /* ms */
#define EVENTS_LINE_MAX   (1 << 20)
#define EVENTS_READ_CHUNK 65536

struct events_stream {
        struct serve *serve;
        int fd;        /* the trail, read as it grows */
        char *partial; /* a line not yet complete */
        size_t partial_length;
        uint64_t next_seq; /* records before this one are not sent */
        char *type;        /* prefix filter, or NULL */
        pid_t pid;         /* the supervisor, to end with it */
        unsigned long long pid_start;
        char *out; /* formatted, not yet handed over */
        size_t out_length, out_sent;
        bool ended;
        int quiet_ms;
};

static void events_free(void *cls)
{
        struct events_stream *e = cls;
        if (e->fd >= 0)
                close(e->fd);
        free(e->partial);
        free(e->type);
        free(e->out);
        free(e);
}

static int events_emit(struct events_stream *e, const char *text, size_t length)
{
        char *bigger = realloc(e->out, e->out_length + length);
        if (!bigger)
                return -ENOMEM;
        memcpy(bigger + e->out_length, text, length);
        e->out = bigger;
        e->out_length += length;
        return 0;
}

/* One complete trail line: an event for the client when it passes. */
static void events_line(struct events_stream *e, const char *line, size_t length)
{
        json_auto_t *record = json_loadb(line, length, 0, NULL);
        json_t *seq = json_object_get(record, "seq");
        if (!json_is_integer(seq) || (uint64_t)json_integer_value(seq) < e->next_seq)
                return;
        e->next_seq = (uint64_t)json_integer_value(seq) + 1;
        const char *type = json_string_value(json_object_get(record, "type"));
        if (type && strcmp(type, "checkpoint") == 0 &&
            json_is_true(json_object_get(record, "final")))
                e->ended = true;
        if (e->type && (!type || strncmp(type, e->type, strlen(e->type)) != 0))
                return;
        /* the record as the trail has it: one line of JSON, no newline in
         * it, so one `data:` line carries it */
        char head[64];
        int n = snprintf(head, sizeof(head),
                         "id: %llu\ndata: ", (unsigned long long)json_integer_value(seq));
        if (events_emit(e, head, (size_t)n) < 0 || events_emit(e, line, length) < 0 ||
            events_emit(e, "\n\n", 2) < 0)
                e->ended = true;
}

/* Read what the trail gained; complete lines become events. */
static void events_pull(struct events_stream *e)
{
        char chunk[EVENTS_READ_CHUNK];
        ssize_t n;
        while ((n = read(e->fd, chunk, sizeof(chunk))) > 0) {
                const char *p = chunk, *end = chunk + n;
                while (p < end) {
                        const char *newline = memchr(p, '\n', (size_t)(end - p));
                        size_t take = (size_t)((newline ? newline : end) - p);
                        if (e->partial_length + take > EVENTS_LINE_MAX) {
                                /* longer than any record the trail writes */
                                e->partial_length = 0;
                        } else {
                                char *bigger = realloc(e->partial, e->partial_length + take + 1);
                                if (!bigger) {
                                        e->ended = true;
                                        return;
                                }
                                memcpy(bigger + e->partial_length, p, take);
                                e->partial = bigger;
                                e->partial_length += take;
                        }
                        if (!newline)
                                break;
                        events_line(e, e->partial, e->partial_length);
                        e->partial_length = 0;
                        p = newline + 1;
                }
                if (e->out_length > e->out_sent)
                        return;
        }
}

static ssize_t events_read(void *cls, uint64_t pos, char *buf, size_t max)
{
        (void)pos;
        struct events_stream *e = cls;
        for (;;) {
                if (e->out_sent < e->out_length) {
                        size_t n = e->out_length - e->out_sent;
                        if (n > max)
                                n = max;
                        memcpy(buf, e->out + e->out_sent, n);
                        e->out_sent += n;
                        if (e->out_sent == e->out_length)
                                e->out_sent = e->out_length = 0;
                        return (ssize_t)n;
                }
                if (e->ended || atomic_load(&e->serve->stopping))
                        return MHD_CONTENT_READER_END_OF_STREAM;
                events_pull(e);
                if (e->out_length > 0)
                        continue;
                /* nothing new: a supervisor that is gone writes nothing more
                 * (one killed with -9 never writes its final checkpoint) */
                if (e->quiet_ms % EVENTS_ALIVE_MS == 0 &&
                    !runtime_pid_matches(e->pid, e->pid_start)) {
                        events_pull(e);
                        e->ended = e->out_length == 0;
                        continue;
                }
                struct timespec step = {.tv_nsec = EVENTS_POLL_MS * 1000000L};
                nanosleep(&step, NULL);
                e->quiet_ms += EVENTS_POLL_MS;
                if (e->quiet_ms >= EVENTS_KEEPALIVE) {
                        e->quiet_ms = 0;
                        static const char keepalive[] = ": keepalive\n\n";
                        if (events_emit(e, keepalive, sizeof(keepalive) - 1) < 0)
                                e->ended = true;
                }
        }
}

void serve_api_session_events(const struct serve_request *request, struct serve_reply *reply)
{
        const char *resume = request->connection
                                 ? request->serve->mhd.lookup_connection_value(
                                       request->connection, MHD_HEADER_KIND, "Last-Event-ID")
                                 : NULL;
        char *end = NULL;
        unsigned long long after = resume ? strtoull(resume, &end, 10) : 0;
        if (resume && (!*resume || *end)) {
                serve_reply_error(reply, 400, "Last-Event-ID: expected a record's seq");
                return;
        }
        struct stat st;
        json_auto_t *entry = NULL;
        int fd = serve_api_trail_open(request, reply, &st, &entry);
        if (fd < 0)
                return;
        struct events_stream *e = calloc(1, sizeof(*e));
        const char *type = serve_request_arg(request, "type");
        if (!e || (type && !(e->type = strdup(type)))) {
                free(e);
                close(fd);
                serve_reply_error(reply, 500, "out of memory");
                return;
        }
        e->serve = request->serve;
        e->fd = fd;
        e->next_seq = resume ? after + 1 : 0;
        e->pid = (pid_t)json_integer_value(json_object_get(entry, "pid"));
        e->pid_start = (unsigned long long)json_integer_value(json_object_get(entry, "pid_start"));
        reply->status = 200;
        reply->content_type = "text/event-stream";
        reply->stream_read = events_read;
        reply->stream_free = events_free;
        reply->stream = e;
}

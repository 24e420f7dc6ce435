/* Live SIEM forwarding from the trails (serve/forward.h). */
#include "serve/cursor.h"
#include "serve/forward.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/followed.h"
#include "serve/outbound.h"
#include "serve/record.h"
#include "serve/serve_internal.h"
#include "serve/tls_client.h"
#include "util/array.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/path.h"

#define FORWARD_BATCH_BYTES  (4 << 20)
#define FORWARD_READ_CHUNK   (1 << 20) /* also the longest record forwarded */
#define FORWARD_TIMEOUT_MS   10000
#define FORWARD_IDLE_MS      200
#define FORWARD_SETTLE_MS    50  /* syslog: no reset this long after the ack */
#define FORWARD_BACKOFF_MIN  100 /* ms */
#define FORWARD_REFRESH_MS   1000
#define FORWARD_MAX_SESSIONS 100000
#define FORWARD_MAX_PER_USER 10000 /* sessions of one user not the daemon's */

/* One session's trail as this target reads it. */
struct forward_follow {
        char session[25];
        char *trail;
        uid_t uid;
        off_t offset; /* bytes before this are sent or skipped */
};

struct serve_forwarder {
        struct serve *serve;
        const struct serve_forward_target *target;
        pthread_t thread;
        bool started;
        char *cursor_path;
        json_t *cursor; /* {SESSION: last acknowledged seq} */
        struct forward_follow *follows;
        size_t follow_count, follow_capacity;
        long long refreshed_ms;
        struct serve_followed followed; /* what serve/followed.c keeps between looks */
        char hostname[256];
        /* the batch being delivered */
        char *out;
        size_t out_length, out_capacity;
        unsigned batch_count;
        json_int_t batch_last_seq;
        off_t batch_end;
        char *read_buffer;
        /* a syslog connection, kept between batches */
        int fd;
        struct serve_tls_client *tls;
        void *tls_session;
        bool down; /* the last attempt failed (recorded once per outage) */
        unsigned long failures, delivered;
};

static long long forward_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep `ms`, waking early when the daemon stops. */
static void forward_sleep(struct serve_forwarder *f, long long ms)
{
        long long until = forward_now_ms() + ms;
        while (!atomic_load(&f->serve->stopping)) {
                long long left = until - forward_now_ms();
                if (left <= 0)
                        return;
                struct timespec step = {.tv_nsec = (left < 50 ? left : 50) * 1000000L};
                nanosleep(&step, NULL);
        }
}

/* ---- the cursor ---- */

static void forward_cursor_load(struct serve_forwarder *f)
{
        f->cursor = serve_cursor_load(f->cursor_path, NULL);
}

static int forward_cursor_save(struct serve_forwarder *f)
{
        return serve_cursor_save(f->cursor_path, f->cursor);
}

static json_int_t forward_cursor_of(struct serve_forwarder *f, const char *session)
{
        json_t *seq = json_object_get(f->cursor, session);
        return json_is_integer(seq) ? json_integer_value(seq) : -1;
}

/* ---- the sessions to follow ---- */

static struct forward_follow *forward_follow_find(struct serve_forwarder *f, const char *session)
{
        for (size_t i = 0; i < f->follow_count; i++)
                if (strcmp(f->follows[i].session, session) == 0)
                        return &f->follows[i];
        return NULL;
}

/* May one more session of `uid` be followed? Another user writes its own
 * registry entries: however many it makes, the other users' sessions keep
 * their place. */
static bool forward_follow_room(const struct serve_forwarder *f, uid_t uid)
{
        if (f->follow_count >= FORWARD_MAX_SESSIONS)
                return false;
        size_t of_uid = 0;
        for (size_t i = 0; uid != f->serve->uid && i < f->follow_count; i++)
                of_uid += f->follows[i].uid == uid;
        return of_uid < FORWARD_MAX_PER_USER;
}

static void forward_follow_add(struct serve_forwarder *f, const char *session, const char *trail,
                               uid_t uid)
{
        if (forward_follow_find(f, session) || !forward_follow_room(f, uid) ||
            array_reserve(f->follows, f->follow_capacity, f->follow_count + 1, 64) < 0)
                return;
        struct forward_follow *follow = &f->follows[f->follow_count];
        memset(follow, 0, sizeof(*follow));
        if (!(follow->trail = strdup(trail)))
                return;
        snprintf(follow->session, sizeof(follow->session), "%s", session);
        follow->uid = uid;
        f->follow_count++;
}

static void forward_found(void *context, const char *session, const char *trail, uid_t uid)
{
        forward_follow_add(context, session, trail, uid);
}

/* Every session the daemon can see (serve/followed.h): its own trails,
 * those it started, and the `reins run` sessions of its user's registry
 * (root: of every user's). */
static void forward_refresh(struct serve_forwarder *f)
{
        f->refreshed_ms = forward_now_ms();
        serve_followed_each(f->serve, &f->followed, f->cursor, forward_found, f);
}

/* ---- formatting ---- */

static int forward_append(struct serve_forwarder *f, const char *data, size_t length)
{
        if (f->out_length + length > f->out_capacity) {
                size_t capacity = f->out_capacity ? f->out_capacity : 65536;
                while (capacity < f->out_length + length)
                        capacity *= 2;
                char *bigger = realloc(f->out, capacity);
                if (!bigger)
                        return -ENOMEM;
                f->out = bigger;
                f->out_capacity = capacity;
        }
        memcpy(f->out + f->out_length, data, length);
        f->out_length += length;
        return 0;
}

/* A syslog MSGID: printable ASCII without spaces, at most 32. */
static void forward_msgid(const char *type, char *out)
{
        size_t n = 0;
        for (; type && type[n] && n < 32; n++)
                out[n] = type[n] > ' ' && type[n] < 127 ? type[n] : '_';
        if (n == 0)
                out[n++] = '-';
        out[n] = '\0';
}

/* Severity for PRI: a refusal, a finding or an approval is a warning (4);
 * the rest informational (6). Facility local0 (16). */
static int forward_pri(const char *type)
{
        bool warn =
            type && (strstr(type, "deny") || strstr(type, "denied") || strstr(type, "finding") ||
                     strstr(type, "approval") || strstr(type, "tier"));
        return 16 * 8 + (warn ? 4 : 6);
}

/* The record's time as an RFC 5424 TIMESTAMP, or "-": the trail is its
 * user's file, so only the characters of an RFC 3339 time pass (a space or
 * a quote would move the header's fields). */
static const char *forward_timestamp(const char *time)
{
        if (!time || strlen(time) == 0 || strlen(time) >= 40 ||
            strspn(time, "0123456789-:.TZ+") != strlen(time))
                return "-";
        return time;
}

/* One record into the batch, in the target's format. */
static int forward_format(struct serve_forwarder *f, const char *session, const json_t *record,
                          const char *line, size_t length)
{
        const char *type = json_string_value(json_object_get(record, "type"));
        const char *time = json_string_value(json_object_get(record, "time"));
        json_int_t seq = json_integer_value(json_object_get(record, "seq"));
        cleanup_free char *head = NULL;
        int n;
        switch (f->target->type) {
        case SERVE_FORWARD_SYSLOG_TCP:
        case SERVE_FORWARD_SYSLOG_TLS: {
                /* RFC 5424 in RFC 5425/6587 octet counting: LEN SP MSG */
                char msgid[33];
                forward_msgid(type, msgid);
                cleanup_free char *msg = NULL;
                int m = asprintf(
                    &msg, "<%d>1 %s %s reins - %s [reins@32473 session=\"%s\" seq=\"%lld\"] ",
                    forward_pri(type), forward_timestamp(time), f->hostname, msgid, session,
                    (long long)seq);
                if (m < 0)
                        return -ENOMEM;
                n = asprintf(&head, "%zu %s", (size_t)m + length, msg);
                if (n < 0)
                        return -ENOMEM;
                int r = forward_append(f, head, (size_t)n);
                return r < 0 ? r : forward_append(f, line, length);
        }
        case SERVE_FORWARD_HEC: {
                /* concatenated event objects, as /services/collector/event takes */
                json_auto_t *event =
                    json_pack("{s:s, s:s, s:s, s:O}", "host", f->hostname, "source", "reins",
                              "sourcetype", "reins:audit", "event", record);
                cleanup_free char *text = event ? json_dumps(event, JSON_COMPACT) : NULL;
                if (!text)
                        return -ENOMEM;
                int r = forward_append(f, text, strlen(text));
                return r < 0 ? r : forward_append(f, "\n", 1);
        }
        case SERVE_FORWARD_ELASTIC:
                /* bulk NDJSON; `create` with the record's id: a record the
                 * index already has is refused there, not stored twice */
                n = asprintf(&head, "{\"create\":{\"_index\":\"reins\",\"_id\":\"%s-%lld\"}}\n",
                             session, (long long)seq);
                if (n < 0)
                        return -ENOMEM;
                int r = forward_append(f, head, (size_t)n);
                if (r == 0)
                        r = forward_append(f, line, length);
                return r < 0 ? r : forward_append(f, "\n", 1);
        }
        return -EINVAL;
}

/* Build a batch of the records of one session after its cursor. */
static int forward_collect(struct serve_forwarder *f, struct forward_follow *follow)
{
        f->out_length = 0;
        f->batch_count = 0;
        /* the name may come from a user's registry entry: no link, and
         * O_NONBLOCK so that a FIFO there cannot hold the thread in open();
         * only a regular file of the session's uid is read */
        cleanup_fd int fd =
            open(follow->trail, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return 0; /* not written yet */
        if (!S_ISREG(st.st_mode) || st.st_uid != follow->uid || st.st_size <= follow->offset)
                return 0;
        json_int_t acked = forward_cursor_of(f, follow->session);
        /* one chunk from the offset: records already taken are passed (the
         * offset moves), new ones fill the batch; a batch stops at the
         * chunk's end, its size, or its bytes */
        off_t chunk = follow->offset;
        ssize_t n = pread(fd, f->read_buffer, FORWARD_READ_CHUNK, chunk);
        if (n <= 0)
                return 0;
        const char *p = f->read_buffer, *end = f->read_buffer + n;
        const char *newline = memchr(p, '\n', (size_t)(end - p));
        if (!newline && n == FORWARD_READ_CHUNK) {
                /* a line longer than any record the trail writes: passed */
                follow->offset += n;
                return 0;
        }
        for (; newline && f->batch_count < f->target->batch && f->out_length < FORWARD_BATCH_BYTES;
             p = newline + 1, newline = memchr(p, '\n', (size_t)(end - p))) {
                size_t length = (size_t)(newline - p);
                off_t next = chunk + (off_t)(newline + 1 - f->read_buffer);
                json_auto_t *record = json_loadb(p, length, 0, NULL);
                json_t *seq = json_object_get(record, "seq");
                if (json_is_integer(seq) && json_integer_value(seq) > acked &&
                    (f->batch_count == 0 || json_integer_value(seq) > f->batch_last_seq)) {
                        int r = forward_format(f, follow->session, record, p, length);
                        if (r < 0)
                                return r;
                        f->batch_count++;
                        f->batch_last_seq = json_integer_value(seq);
                        f->batch_end = next;
                } else if (f->batch_count == 0) {
                        /* acknowledged before, or not a record: passed */
                        follow->offset = next;
                } else {
                        /* out of order within a batch: the batch ends here */
                        break;
                }
        }
        return (int)f->batch_count;
}

/* ---- delivery ---- */

static void forward_disconnect(struct serve_forwarder *f)
{
        if (f->tls_session)
                serve_tls_client_close(f->tls, f->tls_session);
        f->tls_session = NULL;
        if (f->fd >= 0)
                close(f->fd);
        f->fd = -1;
}

static int forward_syslog(struct serve_forwarder *f, struct reins_error *err)
{
        const struct serve_forward_target *t = f->target;
        if (f->fd < 0) {
                f->fd = outbound_connect(t->host, t->port, FORWARD_TIMEOUT_MS);
                if (f->fd < 0) {
                        int r = f->fd;
                        f->fd = -1;
                        return reins_error_errno(err, -r, "connecting to %s:%s", t->host, t->port);
                }
                if (t->type == SERVE_FORWARD_SYSLOG_TLS) {
                        f->tls_session = serve_tls_client_start(
                            f->tls, f->fd, t->server_name ? t->server_name : t->host,
                            FORWARD_TIMEOUT_MS, err);
                        if (!f->tls_session) {
                                forward_disconnect(f);
                                return -EPROTO;
                        }
                }
        }
        int r = f->tls_session
                    ? serve_tls_client_send(f->tls, f->tls_session, f->out, f->out_length)
                    : outbound_send_all(f->fd, f->out, f->out_length, FORWARD_TIMEOUT_MS);
        if (r == 0)
                r = outbound_wait_acked(f->fd, FORWARD_SETTLE_MS, FORWARD_TIMEOUT_MS);
        if (r < 0) {
                forward_disconnect(f);
                return reins_error_errno(err, -r, "sending to %s:%s", t->host, t->port);
        }
        if (r == 1) /* taken, then closed by the receiver: reconnect next time */
                forward_disconnect(f);
        return 0;
}

static int forward_http(struct serve_forwarder *f, struct reins_error *err)
{
        const struct serve_forward_target *t = f->target;
        cleanup_free char *headers = NULL;
        if (t->type == SERVE_FORWARD_HEC &&
            asprintf(&headers, "Authorization: Splunk %s\r\n", t->token) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        const struct outbound_endpoint to = {.host = t->host,
                                             .port = t->port,
                                             .path = t->path,
                                             .tls = t->tls ? f->tls : NULL,
                                             .server_name = t->server_name};
        int status = 0;
        int r = outbound_http_post(&to, headers,
                                   t->type == SERVE_FORWARD_ELASTIC ? "application/x-ndjson"
                                                                    : "application/json",
                                   f->out, f->out_length, FORWARD_TIMEOUT_MS, &status, err);
        if (r < 0)
                return r;
        if (status < 200 || status > 299)
                return reins_error_set(err, EIO, "%s://%s:%s%s answered %d",
                                       t->tls ? "https" : "http", t->host, t->port, t->path,
                                       status);
        return 0;
}

static void forward_event(struct serve_forwarder *f, const char *type, const char *why)
{
        serve_trail_emit(&f->serve->trail, type,
                         json_pack("{s:s, s:s?, s:I, s:I}", "target", f->target->name, "error", why,
                                   "delivered", (json_int_t)f->delivered, "failures",
                                   (json_int_t)f->failures));
}

/* One pass over the sessions: 1 when something was delivered, 0 when
 * there was nothing to send, -1 when a delivery failed. */
static int forward_pass(struct serve_forwarder *f)
{
        int result = 0;
        for (size_t i = 0; i < f->follow_count && !atomic_load(&f->serve->stopping); i++) {
                struct forward_follow *follow = &f->follows[i];
                int n = forward_collect(f, follow);
                if (n <= 0)
                        continue;
                struct reins_error err = {0};
                int r = f->target->type == SERVE_FORWARD_SYSLOG_TCP ||
                                f->target->type == SERVE_FORWARD_SYSLOG_TLS
                            ? forward_syslog(f, &err)
                            : forward_http(f, &err);
                if (r < 0) {
                        f->failures++;
                        if (!f->down)
                                forward_event(f, "serve.forward.down", err.message);
                        f->down = true;
                        return -1;
                }
                /* acknowledged: the cursor first, then the next batch */
                json_object_set_new(f->cursor, follow->session, json_integer(f->batch_last_seq));
                if (forward_cursor_save(f) < 0) {
                        f->failures++;
                        return -1;
                }
                follow->offset = f->batch_end;
                f->delivered += (unsigned long)n;
                if (f->down) {
                        f->down = false;
                        forward_event(f, "serve.forward.up", NULL);
                }
                result = 1;
                i--; /* the same session again: it may have more */
        }
        return result;
}

static void *forward_thread(void *arg)
{
        struct serve_forwarder *f = arg;
        long long backoff = 0;
        while (!atomic_load(&f->serve->stopping)) {
                if (forward_now_ms() - f->refreshed_ms >= FORWARD_REFRESH_MS)
                        forward_refresh(f);
                int r = forward_pass(f);
                if (r < 0) {
                        backoff = backoff ? backoff * 2 : FORWARD_BACKOFF_MIN;
                        if (backoff > (long long)f->target->backoff_max * 1000)
                                backoff = (long long)f->target->backoff_max * 1000;
                        forward_sleep(f, backoff);
                } else {
                        backoff = 0;
                        if (r == 0)
                                forward_sleep(f, FORWARD_IDLE_MS);
                }
        }
        forward_disconnect(f);
        return NULL;
}

static void forward_free_one(struct serve_forwarder *f)
{
        forward_disconnect(f);
        serve_tls_client_free(f->tls);
        for (size_t i = 0; i < f->follow_count; i++)
                free(f->follows[i].trail);
        free(f->follows);
        free(f->out);
        free(f->read_buffer);
        free(f->cursor_path);
        json_decref(f->cursor);
}

int serve_forward_start(struct serve *serve, struct reins_error *err)
{
        const struct serve_targets *targets = &serve->config.targets;
        if (targets->forward_count == 0)
                return 0;
        cleanup_free char *dir = path_join(serve->state_dir, "forward");
        if (!dir)
                return reins_error_set(err, ENOMEM, "out of memory");
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return reins_error_errno(err, errno, "creating %s", dir);
        serve->forwarders = calloc(targets->forward_count, sizeof(*serve->forwarders));
        if (!serve->forwarders)
                return reins_error_set(err, ENOMEM, "out of memory");
        serve->forwarder_count = targets->forward_count;
        for (size_t i = 0; i < targets->forward_count; i++) {
                struct serve_forwarder *f = &serve->forwarders[i];
                f->serve = serve;
                f->target = &targets->forward[i];
                f->fd = -1;
                if (gethostname(f->hostname, sizeof(f->hostname) - 1) < 0 || !f->hostname[0])
                        strcpy(f->hostname, "-");
                f->hostname[strcspn(f->hostname, " ")] = '\0';
                if (asprintf(&f->cursor_path, "%s/%s.json", dir, f->target->name) < 0 ||
                    !(f->read_buffer = malloc(FORWARD_READ_CHUNK)))
                        return reins_error_set(err, ENOMEM, "out of memory");
                forward_cursor_load(f);
                f->followed.since = time(NULL) - 1;
                if (f->target->type == SERVE_FORWARD_SYSLOG_TLS || f->target->tls) {
                        int r = serve_tls_client_new(f->target->ca, &f->tls, err);
                        if (r < 0)
                                return r;
                }
        }
        for (size_t i = 0; i < serve->forwarder_count; i++) {
                struct serve_forwarder *f = &serve->forwarders[i];
                int r = pthread_create(&f->thread, NULL, forward_thread, f);
                if (r != 0)
                        return reins_error_errno(err, r, "starting the forwarding thread");
                f->started = true;
        }
        return 0;
}

void serve_forward_stop(struct serve *serve)
{
        for (size_t i = 0; i < serve->forwarder_count; i++) {
                struct serve_forwarder *f = &serve->forwarders[i];
                if (f->started)
                        pthread_join(f->thread, NULL);
                forward_free_one(f);
        }
        free(serve->forwarders);
        serve->forwarders = NULL;
        serve->forwarder_count = 0;
}

/* Escalation: what in the trails needs a person (serve/notify.h). */
#include "serve/cursor.h"
#include "serve/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/record.h"
#include "serve/serve_internal.h"
#include "util/array.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/path.h"

#define NOTIFY_CHUNK        (1 << 20)
#define NOTIFY_POLL_MS      200
#define NOTIFY_PENDING_MAX  4096
#define NOTIFY_SESSIONS_MAX 100000

struct notify_follow {
        char session[25];
        char *trail;
        uid_t uid;
        off_t offset;
};

/* An approval request not answered yet. */
struct notify_pending {
        char session[25];
        char *id;
        json_t *notification; /* made when it is seen, sent when it is late */
        long long seen_ms;
        bool sent;
};

struct serve_notifier {
        struct serve *serve;
        pthread_t thread;
        bool started;
        char *cursor_path;
        json_t *cursor;
        bool fresh; /* no cursor file: sessions known now start at their end */
        struct notify_follow *follows;
        size_t follow_count, follow_capacity;
        struct notify_pending *pending;
        size_t pending_count, pending_capacity;
        struct serve_notify_queue **queues; /* one per target */
        char *buffer;
};

static long long notify_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int notify_cursor_save(struct serve_notifier *n)
{
        return serve_cursor_save(n->cursor_path, n->cursor);
}

static void notify_cursor_load(struct serve_notifier *n)
{
        n->cursor = serve_cursor_load(n->cursor_path, &n->fresh);
}

static void notify_refresh(struct serve_notifier *n, bool first)
{
        json_auto_t *records = NULL;
        struct reins_error err = {0};
        if (serve_record_list(n->serve->sessions_dir, &records, &err) < 0)
                return;
        size_t i;
        json_t *record;
        json_array_foreach(records, i, record)
        {
                const char *session = json_string_value(json_object_get(record, "session"));
                const char *trail = json_string_value(json_object_get(record, "trail"));
                if (!session || !trail || strlen(session) != 24 ||
                    n->follow_count >= NOTIFY_SESSIONS_MAX)
                        continue;
                bool known = false;
                for (size_t j = 0; j < n->follow_count && !known; j++)
                        known = strcmp(n->follows[j].session, session) == 0;
                if (known ||
                    array_reserve(n->follows, n->follow_capacity, n->follow_count + 1, 64) < 0)
                        continue;
                struct notify_follow *f = &n->follows[n->follow_count];
                memset(f, 0, sizeof(*f));
                if (!(f->trail = strdup(trail)))
                        continue;
                memcpy(f->session, session, sizeof(f->session));
                f->uid = (uid_t)json_integer_value(json_object_get(record, "uid"));
                struct stat st;
                /* the first start with no cursor: what happened before is
                 * not news; later sessions are read from their start */
                if (first && n->fresh && stat(trail, &st) == 0)
                        f->offset = st.st_size;
                n->follow_count++;
        }
}

static void notify_push(struct serve_notifier *n, unsigned kind_bit, const char *kind,
                        const char *session, const json_t *record, int severity)
{
        const struct serve_targets *targets = &n->serve->config.targets;
        for (size_t i = 0; i < targets->notify_count; i++) {
                const struct serve_notify_target *t = &targets->notify[i];
                if (!(t->on & kind_bit) ||
                    (kind_bit == SERVE_NOTIFY_FINDING && severity < t->severity))
                        continue;
                json_t *notification =
                    json_pack("{s:s, s:s, s:O, s:O?, s:O}", "kind", kind, "session", session, "seq",
                              json_object_get(record, "seq"), "time",
                              json_object_get(record, "time"), "record", record);
                if (notification)
                        serve_notify_queue_push(n->queues[i], notification);
        }
}

static void notify_record(struct serve_notifier *n, const char *session, const json_t *record)
{
        const char *type = json_string_value(json_object_get(record, "type"));
        if (!type)
                return;
        if (strcmp(type, "risk.tier") == 0) {
                notify_push(n, SERVE_NOTIFY_TIER, "tier", session, record, 0);
        } else if (strcmp(type, "risk.finding") == 0) {
                int severity =
                    serve_severity_rank(json_string_value(json_object_get(record, "severity")));
                notify_push(n, SERVE_NOTIFY_FINDING, "finding", session, record, severity);
        } else if (strcmp(type, "session.freeze") == 0 ||
                   (strcmp(type, "risk.playbook") == 0 &&
                    json_is_string(json_object_get(record, "action")) &&
                    strcmp(json_string_value(json_object_get(record, "action")), "freeze") == 0)) {
                /* frozen by the library's caller, or by the risk playbook
                 * (which the control socket's freeze also goes through) */
                notify_push(n, SERVE_NOTIFY_FROZEN, "frozen", session, record, 0);
        } else if (strcmp(type, "approval.request") == 0) {
                const char *id = json_string_value(json_object_get(record, "id"));
                if (!id || n->pending_count >= NOTIFY_PENDING_MAX ||
                    array_reserve(n->pending, n->pending_capacity, n->pending_count + 1, 16) < 0)
                        return;
                struct notify_pending *p = &n->pending[n->pending_count];
                memset(p, 0, sizeof(*p));
                if (!(p->id = strdup(id)))
                        return;
                memcpy(p->session, session, sizeof(p->session));
                p->notification = json_incref((json_t *)record);
                p->seen_ms = notify_now_ms();
                n->pending_count++;
        } else if (strncmp(type, "approval.", 9) == 0) {
                /* answered, refused, timed out, withdrawn: no longer waiting */
                const char *id = json_string_value(json_object_get(record, "id"));
                for (size_t i = 0; id && i < n->pending_count; i++)
                        if (strcmp(n->pending[i].id, id) == 0 &&
                            strcmp(n->pending[i].session, session) == 0) {
                                free(n->pending[i].id);
                                json_decref(n->pending[i].notification);
                                n->pending[i] = n->pending[--n->pending_count];
                                break;
                        }
        }
}

/* Approvals waiting longer than a target's approval_wait. */
static void notify_late_approvals(struct serve_notifier *n)
{
        const struct serve_targets *targets = &n->serve->config.targets;
        long long now = notify_now_ms();
        for (size_t i = 0; i < n->pending_count; i++) {
                struct notify_pending *p = &n->pending[i];
                if (p->sent)
                        continue;
                unsigned shortest = 0;
                bool any = false;
                for (size_t j = 0; j < targets->notify_count; j++)
                        if (targets->notify[j].on & SERVE_NOTIFY_APPROVAL &&
                            (!any || targets->notify[j].approval_wait < shortest)) {
                                shortest = targets->notify[j].approval_wait;
                                any = true;
                        }
                if (!any || now - p->seen_ms < (long long)shortest * 1000)
                        continue;
                p->sent = true;
                for (size_t j = 0; j < targets->notify_count; j++) {
                        const struct serve_notify_target *t = &targets->notify[j];
                        if (!(t->on & SERVE_NOTIFY_APPROVAL) ||
                            now - p->seen_ms < (long long)t->approval_wait * 1000)
                                continue;
                        json_t *notification = json_pack(
                            "{s:s, s:s, s:O, s:O?, s:I, s:O}", "kind", "approval", "session",
                            p->session, "seq", json_object_get(p->notification, "seq"), "time",
                            json_object_get(p->notification, "time"), "waiting_s",
                            (json_int_t)((now - p->seen_ms) / 1000), "record", p->notification);
                        if (notification)
                                serve_notify_queue_push(n->queues[j], notification);
                }
        }
}

/* New complete records of one session; true when the cursor moved. */
static bool notify_read(struct serve_notifier *n, struct notify_follow *f)
{
        cleanup_fd int fd = open(f->trail, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != f->uid ||
            st.st_size <= f->offset)
                return false;
        json_t *last = json_object_get(n->cursor, f->session);
        json_int_t done = json_is_integer(last) ? json_integer_value(last) : -1, seen = done;
        ssize_t got = pread(fd, n->buffer, NOTIFY_CHUNK, f->offset);
        if (got <= 0)
                return false;
        const char *p = n->buffer, *end = n->buffer + got, *newline;
        off_t chunk = f->offset;
        if (!memchr(p, '\n', (size_t)got) && got == NOTIFY_CHUNK) {
                f->offset += got; /* longer than any record */
                return false;
        }
        while ((newline = memchr(p, '\n', (size_t)(end - p)))) {
                json_auto_t *record = json_loadb(p, (size_t)(newline - p), 0, NULL);
                json_t *seq = json_object_get(record, "seq");
                if (json_is_integer(seq) && json_integer_value(seq) > seen) {
                        seen = json_integer_value(seq);
                        notify_record(n, f->session, record);
                }
                p = newline + 1;
                f->offset = chunk + (off_t)(p - n->buffer);
        }
        if (seen == done)
                return false;
        json_object_set_new(n->cursor, f->session, json_integer(seen));
        return true;
}

static void *notify_thread(void *arg)
{
        struct serve_notifier *n = arg;
        long long refreshed = 0;
        bool first = true;
        while (!atomic_load(&n->serve->stopping)) {
                if (notify_now_ms() - refreshed >= 1000) {
                        notify_refresh(n, first);
                        first = false;
                        refreshed = notify_now_ms();
                }
                bool moved = false;
                for (size_t i = 0; i < n->follow_count; i++)
                        moved |= notify_read(n, &n->follows[i]);
                if (moved)
                        notify_cursor_save(n);
                notify_late_approvals(n);
                struct timespec step = {.tv_nsec = NOTIFY_POLL_MS * 1000000L};
                nanosleep(&step, NULL);
        }
        return NULL;
}

int serve_notify_start(struct serve *serve, struct reins_error *err)
{
        const struct serve_targets *targets = &serve->config.targets;
        if (targets->notify_count == 0)
                return 0;
        cleanup_free char *dir = path_join(serve->state_dir, "notify");
        if (!dir)
                return reins_error_set(err, ENOMEM, "out of memory");
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return reins_error_errno(err, errno, "creating %s", dir);
        struct serve_notifier *n = calloc(1, sizeof(*n));
        if (!n)
                return reins_error_set(err, ENOMEM, "out of memory");
        serve->notifier = n;
        n->serve = serve;
        n->queues = calloc(targets->notify_count, sizeof(*n->queues));
        if (!n->queues || !(n->buffer = malloc(NOTIFY_CHUNK)) ||
            asprintf(&n->cursor_path, "%s/cursor.json", dir) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        notify_cursor_load(n);
        for (size_t i = 0; i < targets->notify_count; i++) {
                int r =
                    serve_notify_queue_start(serve, &targets->notify[i], dir, &n->queues[i], err);
                if (r < 0)
                        return r;
        }
        int r = pthread_create(&n->thread, NULL, notify_thread, n);
        if (r != 0)
                return reins_error_errno(err, r, "starting the escalation thread");
        n->started = true;
        return 0;
}

void serve_notify_stop(struct serve *serve)
{
        struct serve_notifier *n = serve->notifier;
        if (!n)
                return;
        if (n->started)
                pthread_join(n->thread, NULL);
        for (size_t i = 0; n->queues && i < serve->config.targets.notify_count; i++)
                serve_notify_queue_stop(n->queues[i]);
        free(n->queues);
        for (size_t i = 0; i < n->follow_count; i++)
                free(n->follows[i].trail);
        free(n->follows);
        for (size_t i = 0; i < n->pending_count; i++) {
                free(n->pending[i].id);
                json_decref(n->pending[i].notification);
        }
        free(n->pending);
        free(n->buffer);
        free(n->cursor_path);
        json_decref(n->cursor);
        free(n);
        serve->notifier = NULL;
}

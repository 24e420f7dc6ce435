/* Delivery of escalations to one target (serve/notify.h): a webhook (JSON
 * POST signed with HMAC-SHA256 over the body, retried with exponential
 * backoff, then a dead-letter file) or a command hook (the program run
 * without a shell, the JSON on its stdin, killed past its timeout). Every
 * attempt is an event of the daemon's own trail: serve.notify.attempt
 * ({target, kind, about_session, about_seq, attempt, delivered, result}),
 * and serve.notify.dead_letter when a notification is given up. */
#include <errno.h>
#include <fcntl.h>
#include <nettle/hmac.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "serve/notify.h"
#include "serve/outbound.h"
#include "serve/serve_internal.h"
#include "util/cleanup.h"
#include "util/fileio.h"

#define NOTIFY_QUEUE_MAX   1024
#define NOTIFY_BACKOFF_MIN 200   /* ms, doubling */
#define NOTIFY_BACKOFF_MAX 30000 /* ms */

struct serve_notify_queue {
        struct serve *serve;
        const struct serve_notify_target *target;
        struct serve_tls_client *tls; /* https:// */
        char *dead_letter;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t wake;
        json_t *items[NOTIFY_QUEUE_MAX];
        size_t head, count;
        bool stop, started;
};

static long long notify_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The given-up notification, one JSON line appended to NAME.dead. */
static void notify_dead_letter(struct serve_notify_queue *q, json_t *notification, const char *why)
{
        cleanup_free char *text = json_dumps(notification, JSON_COMPACT);
        cleanup_fd int fd =
            open(q->dead_letter, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0 && text) {
                fileio_write_all(fd, text, strlen(text));
                fileio_write_all(fd, "\n", 1);
        }
        serve_trail_emit(&q->serve->trail, "serve.notify.dead_letter",
                         json_pack("{s:s, s:O?, s:O?, s:s, s:s}", "target", q->target->name,
                                   "about_session", json_object_get(notification, "session"),
                                   "about_seq", json_object_get(notification, "seq"), "error", why,
                                   "file", q->dead_letter));
}

void serve_notify_queue_push(struct serve_notify_queue *q, json_t *notification)
{
        pthread_mutex_lock(&q->lock);
        if (q->count == NOTIFY_QUEUE_MAX) {
                pthread_mutex_unlock(&q->lock);
                notify_dead_letter(q, notification, "queue full");
                json_decref(notification);
                return;
        }
        q->items[(q->head + q->count++) % NOTIFY_QUEUE_MAX] = notification;
        pthread_cond_signal(&q->wake);
        pthread_mutex_unlock(&q->lock);
}

/* HMAC-SHA256 of the body with the target's secret, as lowercase hex. */
static void notify_sign(const char *secret, const char *body, size_t length, char hex[65])
{
        struct hmac_sha256_ctx ctx;
        uint8_t digest[SHA256_DIGEST_SIZE];
        hmac_sha256_set_key(&ctx, strlen(secret), (const uint8_t *)secret);
        hmac_sha256_update(&ctx, length, (const uint8_t *)body);
        hmac_sha256_digest(&ctx, sizeof(digest), digest);
        for (size_t i = 0; i < sizeof(digest); i++)
                snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

static int notify_webhook(struct serve_notify_queue *q, const char *body, char *why,
                          size_t why_size)
{
        const struct serve_notify_target *t = q->target;
        char hex[65];
        notify_sign(t->secret, body, strlen(body), hex);
        char headers[160];
        snprintf(headers, sizeof(headers), "X-Reins-Signature: sha256=%s\r\n", hex);
        const struct outbound_endpoint to = {.host = t->host,
                                             .port = t->port,
                                             .path = t->path,
                                             .tls = q->tls,
                                             .server_name = t->server_name};
        int status = 0;
        struct reins_error err = {0};
        int r = outbound_http_post(&to, headers, "application/json", body, strlen(body),
                                   (int)t->timeout * 1000, &status, &err);
        if (r < 0) {
                /* recorded as it is: a refused certificate says so */
                snprintf(why, why_size, "%s", err.message);
                return r;
        }
        snprintf(why, why_size, "HTTP %d", status);
        return status >= 200 && status <= 299 ? 0 : -EIO;
}

/* The command, no shell: argv as configured, the JSON on stdin, stdout and
 * stderr to /dev/null, killed after the timeout. Exit 0 is delivered. */
static int notify_command(struct serve_notify_queue *q, const char *body, char *why,
                          size_t why_size)
{
        const struct serve_notify_target *t = q->target;
        int in[2];
        if (pipe2(in, O_CLOEXEC) < 0)
                return -errno;
        /* the daemon's reaper waits for its sessions by pid only
         * (serve_children_reap): this child is waited for here */
        pid_t pid = fork();
        if (pid < 0) {
                close(in[0]), close(in[1]);
                return -errno;
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                sigset_t none;
                sigemptyset(&none);
                sigprocmask(SIG_SETMASK, &none, NULL);
                signal(SIGPIPE, SIG_DFL);
                if (dup2(in[0], 0) < 0 || null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
                        _exit(126);
                execv(t->command.items[0], t->command.items);
                _exit(127);
        }
        close(in[0]);
        /* a hook that does not read its stdin must not block the daemon:
         * the pipe is written without blocking, within the timeout */
        long long deadline = notify_now_ms() + (long long)t->timeout * 1000;
        fcntl(in[1], F_SETFL, O_NONBLOCK);
        const char *p = body;
        size_t left = strlen(body);
        while (left > 0 && notify_now_ms() < deadline) {
                ssize_t w = write(in[1], p, left);
                if (w > 0) {
                        p += w;
                        left -= (size_t)w;
                } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                        break; /* it closed its stdin: its exit status decides */
                } else {
                        struct pollfd pfd = {.fd = in[1], .events = POLLOUT};
                        poll(&pfd, 1, 10);
                }
        }
        close(in[1]);
        int status = 0;
        for (;;) {
                pid_t done = waitpid(pid, &status, WNOHANG);
                if (done == pid)
                        break;
                if (notify_now_ms() >= deadline) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        snprintf(why, why_size, "timed out after %u s", t->timeout);
                        return -ETIMEDOUT;
                }
                struct timespec step = {.tv_nsec = 10 * 1000000L};
                nanosleep(&step, NULL);
        }
        if (WIFEXITED(status)) {
                snprintf(why, why_size, "exit %d", WEXITSTATUS(status));
                return WEXITSTATUS(status) == 0 ? 0 : -EIO;
        }
        snprintf(why, why_size, "signal %d", WTERMSIG(status));
        return -EIO;
}

/* Wait `ms` or until stopped; false when stopped. */
static bool notify_wait(struct serve_notify_queue *q, long long ms)
{
        long long until = notify_now_ms() + ms;
        while (notify_now_ms() < until) {
                if (q->stop || atomic_load(&q->serve->stopping))
                        return false;
                struct timespec step = {.tv_nsec = 20 * 1000000L};
                nanosleep(&step, NULL);
        }
        return true;
}

static void notify_deliver(struct serve_notify_queue *q, json_t *notification)
{
        cleanup_free char *body = json_dumps(notification, JSON_COMPACT | JSON_SORT_KEYS);
        if (!body)
                return;
        long long backoff = NOTIFY_BACKOFF_MIN;
        char why[256] = "";
        for (unsigned attempt = 1; attempt <= q->target->attempts; attempt++) {
                int r = q->target->command_hook ? notify_command(q, body, why, sizeof(why))
                                                : notify_webhook(q, body, why, sizeof(why));
                serve_trail_emit(
                    &q->serve->trail, "serve.notify.attempt",
                    json_pack("{s:s, s:O?, s:O?, s:O?, s:I, s:b, s:s}", "target", q->target->name,
                              "kind", json_object_get(notification, "kind"), "about_session",
                              json_object_get(notification, "session"), "about_seq",
                              json_object_get(notification, "seq"), "attempt", (json_int_t)attempt,
                              "delivered", r == 0, "result", why));
                if (r == 0)
                        return;
                if (attempt == q->target->attempts || !notify_wait(q, backoff))
                        break;
                backoff = backoff * 2 > NOTIFY_BACKOFF_MAX ? NOTIFY_BACKOFF_MAX : backoff * 2;
        }
        notify_dead_letter(q, notification, why);
}

static void *notify_queue_thread(void *arg)
{
        struct serve_notify_queue *q = arg;
        pthread_mutex_lock(&q->lock);
        for (;;) {
                while (q->count == 0 && !q->stop)
                        pthread_cond_wait(&q->wake, &q->lock);
                if (q->stop)
                        break;
                json_t *item = q->items[q->head];
                q->head = (q->head + 1) % NOTIFY_QUEUE_MAX;
                q->count--;
                pthread_mutex_unlock(&q->lock);
                notify_deliver(q, item);
                json_decref(item);
                pthread_mutex_lock(&q->lock);
        }
        pthread_mutex_unlock(&q->lock);
        return NULL;
}

int serve_notify_queue_start(struct serve *serve, const struct serve_notify_target *target,
                             const char *dir, struct serve_notify_queue **out,
                             struct reins_error *err)
{
        struct serve_notify_queue *q = calloc(1, sizeof(*q));
        if (!q || asprintf(&q->dead_letter, "%s/%s.dead", dir, target->name) < 0) {
                free(q);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        q->serve = serve;
        q->target = target;
        if (target->tls) {
                int r = serve_tls_client_new(target->ca, &q->tls, err);
                if (r < 0) {
                        free(q->dead_letter);
                        free(q);
                        return r;
                }
        }
        pthread_mutex_init(&q->lock, NULL);
        pthread_cond_init(&q->wake, NULL);
        int r = pthread_create(&q->thread, NULL, notify_queue_thread, q);
        if (r != 0) {
                serve_notify_queue_stop(q);
                return reins_error_errno(err, r, "starting a notification thread");
        }
        q->started = true;
        *out = q;
        return 0;
}

void serve_notify_queue_stop(struct serve_notify_queue *q)
{
        if (!q)
                return;
        pthread_mutex_lock(&q->lock);
        q->stop = true;
        pthread_cond_signal(&q->wake);
        pthread_mutex_unlock(&q->lock);
        if (q->started)
                pthread_join(q->thread, NULL);
        /* what was not delivered before the daemon stopped: kept */
        while (q->count > 0) {
                notify_dead_letter(q, q->items[q->head], "daemon stopped");
                json_decref(q->items[q->head]);
                q->head = (q->head + 1) % NOTIFY_QUEUE_MAX;
                q->count--;
        }
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->wake);
        serve_tls_client_free(q->tls);
        free(q->dead_letter);
        free(q);
}

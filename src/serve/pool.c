/* The daemon's warm pool (serve/pool.h says what and why). */
#include "serve/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/runtime.h"
#include "policy/policy.h"
#include "serve/launch.h"
#include "serve/record.h"
#include "serve/serve_internal.h"
#include "session/events.h"
#include "util/cleanup.h"

#define POOL_BUILDS_AT_ONCE 2     /* members being built at a time (2 cores here) */
#define POOL_CHECK_MS       1000  /* policy files looked at this often */
#define POOL_RETRY_MAX_MS   30000 /* the longest wait before rebuilding a failed member */
#define POOL_ANSWER_MS      10000 /* a taken member answers within this */
/* A build is started this long after the last take at the earliest: a
 * member being built takes both CPUs of a small machine for ~20 ms, and
 * must not compete with the command just released. */
#define POOL_REFILL_DELAY_MS 50

struct pool_member {
        pid_t pid;
        unsigned long long ticks;
        int fd;
        char session[25];
        bool ready; /* said "R": built and parked */
        int64_t ready_ms;
};

struct pool_entry {
        const struct serve_pool_spec *spec;
        char *workspace_real;
        unsigned want;   /* the policy's pool: N */
        char agent[160]; /* the policy's agent: ("" none), checked by each member */
        struct stat policy_st;
        struct pool_member members[POLICY_POOL_MAX];
        size_t count;
        unsigned failures;
        unsigned stale_streak; /* members retired untaken in a row */
        int64_t next_try_ms;
        char last_error[256];
        unsigned long built, taken, retired;
};

struct serve_pool {
        struct serve *serve;
        pthread_t thread;
        bool thread_started;
        pthread_mutex_t lock;
        int wake; /* eventfd: a take (refill), or stop */
        atomic_bool stop;
        struct pool_entry *entries;
        size_t count;
        unsigned long missed;
        int64_t last_take_ms;
        char user[256], home[PATH_MAX];
};

static int64_t pool_now_ms(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static bool pool_same_file(const struct stat *a, const struct stat *b)
{
        return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
               a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
               a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The policy's pool: N, as the file is now (its identity kept first, so a
 * change while it is read is one more change, never a missed one). */
static int pool_load_policy(struct pool_entry *e, struct reins_error *err)
{
        e->want = 0;
        if (stat(e->spec->policy, &e->policy_st) < 0)
                return reins_error_errno(err, errno, "pool: %s", e->spec->policy);
        struct reins_policy *policy = NULL;
        int r = policy_load(e->spec->policy, &policy, err);
        if (r == 0) {
                e->want = (unsigned)policy->pool;
                snprintf(e->agent, sizeof(e->agent), "%s", policy->agent ? policy->agent : "");
        }
        policy_free(policy);
        return r;
}

static void pool_remove_dir(struct serve_pool *pool, const char *session)
{
        cleanup_fd int sessions =
            open(pool->serve->sessions_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        cleanup_fd int dir = sessions < 0 ? -1
                                          : openat(sessions, session,
                                                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0)
                return;
        unlinkat(dir, "stdout", 0);
        unlinkat(dir, "stderr", 0);
        unlinkat(sessions, session, AT_REMOVEDIR);
}

/* Remove member i of e (the caller holds the lock): its socket closed (a
 * parked member then retires itself), its unused output directory gone. */
static void pool_drop(struct serve_pool *pool, struct pool_entry *e, size_t i)
{
        struct pool_member m = e->members[i];
        e->members[i] = e->members[--e->count];
        close(m.fd);
        pool_remove_dir(pool, m.session);
}

/* A member ended before it was ready: why, from its stderr's last line. */
static void pool_build_failed(struct serve_pool *pool, struct pool_entry *e,
                              const struct pool_member *m)
{
        cleanup_free char *data = NULL;
        size_t length = 0;
        bool truncated = false;
        char why[256] = "the member ended while it was built";
        if (serve_record_read_output(pool->serve->sessions_dir, m->session, "stderr", 4096, &data,
                                     &length, &truncated) == 0 &&
            length > 0) {
                while (length > 0 && data[length - 1] == '\n')
                        data[--length] = '\0';
                const char *line = strrchr(data, '\n');
                snprintf(why, sizeof(why), "%s", line ? line + 1 : data);
        }
        snprintf(e->last_error, sizeof(e->last_error), "%s", why);
        e->failures++;
        int64_t delay = 100LL << (e->failures < 9 ? e->failures : 9);
        e->next_try_ms = pool_now_ms() + (delay < POOL_RETRY_MAX_MS ? delay : POOL_RETRY_MAX_MS);
        serve_trail_emit(&pool->serve->trail, "serve.pool.failed",
                         json_pack("{s:s, s:s, s:s, s:I}", "policy", e->spec->policy, "workspace",
                                   e->spec->workspace, "error", why, "failures",
                                   (json_int_t)e->failures));
}

/* Start one member (no lock held: the launch forks and waits for exec). */
static int pool_launch(struct serve_pool *pool, const struct pool_entry *e, struct pool_member *m)
{
        struct serve *serve = pool->serve;
        struct reins_error err = {0};
        cleanup_free char *dir = NULL;
        if (session_new_id(m->session) < 0 ||
            serve_record_make_dir(serve->sessions_dir, m->session, &dir, &err) < 0)
                return -EIO;
        int pair[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
                pool_remove_dir(pool, m->session);
                return -errno;
        }
        json_auto_t *placeholder = json_pack("[s]", "true");
        struct serve_launch launch = {
            .reins = serve->reins_path,
            .session = m->session,
            .session_dir = dir,
            .policy = e->spec->policy,
            .workspace = e->spec->workspace,
            .command = placeholder,
            .uid = serve->uid,
            .gid = serve->gid,
            .home = pool->home,
            .user = pool->user[0] ? pool->user : NULL,
            .inherit_xdg = true,
            .pool_fd = pair[1],
            /* as a cold start of the daemon's user gets them: the daemon's
             * key for answers and thaws, the agent its policy names (the
             * member refuses another), the daemon's state hidden */
            .daemon_key = serve->daemon_key.hex,
            .expect_agent = e->agent,
            .daemon_state = serve->state_dir,
        };
        pthread_mutex_lock(&serve->children_lock);
        int r = placeholder ? serve_launch(&launch, &m->pid, &err) : -ENOMEM;
        if (r == 0)
                runtime_pid_start_ticks(m->pid, &m->ticks);
        if (r == 0 && serve_children_add(serve, m->pid, m->ticks, m->session) < 0) {
                kill(m->pid, SIGKILL);
                r = -ENOMEM;
        }
        pthread_mutex_unlock(&serve->children_lock);
        close(pair[1]);
        if (r < 0) {
                close(pair[0]);
                pool_remove_dir(pool, m->session);
                return r;
        }
        m->fd = pair[0];
        m->ready = false;
        runtime_pid_start_ticks(m->pid, &m->ticks);
        return 0;
}

/* Once a second: a changed policy file retires its entry's members. */
static void pool_check_policies(struct serve_pool *pool)
{
        for (size_t i = 0; i < pool->count; i++) {
                struct pool_entry *e = &pool->entries[i];
                struct stat st;
                bool changed =
                    stat(e->spec->policy, &st) < 0 || !pool_same_file(&st, &e->policy_st);
                if (!changed)
                        continue;
                size_t retired = e->count;
                while (e->count > 0)
                        pool_drop(pool, e, 0);
                e->retired += retired;
                struct reins_error err = {0};
                e->failures = 0;
                e->stale_streak = 0;
                e->next_try_ms = 0;
                e->last_error[0] = '\0';
                if (pool_load_policy(e, &err) < 0)
                        snprintf(e->last_error, sizeof(e->last_error), "%s", err.message);
                serve_trail_emit(&pool->serve->trail, "serve.pool.retire",
                                 json_pack("{s:s, s:s, s:s, s:I, s:I, s:s?}", "policy",
                                           e->spec->policy, "workspace", e->spec->workspace,
                                           "reason", "the policy file changed", "retired",
                                           (json_int_t)retired, "pool", (json_int_t)e->want,
                                           "error", e->last_error[0] ? e->last_error : NULL));
        }
}

/* What to start now: up to POOL_BUILDS_AT_ONCE members being built. */
static size_t pool_plan_launches(struct serve_pool *pool, size_t *which, size_t max,
                                 int64_t *next_ms)
{
        size_t building = 0, planned = 0;
        int64_t now = pool_now_ms();
        if (pool->last_take_ms && now - pool->last_take_ms < POOL_REFILL_DELAY_MS) {
                *next_ms = pool->last_take_ms + POOL_REFILL_DELAY_MS - now;
                return 0;
        }
        for (size_t i = 0; i < pool->count; i++)
                for (size_t j = 0; j < pool->entries[i].count; j++)
                        building += !pool->entries[i].members[j].ready;
        for (size_t i = 0; i < pool->count; i++) {
                struct pool_entry *e = &pool->entries[i];
                if (e->next_try_ms > now) {
                        if (*next_ms < 0 || e->next_try_ms - now < *next_ms)
                                *next_ms = e->next_try_ms - now;
                        continue;
                }
                for (size_t n = e->count;
                     n < e->want && building + planned < POOL_BUILDS_AT_ONCE && planned < max; n++)
                        which[planned++] = i;
        }
        return planned;
}

/* A ready member ended untaken: its workspace changed (or it was killed).
 * A workspace written all the time (a session running in it) would have
 * the pool rebuild without end: each such end in a row doubles the wait
 * before the next build (100 ms up to 30 s), and a take starts over. */
static void pool_member_retired(struct pool_entry *e, const struct pool_member *m)
{
        e->retired++;
        /* one that waited long enough was no part of a storm */
        if (pool_now_ms() - m->ready_ms > POOL_RETRY_MAX_MS)
                e->stale_streak = 0;
        e->stale_streak++;
        int64_t delay = 100LL << (e->stale_streak < 9 ? e->stale_streak - 1 : 8);
        int64_t at = pool_now_ms() + (delay < POOL_RETRY_MAX_MS ? delay : POOL_RETRY_MAX_MS);
        if (at > e->next_try_ms)
                e->next_try_ms = at;
}

/* A member's socket is readable: "R" (ready), or its end. */
static void pool_member_event(struct serve_pool *pool, int fd)
{
        for (size_t i = 0; i < pool->count; i++) {
                struct pool_entry *e = &pool->entries[i];
                for (size_t j = 0; j < e->count; j++) {
                        struct pool_member *m = &e->members[j];
                        if (m->fd != fd)
                                continue;
                        char c = 0;
                        ssize_t n = read(fd, &c, 1);
                        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                                return;
                        if (n == 1 && c == 'R' && !m->ready) {
                                m->ready = true;
                                m->ready_ms = pool_now_ms();
                                e->built++;
                                e->failures = 0;
                                e->last_error[0] = '\0';
                                return;
                        }
                        /* it ended: stale (its workspace changed), killed,
                         * or it failed while being built */
                        if (!m->ready)
                                pool_build_failed(pool, e, m);
                        else
                                pool_member_retired(e, m);
                        pool_drop(pool, e, j);
                        return;
                }
        }
}

static void *pool_thread(void *arg)
{
        struct serve_pool *pool = arg;
        int64_t last_check = pool_now_ms();
        struct pollfd fds[1 + SERVE_POOL_SPECS_MAX * POLICY_POOL_MAX];
        while (!atomic_load(&pool->stop)) {
                size_t which[POOL_BUILDS_AT_ONCE];
                int64_t next_ms = -1;
                pthread_mutex_lock(&pool->lock);
                if (pool_now_ms() - last_check >= POOL_CHECK_MS) {
                        pool_check_policies(pool);
                        last_check = pool_now_ms();
                }
                size_t planned = pool_plan_launches(pool, which, POOL_BUILDS_AT_ONCE, &next_ms);
                pthread_mutex_unlock(&pool->lock);
                /* only this thread adds members: the room planned stays */
                for (size_t k = 0; k < planned; k++) {
                        struct pool_entry *e = &pool->entries[which[k]];
                        struct pool_member m = {.fd = -1};
                        int r = pool_launch(pool, e, &m);
                        pthread_mutex_lock(&pool->lock);
                        if (r == 0 && e->count < POLICY_POOL_MAX) {
                                e->members[e->count++] = m;
                        } else if (r == 0) {
                                close(m.fd);
                        } else {
                                snprintf(e->last_error, sizeof(e->last_error),
                                         "starting a member: %s", strerror(-r));
                                e->next_try_ms = pool_now_ms() + POOL_RETRY_MAX_MS;
                        }
                        pthread_mutex_unlock(&pool->lock);
                }
                nfds_t n = 0;
                fds[n++] = (struct pollfd){.fd = pool->wake, .events = POLLIN};
                pthread_mutex_lock(&pool->lock);
                for (size_t i = 0; i < pool->count; i++)
                        for (size_t j = 0; j < pool->entries[i].count; j++)
                                fds[n++] = (struct pollfd){.fd = pool->entries[i].members[j].fd,
                                                           .events = POLLIN};
                pthread_mutex_unlock(&pool->lock);
                int timeout = POOL_CHECK_MS;
                if (next_ms >= 0 && next_ms < timeout)
                        timeout = (int)next_ms;
                if (poll(fds, n, timeout) <= 0)
                        continue;
                if (fds[0].revents) {
                        uint64_t count;
                        if (read(pool->wake, &count, sizeof(count)) < 0) {
                                /* EAGAIN: another reader was first */
                        }
                }
                pthread_mutex_lock(&pool->lock);
                /* a member taken since the poll began is no longer listed:
                 * its socket is the taker's, and is never read here */
                for (nfds_t k = 1; k < n; k++)
                        if (fds[k].revents)
                                pool_member_event(pool, fds[k].fd);
                pthread_mutex_unlock(&pool->lock);
        }
        return NULL;
}

int serve_pool_start(struct serve *serve, struct reins_error *err)
{
        const struct serve_config *config = &serve->config;
        if (config->pool_count == 0)
                return 0;
        struct serve_pool *pool = calloc(1, sizeof(*pool));
        if (!pool)
                return reins_error_set(err, ENOMEM, "out of memory");
        serve->pool = pool;
        pool->serve = serve;
        pthread_mutex_init(&pool->lock, NULL);
        pool->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        pool->entries = calloc(config->pool_count, sizeof(*pool->entries));
        if (pool->wake < 0 || !pool->entries)
                return reins_error_errno(err, pool->wake < 0 ? errno : ENOMEM, "pool");
        struct passwd pw, *found = NULL;
        char buffer[4096];
        if (getpwuid_r(serve->uid, &pw, buffer, sizeof(buffer), &found) == 0 && found)
                snprintf(pool->user, sizeof(pool->user), "%s", found->pw_name);
        const char *home = getenv("HOME") ? getenv("HOME") : found ? found->pw_dir : NULL;
        if (!home || home[0] != '/')
                return reins_error_set(err, ENOENT,
                                       "pool: the daemon's user has no home directory for the "
                                       "members' trails and keys");
        snprintf(pool->home, sizeof(pool->home), "%s", home);
        for (size_t i = 0; i < config->pool_count; i++) {
                struct pool_entry *e = &pool->entries[pool->count++];
                e->spec = &config->pools[i];
                e->workspace_real = realpath(e->spec->workspace, NULL);
                struct stat st;
                if (!e->workspace_real || stat(e->workspace_real, &st) < 0 || !S_ISDIR(st.st_mode))
                        return reins_error_set(err, ENOTDIR, "pool: workspace %s: not a directory",
                                               e->spec->workspace);
                int r = pool_load_policy(e, err);
                if (r < 0)
                        return reins_error_prefix(err, "pool"), r;
                if (e->want == 0)
                        snprintf(e->last_error, sizeof(e->last_error),
                                 "the policy says no pool (pool: N, N > 0)");
        }
        if (pthread_create(&pool->thread, NULL, pool_thread, pool) != 0)
                return reins_error_set(err, EAGAIN, "pool: cannot start its thread");
        pool->thread_started = true;
        return 0;
}

void serve_pool_stop(struct serve *serve)
{
        struct serve_pool *pool = serve->pool;
        if (!pool)
                return;
        atomic_store(&pool->stop, true);
        uint64_t one = 1;
        if (pool->wake >= 0 && write(pool->wake, &one, sizeof(one)) < 0) {
                /* the thread wakes within a second anyway */
        }
        if (pool->thread_started)
                pthread_join(pool->thread, NULL);
        for (size_t i = 0; i < pool->count; i++) {
                while (pool->entries[i].count > 0)
                        pool_drop(pool, &pool->entries[i], 0);
                free(pool->entries[i].workspace_real);
        }
        free(pool->entries);
        if (pool->wake >= 0)
                close(pool->wake);
        pthread_mutex_destroy(&pool->lock);
        free(pool);
        serve->pool = NULL;
}

static struct pool_entry *pool_find(struct serve_pool *pool, const char *policy,
                                    const char *workspace)
{
        for (size_t i = 0; pool && i < pool->count; i++) {
                struct pool_entry *e = &pool->entries[i];
                if (strcmp(e->spec->policy, policy) == 0 &&
                    (strcmp(e->spec->workspace, workspace) == 0 ||
                     strcmp(e->workspace_real, workspace) == 0))
                        return e;
        }
        return NULL;
}

int serve_pool_take(struct serve_pool *pool, const char *policy, const char *workspace,
                    struct serve_pool_taken *out)
{
        struct pool_entry *e = pool_find(pool, policy, workspace);
        if (!e)
                return -ENOENT;
        int r = -ENOENT;
        struct stat st;
        bool policy_same = stat(policy, &st) == 0;
        pthread_mutex_lock(&pool->lock);
        /* the thread looks once a second; a take looks now */
        policy_same = policy_same && pool_same_file(&st, &e->policy_st);
        for (size_t i = 0; policy_same && i < e->count; i++) {
                struct pool_member *m = &e->members[i];
                if (!m->ready)
                        continue;
                *out = (struct serve_pool_taken){.pid = m->pid, .ticks = m->ticks, .fd = m->fd};
                memcpy(out->session, m->session, sizeof(out->session));
                /* never back: the member is the caller's from here */
                e->members[i] = e->members[--e->count];
                e->taken++;
                e->stale_streak = 0;
                pool->last_take_ms = pool_now_ms();
                r = 0;
                break;
        }
        if (r < 0)
                pool->missed++;
        pthread_mutex_unlock(&pool->lock);
        uint64_t one = 1; /* refill (or retire, the policy having changed) */
        if (write(pool->wake, &one, sizeof(one)) < 0) {
                /* the counter is full: the thread is awake already */
        }
        return r;
}

void serve_pool_missed(struct serve_pool *pool)
{
        if (!pool)
                return;
        pthread_mutex_lock(&pool->lock);
        pool->missed++;
        pthread_mutex_unlock(&pool->lock);
}

static int pool_answer(struct serve_pool_taken *taken, const json_t *command, const json_t *env,
                       char *why, size_t size)
{
        cleanup_fd int fd = taken->fd;
        taken->fd = -1;
        json_auto_t *request = json_pack("{s:O, s:o}", "command", command, "env",
                                         env ? json_incref((json_t *)env) : json_object());
        cleanup_free char *text = request ? json_dumps(request, JSON_COMPACT) : NULL;
        if (!text)
                return snprintf(why, size, "out of memory"), -EIO;
        size_t length = strlen(text), sent = 0;
        while (sent < length) {
                ssize_t n = send(fd, text + sent, length - sent, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -ESTALE; /* it ended meanwhile: never started */
                sent += (size_t)n;
        }
        shutdown(fd, SHUT_WR);
        char answer[REINS_ERROR_MAX + 8];
        size_t got = 0;
        while (got < sizeof(answer) - 1 && !memchr(answer, '\n', got)) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int ready = poll(&p, 1, POOL_ANSWER_MS);
                if (ready < 0 && errno == EINTR)
                        continue;
                if (ready <= 0) {
                        kill(taken->pid, SIGKILL); /* stuck: never run half-way */
                        return snprintf(why, size, "the pool's member did not answer"), -EIO;
                }
                ssize_t n = read(fd, answer + got, sizeof(answer) - 1 - got);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                got += (size_t)n;
        }
        answer[got] = '\0';
        if (strncmp(answer, "OK\n", 3) == 0)
                return 0;
        if (strncmp(answer, "ERR ", 4) == 0) {
                answer[strcspn(answer, "\n")] = '\0';
                snprintf(why, size, "%s", answer + 4);
                return -EIO;
        }
        return -ESTALE; /* "STALE", or it ended before answering */
}

int serve_pool_run(struct serve_pool *pool, struct serve_pool_taken *taken, const json_t *command,
                   const json_t *env, char *why, size_t size)
{
        int r = pool_answer(taken, command, env, why, size);
        if (r == -ESTALE) /* it ran nothing: its output directory goes */
                pool_remove_dir(pool, taken->session);
        return r;
}

json_t *serve_pool_describe(struct serve_pool *pool)
{
        json_t *list = json_array();
        if (!pool)
                return list;
        pthread_mutex_lock(&pool->lock);
        for (size_t i = 0; i < pool->count; i++) {
                const struct pool_entry *e = &pool->entries[i];
                size_t ready = 0;
                for (size_t j = 0; j < e->count; j++)
                        ready += e->members[j].ready;
                json_t *members = json_array();
                for (size_t j = 0; j < e->count; j++)
                        json_array_append_new(members, json_pack("{s:s, s:I, s:b}", "session",
                                                                 e->members[j].session, "pid",
                                                                 (json_int_t)e->members[j].pid,
                                                                 "ready", e->members[j].ready));
                json_array_append_new(
                    list, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:s?}", "policy",
                                    e->spec->policy, "workspace", e->spec->workspace, "size",
                                    (json_int_t)e->want, "ready", (json_int_t)ready, "building",
                                    (json_int_t)(e->count - ready), "built", (json_int_t)e->built,
                                    "taken", (json_int_t)e->taken, "retired",
                                    (json_int_t)e->retired, "members", members, "error",
                                    e->last_error[0] ? e->last_error : NULL));
        }
        pthread_mutex_unlock(&pool->lock);
        return list;
}

void serve_pool_counts(struct serve_pool *pool, unsigned long *ready, unsigned long *taken,
                       unsigned long *missed, unsigned long *retired)
{
        *ready = *taken = *missed = *retired = 0;
        if (!pool)
                return;
        pthread_mutex_lock(&pool->lock);
        for (size_t i = 0; i < pool->count; i++) {
                const struct pool_entry *e = &pool->entries[i];
                for (size_t j = 0; j < e->count; j++)
                        *ready += e->members[j].ready;
                *taken += e->taken;
                *retired += e->retired;
        }
        *missed = pool->missed;
        pthread_mutex_unlock(&pool->lock);
}

/* One warm pool member's wait (cli/run_pool.h). The protocol with the
 * daemon, on a stream socket it made (serve/pool.c):
 *
 *   member -> daemon  "R"                 built, parked, watching its workspace
 *   daemon -> member  {"command": [...], "env": {...}}, then end of stream
 *   member -> daemon  "OK\n"              session.start written, command released,
 *                                         listed for `reins ps`
 *                     "STALE\n"           the workspace changed: not taken
 *                     "ERR message\n"     the command could not be started
 *
 * The request is the daemon's (it checked the caller, the policy and the
 * body); it is still read bounded and parsed strictly. */
#include "cli/run_pool.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "session/pool_guard.h"
#include "util/notice.h"

#define POOL_REQUEST_MAX (2 << 20) /* the daemon's own body limit is 1 MiB */

static void pool_say(int fd, const char *text)
{
        size_t length = strlen(text);
        if (write(fd, text, length) != (ssize_t)length) {
                /* the daemon is gone: the session runs on regardless */
        }
}

/* The whole request, up to the daemon's end of stream; NULL when the
 * stream ended empty (retired) or broke. */
static char *pool_read_request(int fd, size_t *length)
{
        size_t size = 4096, used = 0;
        char *data = malloc(size);
        while (data) {
                if (used == size) {
                        char *bigger = size >= POOL_REQUEST_MAX ? NULL : realloc(data, size * 2);
                        if (!bigger)
                                break;
                        data = bigger;
                        size *= 2;
                }
                ssize_t n = read(fd, data + used, size - used);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                if (n == 0) {
                        if (used == 0)
                                break;
                        *length = used;
                        return data;
                }
                used += (size_t)n;
        }
        free(data);
        return NULL;
}

/* argv and NAME=VALUE pairs from the request; false when malformed. */
static bool pool_parse_request(const char *data, size_t length, struct reins_strv *argv,
                               struct reins_strv *env)
{
        json_error_t error;
        json_t *request = json_loadb(data, length, JSON_REJECT_DUPLICATES, &error);
        json_t *command = json_object_get(request, "command");
        json_t *vars = json_object_get(request, "env");
        bool ok = json_is_array(command) && json_array_size(command) > 0 &&
                  (!vars || json_is_object(vars));
        size_t i;
        json_t *item;
        json_array_foreach(command, i, item) if (ok) ok =
            json_is_string(item) && strv_push(argv, json_string_value(item)) == 0;
        const char *name;
        json_object_foreach(vars, name, item)
        {
                char *pair = NULL;
                if (ok && (!json_is_string(item) ||
                           asprintf(&pair, "%s=%s", name, json_string_value(item)) < 0))
                        ok = false, pair = NULL;
                if (ok && strv_push_take(env, pair) < 0)
                        ok = false;
        }
        json_decref(request);
        return ok;
}

/* Off the loop; the workspace's watch stays open (see pool_on_request). */
static void pool_stop_watching(struct run_pool *pool)
{
        session_remove_source(pool->session, pool->fd);
        session_remove_source(pool->session, pool->guard->fd);
}

static void pool_end_wait(struct run_pool *pool)
{
        pool_stop_watching(pool);
        pool_guard_close(pool->guard);
}

/* Not taken after all: the sandbox goes, nothing is recorded. */
static void pool_retire(struct run_pool *pool, const char *say)
{
        if (say)
                pool_say(pool->fd, say);
        pool_end_wait(pool);
        close(pool->fd);
        pool->fd = -1;
        session_retire(pool->session);
}

static void pool_on_guard(void *ctx, int fd, uint32_t events)
{
        (void)fd;
        (void)events;
        struct run_pool *pool = ctx;
        if (pool_guard_changed(pool->guard))
                pool_retire(pool, NULL); /* stale: the pool builds a fresh member */
}

/* The session runs and is listed: the daemon may answer its caller. */
static void pool_on_listed(void *ctx)
{
        struct run_pool *pool = ctx;
        pool_guard_close(pool->guard); /* after the exec: see pool_on_request */
        pool_say(pool->fd, "OK\n");
        close(pool->fd);
        pool->fd = -1;
}

static void pool_on_request(void *ctx, int fd, uint32_t events)
{
        (void)events;
        struct run_pool *pool = ctx;
        /* a change queued before the request was read is one a cold start
         * would have seen: the member is not taken then */
        if (pool_guard_changed(pool->guard)) {
                pool_retire(pool, "STALE\n");
                return;
        }
        size_t length = 0;
        char *request = pool_read_request(fd, &length);
        if (!request || pool_guard_changed(pool->guard)) {
                free(request);
                pool_retire(pool, request ? "STALE\n" : NULL);
                return;
        }
        /* The watch is closed once the command runs (pool_on_listed), not
         * here: closing an inotify descriptor waits for the kernel to free
         * its marks (0.15-2.4 ms with one directory watched on this VM,
         * 4.7 ms with 4 000), on the supervisor's thread, which must then
         * answer the command's exec. Nothing reads it any more. */
        pool_stop_watching(pool);
        struct reins_strv env = {0};
        bool ok = pool_parse_request(request, length, pool->argv, &env);
        free(request);
        struct reins_error err = {0};
        int r = ok ? session_run_command(pool->session, pool->argv->items, env.items, env.count,
                                         pool_on_listed, pool, &err)
                   : reins_error_set(&err, EINVAL, "pool: a malformed request");
        strv_free(&env);
        if (r == 0)
                return; /* "OK" once listed (pool_on_listed) */
        pool_guard_close(pool->guard);
        {
                char line[REINS_ERROR_MAX + 8];
                snprintf(line, sizeof(line), "ERR %s\n", err.message[0] ? err.message : "failed");
                for (char *c = line + 4; *c && c[1]; c++)
                        if (*c == '\n')
                                *c = ' ';
                pool_say(pool->fd, line);
                notice("%s", err.message); /* the session ends, recording why */
        }
        close(pool->fd);
        pool->fd = -1;
}

int run_pool_member(struct run_pool *pool)
{
        int r = session_add_source(pool->session, pool->fd, pool_on_request, pool);
        if (r == 0)
                r = session_add_source(pool->session, pool->guard->fd, pool_on_guard, pool);
        if (r < 0)
                return r;
        pool_say(pool->fd, "R");
        return 0;
}

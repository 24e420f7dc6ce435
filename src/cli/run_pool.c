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
#include <poll.h>
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

bool run_pool_member(struct session *session, int fd, struct pool_guard *guard,
                     struct reins_strv *argv)
{
        pool_say(fd, "R");
        bool stale = false;
        for (;;) {
                struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
                                      {.fd = guard->fd, .events = POLLIN}};
                int n = poll(p, 2, -1);
                if (n < 0 && errno == EINTR)
                        continue;
                stale = n < 0 || (p[1].revents && pool_guard_changed(guard));
                if (stale || p[0].revents)
                        break;
        }
        size_t length = 0;
        /* a change queued before the request was read is one a cold start
         * would have seen: the member is not taken then */
        char *request = stale || pool_guard_changed(guard) ? NULL : pool_read_request(fd, &length);
        if (!request || pool_guard_changed(guard)) {
                if (request)
                        pool_say(fd, "STALE\n");
                free(request);
                pool_guard_close(guard);
                session_retire(session);
                return false;
        }
        pool_guard_close(guard);
        struct reins_strv env = {0};
        bool ok = pool_parse_request(request, length, argv, &env);
        free(request);
        struct reins_error err = {0};
        if (!ok) {
                reins_error_set(&err, EINVAL, "pool: a malformed request");
        } else if (session_run_command(session, argv->items, env.items, env.count, &err) == 0) {
                strv_free(&env);
                pool_say(fd, "OK\n");
                close(fd);
                return true;
        }
        strv_free(&env);
        char line[REINS_ERROR_MAX + 8];
        snprintf(line, sizeof(line), "ERR %s\n", err.message[0] ? err.message : "failed");
        for (char *c = line + 4; *c && c[1]; c++)
                if (*c == '\n')
                        *c = ' ';
        pool_say(fd, line);
        notice("%s", err.message);
        close(fd);
        return true; /* the session is over: session_wait says so */
}

/* reins approve --watch: every running session's requests as they come, one
 * question at a time, answered from the keyboard. Sessions that start later
 * are picked up (the registry is re-read every second). An answer is sent
 * exactly like `reins approve` (signed), on its own connection: the watch
 * connection only carries the session's approval events. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/approve.h"
#include "cli/cli.h"
#include "session/control_client.h"
#include "audit/runtime.h"
#include "policy/parse_units.h"
#include "util/text_escape.h"

#define WATCH_MAX_SESSIONS 64
#define WATCH_RESCAN_MS    1000

struct watch {
        struct {
                char session[64];
                int fd;
        } sessions[WATCH_MAX_SESSIONS];
        size_t count;
        json_t *queue;           /* pending requests, oldest first, each with "session" */
        const char *socket_path; /* --socket: where answers for the daemon's sessions go */
        bool asking;             /* the head of the queue has been put to the user */
};

static bool watch_has(const struct watch *w, const char *session)
{
        for (size_t i = 0; i < w->count; i++)
                if (strcmp(w->sessions[i].session, session) == 0)
                        return true;
        return false;
}

static void watch_queue_add(struct watch *w, json_t *request, const char *session)
{
        const char *id = json_string_value(json_object_get(request, "id"));
        size_t i;
        json_t *r;
        json_array_foreach(w->queue, i, r) if (strcmp(json_string_value(json_object_get(r, "id")),
                                                      id ? id : "") == 0) return;
        json_t *copy = json_deep_copy(request);
        json_object_set_new(copy, "session", json_string(session));
        json_array_append_new(w->queue, copy);
}

static void watch_queue_remove(struct watch *w, const char *id)
{
        for (size_t i = 0; i < json_array_size(w->queue); i++)
                if (strcmp(json_string_value(json_object_get(json_array_get(w->queue, i), "id")),
                           id) == 0) {
                        if (i == 0)
                                w->asking = false;
                        json_array_remove(w->queue, i);
                        return;
                }
}

/* Connect to sessions we do not watch yet. */
static void watch_rescan(struct watch *w)
{
        struct reins_error err = {0};
        json_auto_t *sessions = NULL;
        if (runtime_list(&sessions, &err) < 0)
                return;
        size_t i;
        json_t *s;
        json_array_foreach(sessions, i, s)
        {
                const char *id = json_string_value(json_object_get(s, "session"));
                if (!id || !json_is_true(json_object_get(s, "alive")) || watch_has(w, id) ||
                    w->count == WATCH_MAX_SESSIONS)
                        continue;
                int fd = control_connect(id, &err);
                json_auto_t *reply = NULL;
                json_auto_t *request = json_pack("{s:s}", "op", "watch");
                if (fd >= 0 && control_call(fd, request, &reply, 2000, &err) == 0) {
                        snprintf(w->sessions[w->count].session, 64, "%s", id);
                        w->sessions[w->count++].fd = fd;
                        size_t j;
                        json_t *r;
                        json_array_foreach(json_object_get(reply, "pending"), j, r)
                            watch_queue_add(w, r, id);
                } else if (fd >= 0) {
                        close(fd);
                }
        }
}

/* A session that ended takes its requests with it: nothing is left to
 * answer, and the question being asked (if it was one of them) is withdrawn. */
static void watch_drop(struct watch *w, size_t i)
{
        const char *session = w->sessions[i].session;
        for (size_t q = json_array_size(w->queue); q-- > 0;) {
                json_t *r = json_array_get(w->queue, q);
                if (strcmp(json_string_value(json_object_get(r, "session")), session) != 0)
                        continue;
                if (q == 0 && w->asking) {
                        char id[200];
                        printf(
                            "\n%s: the session ended; nothing to answer\n",
                            text_show(id, sizeof(id), json_string_value(json_object_get(r, "id"))));
                        w->asking = false;
                }
                json_array_remove(w->queue, q);
        }
        close(w->sessions[i].fd);
        w->sessions[i] = w->sessions[--w->count];
}

/* One event line from a session. */
static void watch_on_event(struct watch *w, size_t i)
{
        struct reins_error err = {0};
        char *line = NULL;
        if (control_read_line(w->sessions[i].fd, &line, 1000, &err) < 0) {
                watch_drop(w, i);
                return;
        }
        json_error_t jerr;
        json_auto_t *event = json_loads(line, 0, &jerr);
        free(line);
        const char *type = json_string_value(json_object_get(event, "type"));
        const char *id = json_string_value(json_object_get(event, "id"));
        if (type && id && strcmp(type, "approval.request") == 0)
                watch_queue_add(w, event, w->sessions[i].session);
        else if (type && id)
                watch_queue_remove(w, id);
        if (type && strcmp(type, "approval.timeout") == 0 && id) {
                char shown[64];
                printf("\n%s: no answer in time, the policy's default applied\n",
                       text_show(shown, sizeof(shown), id));
        }
}

static bool watch_is_path(const json_t *request)
{
        const char *kind = json_string_value(json_object_get(request, "kind"));
        return kind && strcmp(kind, "path") == 0;
}

/* The question. The target and the reason are the agent's words: escaped
 * (util/text_escape.h), they cannot move the cursor, rewrite this prompt or
 * show another destination than the one the answer is for. */
static void watch_ask(struct watch *w)
{
        if (w->asking || json_array_size(w->queue) == 0)
                return;
        json_t *r = json_array_get(w->queue, 0);
        json_t *port = json_object_get(r, "port");
        const char *reason = json_string_value(json_object_get(r, "reason"));
        /* sized for the escaped worst case (4 bytes out per byte in): never cut */
        char id[200], session[200], origin[64], kind[64], target[1100], rule[1100], why[3100];
        text_show(target, sizeof(target), json_string_value(json_object_get(r, "target")));
        if (port)
                snprintf(target + strlen(target), sizeof(target) - strlen(target), ":%lld",
                         (long long)json_integer_value(port));
        printf(
            "\n[%s] session %.8s (%s) asks for %s %s\n  rule: %s\n",
            text_show(id, sizeof(id), json_string_value(json_object_get(r, "id"))),
            text_show(session, sizeof(session), json_string_value(json_object_get(r, "session"))),
            text_show(origin, sizeof(origin), json_string_value(json_object_get(r, "origin"))),
            text_show(kind, sizeof(kind), json_string_value(json_object_get(r, "kind"))), target,
            text_show(rule, sizeof(rule), json_string_value(json_object_get(r, "rule"))));
        if (reason && reason[0])
                printf("  reason: %s\n", text_show(why, sizeof(why), reason));
        if (watch_is_path(r))
                printf("allow? [y]es once, [n]o, [a]lways this session: ");
        else
                printf("allow? [y]es once, [n]o, [a]lways this session, [m N] for N minutes: ");
        fflush(stdout);
        w->asking = true;
}

/* y / n / a / m N (or "N"): 0 done, 1 not understood. */
static int watch_on_answer(struct watch *w, char *line)
{
        if (json_array_size(w->queue) == 0)
                return 0;
        json_t *r = json_array_get(w->queue, 0);
        char id[64];
        snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(r, "id")));
        line[strcspn(line, "\r\n")] = '\0';
        char *p = line;
        while (*p == ' ')
                p++;
        bool allow = true;
        int64_t for_ms = -1;
        if (*p == 'y' || *p == 'Y') {
                for_ms = -1;
        } else if (*p == 'n' || *p == 'N') {
                allow = false;
        } else if (*p == 'a' || *p == 'A') {
                for_ms = 0;
        } else if (watch_is_path(r)) {
                return 1; /* a path is allowed once, for the session, or not */
        } else {
                if (*p == 'm' || *p == 'M')
                        p++;
                char *end = NULL;
                long minutes = strtol(p, &end, 10);
                if (!end || end == p || minutes <= 0 || minutes > 24 * 60)
                        return 1;
                for_ms = (int64_t)minutes * 60 * 1000;
        }
        approve_answer(w->socket_path, id, allow, for_ms, "exact", false);
        fflush(stdout);
        watch_queue_remove(w, id);
        return 0;
}

int approve_watch(const char *socket_path)
{
        struct watch w = {.queue = json_array(), .socket_path = socket_path};
        printf("watching for approval requests (Ctrl-D to stop)\n");
        fflush(stdout);
        int status = 0;
        for (;;) {
                watch_rescan(&w);
                watch_ask(&w);
                struct pollfd fds[WATCH_MAX_SESSIONS + 1];
                fds[0] = (struct pollfd){.fd = STDIN_FILENO, .events = POLLIN};
                for (size_t i = 0; i < w.count; i++)
                        fds[i + 1] = (struct pollfd){.fd = w.sessions[i].fd, .events = POLLIN};
                int n = poll(fds, w.count + 1, WATCH_RESCAN_MS);
                if (n < 0 && errno != EINTR) {
                        status = EXIT_REINS_FAILED;
                        break;
                }
                for (size_t i = w.count; n > 0 && i-- > 0;)
                        if (fds[i + 1].revents)
                                watch_on_event(&w, i);
                if (n > 0 && fds[0].revents) {
                        char line[128];
                        if (!fgets(line, sizeof(line), stdin))
                                break;
                        if (watch_on_answer(&w, line) == 1) {
                                printf(json_array_size(w.queue) &&
                                               watch_is_path(json_array_get(w.queue, 0))
                                           ? "y, n or a: "
                                           : "y, n, a, or m N (minutes): ");
                                fflush(stdout);
                        }
                }
        }
        for (size_t i = 0; i < w.count; i++)
                close(w.sessions[i].fd);
        json_decref(w.queue);
        return status;
}

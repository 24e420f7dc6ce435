/* /v1/sessions: list, start, get, output, stop, freeze, thaw. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "audit/clock.h"
#include "audit/runtime.h"
#include "govern/identity.h"
#include "serve/api_summary.h"
#include "serve/launch.h"
#include "serve/pool.h"
#include "serve/record.h"
#include "serve/serve_internal.h"
#include "serve/sessions.h"
#include "session/control_client.h"
#include "session/events.h"
#include "util/bytes_json.h"
#include "util/cleanup.h"
#include "util/path.h"

#define SESSIONS_ARGV_MAX   4096
#define SESSIONS_ENV_MAX    256
#define SESSIONS_OUTPUT_MAX (1 << 20) /* the last MiB of each stream */
#define SESSIONS_START_WAIT 10000     /* ms for a session to register */
#define SESSIONS_STOP_GRACE 5000      /* ms between SIGTERM and SIGKILL */
#define SESSIONS_POLL_STEP  5         /* ms */

/* What the caller may do on this session, for a page that shows only the
 * buttons it can use (each call checks again). */
static void sessions_add_actions(const struct serve_request *request, json_t *entry)
{
        static const enum serve_right rights[] = {SERVE_RIGHT_CONTROL, SERVE_RIGHT_APPROVE,
                                                  SERVE_RIGHT_READ_AUDIT, SERVE_RIGHT_READ_DIFF,
                                                  SERVE_RIGHT_READ_OUTPUT};
        json_t *actions = json_object();
        for (size_t i = 0; i < sizeof(rights) / sizeof(rights[0]); i++)
                json_object_set_new(actions, serve_right_name(rights[i]),
                                    json_boolean(serve_request_allows_agent(
                                        request, rights[i], serve_session_policy(entry),
                                        serve_session_agent(entry))));
        json_object_set_new(entry, "actions", actions);
}

void serve_api_sessions_list(const struct serve_request *request, struct serve_reply *reply)
{
        struct reins_error err = {0};
        json_t *sessions = NULL;
        if (serve_sessions_collect(request->serve, &sessions, &err) < 0) {
                serve_reply_error(reply, 500, "%s", err.message);
                return;
        }
        /* an operator sees the sessions of its policies only */
        json_t *visible = json_array();
        size_t i;
        json_t *entry;
        json_array_foreach(sessions, i, entry)
        {
                if (serve_request_allows_agent(request, SERVE_RIGHT_READ_SESSIONS,
                                               serve_session_policy(entry),
                                               serve_session_agent(entry))) {
                        sessions_add_actions(request, entry);
                        json_array_append(visible, entry);
                }
        }
        json_decref(sessions);
        serve_summary_annotate_list(request, visible);
        serve_reply_json(reply, 200, visible);
}

json_t *serve_api_session_lookup(const struct serve_request *request, struct serve_reply *reply,
                                 enum serve_right right)
{
        struct reins_error err = {0};
        json_t *entry = NULL;
        int r = serve_sessions_find(request->serve, request->id, &entry, &err);
        if (r == -ENOENT) {
                serve_reply_error(reply, 404, "no session %s", request->id);
                return NULL;
        }
        if (r < 0) {
                serve_reply_error(reply, 500, "%s", err.message);
                return NULL;
        }
        if (!serve_check_agent(request, reply, right, serve_session_policy(entry),
                               serve_session_agent(entry))) {
                json_decref(entry);
                return NULL;
        }
        return entry;
}

void serve_api_session_get(const struct serve_request *request, struct serve_reply *reply)
{
        json_t *entry = serve_api_session_lookup(request, reply, SERVE_RIGHT_READ_SESSIONS);
        if (!entry)
                return;
        sessions_add_actions(request, entry);
        serve_summary_annotate(request, entry);
        serve_reply_json(reply, 200, entry);
}

void serve_api_session_output(const struct serve_request *request, struct serve_reply *reply)
{
        json_t *entry = serve_api_session_lookup(request, reply, SERVE_RIGHT_READ_OUTPUT);
        if (!entry)
                return;
        bool started_here = json_object_get(entry, "serve") != NULL;
        json_decref(entry);
        if (!started_here) {
                serve_reply_error(reply, 404,
                                  "session %s was not started by this daemon: no output kept",
                                  request->id);
                return;
        }
        json_t *out = json_object();
        const char *names[] = {"stdout", "stderr"};
        bool truncated_any = false;
        for (size_t i = 0; i < 2; i++) {
                cleanup_free char *data = NULL;
                size_t length = 0;
                bool truncated = false;
                int r =
                    serve_record_read_output(request->serve->sessions_dir, request->id, names[i],
                                             SESSIONS_OUTPUT_MAX, &data, &length, &truncated);
                /* what the agent wrote: valid UTF-8 stays a string, anything
                 * else travels as {"base64": ...} (util/bytes_json.h) */
                json_object_set_new(out, names[i],
                                    r < 0 ? json_string("") : bytes_json(data, length));
                truncated_any = truncated_any || truncated;
        }
        json_object_set_new(out, "session", json_string(request->id));
        json_object_set_new(out, "truncated", json_boolean(truncated_any));
        serve_reply_json(reply, 200, out);
}

/* ---- POST /v1/sessions ---------------------------------------------------- */

/* STATE/homes/UID for a user without a home of its own: made here, 0700,
 * owned by the user. STATE/homes belongs to root and nobody else may write
 * there, so no one can plant the name first. */
static int sessions_fallback_home(struct serve *serve, const struct serve_user *user, char *out,
                                  size_t size)
{
        if (serve->uid != 0 || !serve->homes_dir)
                return -EPERM;
        char name[32];
        snprintf(name, sizeof(name), "%u", (unsigned)user->uid);
        cleanup_fd int dir =
            open(serve->homes_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0)
                return -errno;
        if (mkdirat(dir, name, 0700) == 0) {
                if (fchownat(dir, name, user->uid, user->gid, AT_SYMLINK_NOFOLLOW) < 0) {
                        int e = errno;
                        unlinkat(dir, name, AT_REMOVEDIR);
                        return -e;
                }
        } else if (errno != EEXIST) {
                return -errno;
        }
        struct stat st;
        if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
            st.st_uid != user->uid)
                return -EPERM;
        int n = snprintf(out, size, "%s/%s", serve->homes_dir, name);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int serve_user_find(struct serve *serve, uid_t uid, struct serve_user *user,
                    struct serve_reply *reply)
{
        user->uid = uid;
        struct passwd pw, *found = NULL;
        char buffer[4096];
        if (getpwuid_r(user->uid, &pw, buffer, sizeof(buffer), &found) != 0 || !found) {
                serve_reply_error(reply, 403, "uid %u has no passwd entry to run a session as",
                                  (unsigned)user->uid);
                return -ENOENT;
        }
        user->gid = user->uid == serve->uid ? serve->gid : found->pw_gid;
        snprintf(user->name, sizeof(user->name), "%s", found->pw_name);
        const char *home =
            user->uid == serve->uid && getenv("HOME") ? getenv("HOME") : found->pw_dir;
        struct stat st;
        char fallback[PATH_MAX];
        /* reins run keeps the user's trail and key under HOME: it must be
         * that user's own directory. A service account without one (nobody's
         * is /nonexistent) gets one in the daemon's state: STATE/homes/UID */
        if (!home || home[0] != '/' || stat(home, &st) < 0 || !S_ISDIR(st.st_mode) ||
            st.st_uid != user->uid) {
                if (sessions_fallback_home(serve, user, fallback, sizeof(fallback)) < 0) {
                        serve_reply_error(reply, 409,
                                          "user %s has no home directory of its own (%s), and "
                                          "none could be made in the daemon's state directory",
                                          found->pw_name, home ? home : "none");
                        return -ENOENT;
                }
                home = fallback;
        }
        snprintf(user->home, sizeof(user->home), "%s", home);
        return 0;
}

/* The body of POST /v1/sessions, checked field by field. */
static bool sessions_valid_body(const json_t *body, struct serve_reply *reply)
{
        json_t *policy = json_object_get(body, "policy");
        json_t *workspace = json_object_get(body, "workspace");
        json_t *command = json_object_get(body, "command");
        json_t *env = json_object_get(body, "env");
        /* a path is absolute: the session starts in "/", not in any
         * directory the caller had in mind */
        if (policy &&
            (!json_is_string(policy) || json_string_length(policy) == 0 ||
             (strchr(json_string_value(policy), '/') && json_string_value(policy)[0] != '/'))) {
                serve_reply_error(reply, 400,
                                  "policy: expected a preset name or an absolute file path");
                return false;
        }
        if (!json_is_string(workspace) || json_string_value(workspace)[0] != '/') {
                serve_reply_error(reply, 400, "workspace: expected an absolute directory path");
                return false;
        }
        if (!json_is_array(command) || json_array_size(command) == 0 ||
            json_array_size(command) > SESSIONS_ARGV_MAX) {
                serve_reply_error(reply, 400,
                                  "command: expected a non-empty list of strings (argv)");
                return false;
        }
        size_t i;
        json_t *item;
        json_array_foreach(command, i, item) if (!json_is_string(item))
        {
                serve_reply_error(reply, 400, "command[%zu]: expected a string", i);
                return false;
        }
        if (env && (!json_is_object(env) || json_object_size(env) > SESSIONS_ENV_MAX)) {
                serve_reply_error(reply, 400, "env: expected an object of at most %d strings",
                                  SESSIONS_ENV_MAX);
                return false;
        }
        const char *name;
        json_t *value;
        json_object_foreach(env, name, value)
        {
                size_t n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789_");
                if (!name[0] || name[n] || (name[0] >= '0' && name[0] <= '9')) {
                        serve_reply_error(reply, 400, "env: \"%.64s\" is not a variable name",
                                          name);
                        return false;
                }
                if (!json_is_string(value)) {
                        serve_reply_error(reply, 400, "env.%.64s: expected a string", name);
                        return false;
                }
        }
        return true;
}

/* Wait until the session is in its registry, or its supervisor is gone
 * (a fast command, or reins refused to start it). */
static bool sessions_wait_registered(struct serve *serve, const char *id, uid_t uid, pid_t pid)
{
        cleanup_fd int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        /* the registry's name is found once: with many starts waiting at
         * once, each step is one lstat and one poll */
        cleanup_free char *dir = NULL, *path = NULL;
        char name[96];
        snprintf(name, sizeof(name), "%s.json", id);
        for (int waited = 0; waited < SESSIONS_START_WAIT; waited += SESSIONS_POLL_STEP) {
                if (!dir && (uid == serve->uid ? runtime_dir(&dir, NULL)
                                               : serve_user_registry(uid, &dir)) < 0)
                        dir = NULL;
                if (dir && !path)
                        path = path_join(dir, name);
                struct stat st;
                if (path && lstat(path, &st) == 0)
                        return true;
                struct pollfd p = {.fd = pidfd, .events = POLLIN};
                if (pidfd < 0 || poll(&p, 1, SESSIONS_POLL_STEP) > 0)
                        return false;
        }
        return false;
}

/* The supervisor ended before it registered: when reins itself refused
 * (125, a message on stderr), that message is the API's answer. */
static bool sessions_start_failed(struct serve *serve, const char *id, char *why, size_t size)
{
        /* the reaper writes the exit status; give it a moment */
        for (int waited = 0; waited < 2000; waited += SESSIONS_POLL_STEP) {
                json_auto_t *record = serve_record_read(serve->sessions_dir, id);
                json_t *status = json_object_get(record, "exit_status");
                if (json_is_integer(status)) {
                        if (json_integer_value(status) != 125)
                                return false;
                        cleanup_free char *data = NULL;
                        size_t length = 0;
                        bool truncated = false;
                        if (serve_record_read_output(serve->sessions_dir, id, "stderr", 4096, &data,
                                                     &length, &truncated) < 0 ||
                            length == 0)
                                return false;
                        while (length > 0 && data[length - 1] == '\n')
                                data[--length] = '\0';
                        const char *line = strrchr(data, '\n');
                        snprintf(why, size, "%s", line ? line + 1 : data);
                        return true;
                }
                struct timespec step = {.tv_nsec = SESSIONS_POLL_STEP * 1000000L};
                nanosleep(&step, NULL);
        }
        return false;
}

/* Where the session's own trail will be (audit_trail_dir for its user):
 * its session.end gives the exit status of a session that ends while no
 * daemon, or another one, is its parent. NULL when unknown. */
static char *sessions_trail_path(const struct serve_user *user, bool inherit_xdg, const char *id)
{
        const char *state_home = inherit_xdg ? getenv("XDG_STATE_HOME") : NULL;
        char *trail = NULL;
        if (state_home && state_home[0] == '/'
                ? asprintf(&trail, "%s/reins/trails/%s.jsonl", state_home, id) < 0
                : asprintf(&trail, "%s/.local/state/reins/trails/%s.jsonl", user->home, id) < 0)
                trail = NULL;
        return trail;
}

/* The daemon's record of a session it started (serve/record.h). */
static json_t *sessions_record(const struct serve_request *request, const json_t *body,
                               const struct serve_user *user, const char *id, const char *policy,
                               pid_t pid, unsigned long long ticks, const char *trail,
                               const char *agent)
{
        char now[AUDIT_TIME_MAX];
        audit_time_now(now);
        json_t *record = json_pack(
            "{s:s, s:I, s:I, s:I, s:s?, s:s, s:O, s:O, s:s, s:I, s:I}", "session", id, "uid",
            (json_int_t)user->uid, "gid", (json_int_t)user->gid, "by_uid", (json_int_t)request->uid,
            "by_token", request->token, "policy", policy, "workspace",
            json_object_get(body, "workspace"), "command", json_object_get(body, "command"),
            "created", now, "pid", (json_int_t)pid, "pid_start", (json_int_t)ticks);
        if (record && trail)
                json_object_set_new(record, "trail", json_string(trail));
        /* the session trusts this key for answers and thaws (approvals use
         * it only for the sessions whose record says so) */
        if (record)
                json_object_set_new(record, "daemon_key",
                                    json_string(request->serve->daemon_key.hex));
        if (record && agent)
                json_object_set_new(record, "agent", json_string(agent));
        return record;
}

/* A session from the warm pool (serve/pool.h): the member already runs as
 * the daemon's user, its sandbox built; it gets the command and env. false
 * when the member was not usable after all (stale, gone): start cold. */
static bool sessions_create_pooled(const struct serve_request *request, struct serve_reply *reply,
                                   const json_t *body, const char *policy, const char *agent,
                                   const struct serve_user *user, struct serve_pool_taken *taken)
{
        struct serve *serve = request->serve;
        const char *id = taken->session;
        char why[REINS_ERROR_MAX] = "";
        cleanup_free char *trail = sessions_trail_path(user, true, id);
        /* the reaper may see the session end before its record exists: it
         * waits for this lock */
        pthread_mutex_lock(&serve->children_lock);
        int r = serve_pool_run(serve->pool, taken, json_object_get(body, "command"),
                               json_object_get(body, "env"), why, sizeof(why));
        if (r == -ESTALE) {
                pthread_mutex_unlock(&serve->children_lock);
                return false;
        }
        struct reins_error err = {0};
        json_auto_t *record = sessions_record(request, body, user, id, policy, taken->pid,
                                              taken->ticks, trail, agent);
        if (record)
                json_object_set_new(record, "pool", json_true());
        if (!record || serve_record_write(serve->sessions_dir, id, record, &err) < 0) {
                /* without its record the daemon could not find it again */
                kill(taken->pid, SIGKILL);
                r = -EIO;
                snprintf(why, sizeof(why), "%s", err.message[0] ? err.message : "out of memory");
        }
        pthread_mutex_unlock(&serve->children_lock);
        serve_trail_emit(&serve->trail, r == 0 ? "serve.session.start" : "serve.session.failed",
                         json_pack("{s:s, s:I, s:s?, s:I, s:s, s:O, s:I, s:b, s:s?}",
                                   "about_session", id, "by_uid", (json_int_t)request->uid,
                                   "by_token", request->token, "as_uid", (json_int_t)user->uid,
                                   "policy", policy, "command", json_object_get(body, "command"),
                                   "pid", (json_int_t)taken->pid, "pool", 1, "error",
                                   r < 0 ? why : NULL));
        if (r < 0) {
                serve_reply_error(reply, 422, "%s", why);
                json_object_set_new(reply->json, "session", json_string(id));
                return true;
        }
        serve_reply_json(
            reply, 201,
            json_pack("{s:s, s:I, s:b}", "session", id, "pid", (json_int_t)taken->pid, "pool", 1));
        return true;
}

/* May the caller start a session of `policy`? Its role first (the policy
 * alone: a caller refused the policy learns nothing of its file), then,
 * when the configuration speaks of agents, the policy's agent: against the
 * role's agents and the daemon's agents: map. *agent: the agent found
 * (NULL when not looked for). When not: the 403 (or 422: no policy to
 * read) is in the reply, and a refusal in the daemon's trail. */
static bool sessions_may_start(const struct serve_request *request, struct serve_reply *reply,
                               const char *policy, char **agent)
{
        const struct serve_config *config = request->serve->roles.config;
        struct serve_request policy_only = *request;
        struct serve_grant without_agents;
        if (request->grant && request->grant->agents.count > 0) {
                without_agents = *request->grant;
                without_agents.agents = (struct reins_strv){0};
                policy_only.grant = &without_agents;
        }
        if (!serve_check(&policy_only, reply, SERVE_RIGHT_START, policy))
                return false;
        /* an API token limited to agents needs the agent too, configuration
         * or not */
        if (!serve_config_uses_agents(config) && policy_only.grant == request->grant)
                return true;
        struct reins_error err = {0};
        if (serve_policy_agent(policy, agent, &err) < 0) {
                serve_reply_error(reply, 422, "%s", err.message);
                return false;
        }
        if (!serve_check_agent(request, reply, SERVE_RIGHT_START, policy, *agent))
                return false;
        const char *why = NULL;
        if (!serve_config_agent_allows(config, policy, *agent, &why)) {
                serve_refuse(request, reply, SERVE_RIGHT_START, policy, *agent, why);
                return false;
        }
        return true;
}

void serve_api_sessions_create(const struct serve_request *request, struct serve_reply *reply)
{
        static const char *const fields[] = {"policy", "workspace", "command", "env", NULL};
        struct serve *serve = request->serve;
        json_auto_t *body = serve_body_object(request, reply, fields);
        if (!body || !sessions_valid_body(body, reply))
                return;
        const char *policy = json_string_value(json_object_get(body, "policy"));
        if (!policy)
                policy = "default";
        cleanup_free char *agent = NULL;
        if (!sessions_may_start(request, reply, policy, &agent))
                return;
        /* who the session runs as: the caller, when the daemon is root; the
         * daemon's own user otherwise (it can be no one else) */
        struct serve_user user;
        if (serve_user_find(serve, serve->uid == 0 ? request->uid : serve->uid, &user, reply) < 0)
                return;
        /* the pool's members run as the daemon's user: only that user's
         * sessions come from it */
        const char *workspace = json_string_value(json_object_get(body, "workspace"));
        struct serve_pool_taken taken;
        if (serve->pool && user.uid == serve->uid &&
            serve_pool_take(serve->pool, policy, workspace, &taken) == 0) {
                if (sessions_create_pooled(request, reply, body, policy, agent, &user, &taken))
                        return;
                serve_pool_missed(serve->pool); /* stale after all: cold */
        }
        char id[25];
        struct reins_error err = {0};
        cleanup_free char *dir = NULL;
        if (session_new_id(id) < 0 ||
            serve_record_make_dir(serve->sessions_dir, id, &dir, &err) < 0) {
                serve_reply_error(reply, 500, "%s",
                                  err.message[0] ? err.message : "cannot draw a session id");
                return;
        }
        struct serve_launch launch = {
            .reins = serve->reins_path,
            .session = id,
            .session_dir = dir,
            .policy = policy,
            .workspace = json_string_value(json_object_get(body, "workspace")),
            .command = json_object_get(body, "command"),
            .env = json_object_get(body, "env"),
            .uid = user.uid,
            .gid = user.gid,
            .home = user.home,
            .user = user.name,
            .inherit_xdg = user.uid == serve->uid,
            .pool_fd = -1,
            .daemon_key = serve->daemon_key.hex,
            .expect_agent = agent,
            /* a session of the daemon's own user could read the daemon's
             * key wherever a policy or workspace shows its state: hidden,
             * as the user's own key is */
            .daemon_state = user.uid == serve->uid ? serve->state_dir : NULL,
        };
        cleanup_free char *trail = sessions_trail_path(&user, launch.inherit_xdg, id);
        pid_t pid = 0;
        /* the fork happens without children_lock: listings take it to tell
         * live children from ended ones, and must not wait for a fork of
         * a large daemon and an exec on a busy machine */
        int r = serve_launch(&launch, &pid, &err);
        unsigned long long ticks = 0;
        if (r == 0)
                runtime_pid_start_ticks(pid, &ticks);
        pthread_mutex_lock(&serve->children_lock);
        json_auto_t *record =
            sessions_record(request, body, &user, id, policy, pid, ticks, trail, agent);
        if (r == 0 && (!record || serve_record_write(serve->sessions_dir, id, record, &err) < 0 ||
                       serve_children_add(serve, pid, ticks, id) < 0)) {
                /* without its record the daemon could not find it again */
                kill(pid, SIGKILL);
                r = -EIO;
        }
        pthread_mutex_unlock(&serve->children_lock);
        /* a child that ended before it was listed: its SIGCHLD found
         * nothing to reap, so it is reaped (and recorded) now */
        if (r == 0)
                serve_children_reap_one(serve, pid);
        serve_trail_emit(&serve->trail, r == 0 ? "serve.session.start" : "serve.session.failed",
                         json_pack("{s:s, s:I, s:s?, s:I, s:s, s:O, s:I, s:s?}", "about_session",
                                   id, "by_uid", (json_int_t)request->uid, "by_token",
                                   request->token, "as_uid", (json_int_t)user.uid, "policy", policy,
                                   "command", json_object_get(body, "command"), "pid",
                                   (json_int_t)pid, "error", r < 0 ? err.message : NULL));
        if (r < 0) {
                serve_reply_error(reply, 500, "%s", err.message[0] ? err.message : "start failed");
                return;
        }
        char why[1024];
        if (!sessions_wait_registered(serve, id, user.uid, pid) &&
            sessions_start_failed(serve, id, why, sizeof(why))) {
                serve_reply_error(reply, 422, "%s", why);
                json_object_set_new(reply->json, "session", json_string(id));
                return;
        }
        serve_reply_json(reply, 201,
                         json_pack("{s:s, s:I}", "session", id, "pid", (json_int_t)pid));
}

/* ---- stop, freeze, thaw ----------------------------------------------------- */

static bool sessions_wait_exit(int pidfd, int ms)
{
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        return poll(&p, 1, ms) > 0;
}

void serve_api_session_stop(const struct serve_request *request, struct serve_reply *reply)
{
        static const char *const fields[] = {NULL};
        json_auto_t *body = serve_body_object(request, reply, fields);
        if (!body)
                return;
        json_auto_t *entry = serve_api_session_lookup(request, reply, SERVE_RIGHT_CONTROL);
        if (!entry)
                return;
        pid_t pid = (pid_t)json_integer_value(json_object_get(entry, "pid"));
        unsigned long long ticks =
            (unsigned long long)json_integer_value(json_object_get(entry, "pid_start"));
        cleanup_fd int pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
        /* a session whose end is recorded (its exit status known) has
         * ended, even while its supervisor finishes exiting */
        json_t *serve = json_object_get(entry, "serve");
        bool ended = json_is_false(json_object_get(entry, "alive")) ||
                     json_is_integer(json_object_get(serve, "exit_status"));
        /* the pidfd pins the process; the start time, read after opening it,
         * proves it is still the session's supervisor and no reused pid */
        if (ended || pidfd < 0 || !runtime_pid_matches(pid, ticks)) {
                serve_reply_error(reply, 409, "session %s is not running", request->id);
                return;
        }
        if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0) {
                /* ESRCH: it has ended, and is not reaped yet */
                if (errno == ESRCH)
                        serve_reply_error(reply, 409, "session %s is not running", request->id);
                else
                        serve_reply_error(reply, 500, "stopping session %s: %s", request->id,
                                          strerror(errno));
                return;
        }
        bool killed = false;
        if (!sessions_wait_exit(pidfd, SESSIONS_STOP_GRACE)) {
                syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
                sessions_wait_exit(pidfd, 5000);
                killed = true;
        }
        serve_trail_emit(&request->serve->trail, "serve.session.stop",
                         json_pack("{s:s, s:I, s:s?, s:b}", "about_session", request->id, "by_uid",
                                   (json_int_t)request->uid, "by_token", request->token, "killed",
                                   killed));
        serve_reply_json(
            reply, 200,
            json_pack("{s:s, s:b, s:b}", "session", request->id, "stopped", 1, "killed", killed));
}

/* One request on the session's control socket; the reply (200), or why not. */
static void sessions_control(const struct serve_request *request, struct serve_reply *reply,
                             const char *op)
{
        static const char *const fields[] = {NULL};
        json_auto_t *body = serve_body_object(request, reply, fields);
        if (!body)
                return;
        json_auto_t *entry = serve_api_session_lookup(request, reply, SERVE_RIGHT_CONTROL);
        if (!entry)
                return;
        if (!json_is_true(json_object_get(entry, "alive"))) {
                serve_reply_error(reply, 409, "session %s is not running", request->id);
                return;
        }
        struct serve *serve = request->serve;
        struct reins_error err = {0};
        cleanup_free char *dir = NULL;
        json_auto_t *answer = NULL;
        int r = serve_session_registry(serve, entry, &dir, &err);
        cleanup_fd int fd = r < 0 ? r : control_connect_in(dir, request->id, &err);
        if (fd < 0) {
                serve_reply_error(reply, 502, "%s", err.message);
                return;
        }
        if (strcmp(op, "thaw") == 0) {
                /* a thaw loosens the session as much as an approval: signed
                 * like an answer (the daemon's key for a session it started,
                 * naming who asked), checked by the session */
                struct audit_key key;
                if (serve_signing_key(request, reply, entry, "a thaw", &key) < 0)
                        return;
                json_auto_t *approver = serve_request_approver(request);
                r = control_signed_call_by(fd, request->id, "thaw", &key, approver, &answer, &err);
                audit_key_wipe(&key);
        } else {
                json_auto_t *ask = json_pack("{s:s}", "op", op);
                r = control_call(fd, ask, &answer, 5000, &err);
        }
        if (r < 0) {
                serve_reply_error(reply, 502, "session %s: %s", request->id, err.message);
                return;
        }
        if (!json_is_true(json_object_get(answer, "ok"))) {
                const char *why = json_string_value(json_object_get(answer, "error"));
                serve_reply_error(reply, 409, "session %s refused: %s", request->id,
                                  why ? why : "no reason given");
                return;
        }
        char type[64];
        snprintf(type, sizeof(type), "serve.session.%s", op);
        serve_trail_emit(&serve->trail, type,
                         json_pack("{s:s, s:I, s:s?}", "about_session", request->id, "by_uid",
                                   (json_int_t)request->uid, "by_token", request->token));
        serve_reply_json(reply, 200, json_pack("{s:s, s:s}", "session", request->id, "done", op));
}

void serve_api_session_freeze(const struct serve_request *request, struct serve_reply *reply)
{
        sessions_control(request, reply, "freeze");
}

void serve_api_session_thaw(const struct serve_request *request, struct serve_reply *reply)
{
        sessions_control(request, reply, "thaw");
}

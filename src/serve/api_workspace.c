/* /v1/sessions/{id}/diff, /apply, /discard: a copy-on-write session's
 * changes, reviewed, merged into the host workspace, or dropped.
 *
 * No second implementation: each call runs the CLI's own verb — `reins diff
 * --json|--patch`, `reins apply --json`, `reins discard` — so the change
 * set, the protected paths, the conflict rules, the atomic landing of each
 * file and the CLI's own audit record are exactly those of the command line.
 *
 * As whom: the command runs as the session's user (serve/runas.h: a forked
 * child that takes the user's groups, gid and uid with setgroups, setresgid
 * and setresuid before the exec), never as the daemon's root. The apply
 * walks the host workspace through directory fds without crossing a
 * symlink (workspace/fsops.c); run as the user, even a race that swapped a
 * directory for a symlink under it could at worst make it write where that
 * user may write anyway. It also finds the session's copy where `reins run`
 * put it (the same HOME and XDG directories as the session got).
 *
 * Rights (serve/roles.h): a diff needs read-diff (an auditor, an operator of
 * the session's policy), an apply or a discard control of it (an operator
 * of the policy, an admin). Each apply and discard is a serve.workspace.*
 * event in the daemon's trail, and the CLI records its own
 * (workspace.apply, workspace.discard) in the user's trail. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/runas.h"
#include "serve/serve_internal.h"
#include "util/cleanup.h"
#include "util/strv.h"
#include "util/text_escape.h"

/* What the daemon holds of a command's output: the JSON of a diff is parsed
 * (about ten times its size in memory), so it is capped lower than a patch,
 * which is passed on as bytes. */
#define WORKSPACE_JSON_MAX         (4u << 20)
#define WORKSPACE_PATCH_DEFAULT    (1u << 20)
#define WORKSPACE_PATCH_MAX        (8u << 20)
#define WORKSPACE_APPLY_OUTPUT_MAX (4u << 20) /* apply --json lists 1 000 changes at most */
#define WORKSPACE_DISCARD_OUTPUT   4096u
#define WORKSPACE_PATHS_MAX        256
#define WORKSPACE_PATHS_BYTES      (64u << 10)
#define WORKSPACE_PATH_MAX         4095u
#define WORKSPACE_TIMEOUT_MS       (10 * 60 * 1000)

/* `reins diff|apply|discard` on a session without a copy-on-write
 * workspace (workspace_session_open's ENOENT) */
#define WORKSPACE_NO_COPY "no workspace session"

/* The session, its user, and whether the daemon may act as that user. */
struct workspace_call {
        json_t *entry;
        struct serve_user user;
};

static bool workspace_call_open(const struct serve_request *request, struct serve_reply *reply,
                                enum serve_right right, struct workspace_call *call)
{
        call->entry = serve_api_session_lookup(request, reply, right);
        if (!call->entry)
                return false;
        struct serve *serve = request->serve;
        json_t *owner = json_object_get(call->entry, "uid");
        json_int_t value = json_integer_value(owner);
        /* fail closed: an entry that does not say whose it is is nobody's
         * to act on (a missing uid must not read as root's 0) */
        if (!json_is_integer(owner) || value < 0 || value >= (json_int_t)(uid_t)-1) {
                serve_reply_error(reply, 409, "session %s: its user is not known", request->id);
                return false;
        }
        uid_t uid = (uid_t)value;
        if (uid != serve->uid && serve->uid != 0) {
                serve_reply_error(reply, 409,
                                  "session %s runs as uid %u: a daemon running as uid %u cannot "
                                  "act as that user",
                                  request->id, (unsigned)uid, (unsigned)serve->uid);
                return false;
        }
        return serve_user_find(serve, uid, &call->user, reply) == 0;
}

/* Run `reins ARGS...` as the session's user. */
static int workspace_run(const struct serve_request *request, const struct workspace_call *call,
                         struct reins_strv *args, size_t out_max, bool stop_when_full,
                         struct serve_runas_result *result, struct serve_reply *reply)
{
        struct serve *serve = request->serve;
        struct serve_runas run = {
            .reins = serve->reins_path,
            .argv = args->items,
            .uid = call->user.uid,
            .gid = call->user.gid,
            .user = call->user.name,
            .home = call->user.home,
            .inherit_xdg = call->user.uid == serve->uid,
            .out_max = out_max,
            .stop_when_full = stop_when_full,
            .timeout_ms = WORKSPACE_TIMEOUT_MS,
        };
        struct reins_error err = {0};
        int r = serve_runas(&run, result, &err);
        if (r < 0) {
                serve_reply_error(reply, 500, "%s", err.message);
                return r;
        }
        if (result->timed_out) {
                serve_reply_error(reply, 504, "reins %s did not end within %d s: killed",
                                  args->items[1], WORKSPACE_TIMEOUT_MS / 1000);
                serve_runas_result_free(result);
                return -ETIMEDOUT;
        }
        return 0;
}

/* argv: reins VERB OPTIONS... -- ID PATHS... (after "--" nothing is taken
 * for an option, whatever a path looks like) */
static int workspace_args(struct reins_strv *args, const char *reins, const char *verb,
                          const char *const *options, const char *id, const json_t *paths,
                          const char *path)
{
        int r = strv_push(args, reins);
        if (r == 0)
                r = strv_push(args, verb);
        for (size_t i = 0; r == 0 && options[i]; i++)
                r = strv_push(args, options[i]);
        if (r == 0)
                r = strv_push(args, "--");
        if (r == 0)
                r = strv_push(args, id);
        size_t i;
        json_t *item;
        json_array_foreach(paths, i, item) if (r == 0) r = strv_push(args, json_string_value(item));
        if (r == 0 && path)
                r = strv_push(args, path);
        return r;
}

/* The command refused: its own line, with the status that fits. */
static void workspace_refused(const struct serve_request *request, struct serve_reply *reply,
                              const struct serve_runas_result *result, const char *verb)
{
        if (strstr(result->err, WORKSPACE_NO_COPY)) {
                serve_reply_error(reply, 409,
                                  "session %s has no copy-on-write workspace to %s (its "
                                  "filesystem.workspace_mode is not overlay, or the copy was "
                                  "discarded)",
                                  request->id, verb);
                return;
        }
        const char *why = result->err[0] ? result->err : "no reason given";
        if (result->status == 2) /* EXIT_REINS_USAGE: a path outside the workspace */
                serve_reply_error(reply, 400, "%s", why);
        else
                serve_reply_error(reply, 409, "session %s: %s", request->id, why);
}

/* A path of the workspace, as a caller gives it: workspace-relative bytes,
 * bounded; the CLI then refuses anything outside the workspace. */
static bool workspace_valid_path(const json_t *item)
{
        if (!json_is_string(item))
                return false;
        size_t n = json_string_length(item);
        const char *s = json_string_value(item);
        return n > 0 && n <= WORKSPACE_PATH_MAX && strlen(s) == n;
}

/* The reply's JSON as the CLI writes it: ASCII only, every control
 * character, DEL and every non-ASCII character escaped (text_json_dumps),
 * so a name or a symlink target the agent chose is data for any client,
 * even one that prints it raw on a terminal. */
static void workspace_reply_escaped(struct serve_reply *reply)
{
        if (!reply->json || reply->text)
                return;
        char *text = text_json_dumps(reply->json, JSON_COMPACT | JSON_SORT_KEYS);
        size_t n = text ? strlen(text) : 0;
        char *lined = text ? realloc(text, n + 2) : NULL;
        if (!lined) {
                free(text);
                return; /* http.c then writes the JSON itself */
        }
        lined[n] = '\n';
        lined[n + 1] = '\0';
        reply->text = lined;
        reply->content_type = "application/json";
}

/* ---- GET /v1/sessions/{id}/diff --------------------------------------------- */

static bool workspace_patch_limit(const char *arg, size_t *limit)
{
        if (!arg) {
                *limit = WORKSPACE_PATCH_DEFAULT;
                return true;
        }
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(arg, &end, 10);
        if (errno || end == arg || *end || arg[0] == '-' || v == 0 || v > WORKSPACE_PATCH_MAX)
                return false;
        *limit = (size_t)v;
        return true;
}

/* The patch, cut at its last whole line within the limit when longer, with
 * a line that says so (git apply refuses a cut hunk: it is never taken for
 * the whole). */
static void workspace_reply_patch(struct serve_reply *reply, struct serve_runas_result *result)
{
        size_t length = result->out_length;
        bool cut = result->out_cut;
        if (cut) {
                while (length > 0 && result->out[length - 1] != '\n')
                        length--;
        }
        char note[192] = "";
        if (cut)
                snprintf(note, sizeof(note),
                         "# reins: patch truncated at %zu bytes (ask for less with ?path=, or up "
                         "to %u bytes with ?max_bytes=)\n",
                         length, WORKSPACE_PATCH_MAX);
        size_t note_length = strlen(note);
        char *text = malloc(length + note_length + 1);
        if (!text) {
                serve_reply_error(reply, 500, "out of memory");
                return;
        }
        if (length)
                memcpy(text, result->out, length);
        memcpy(text + length, note, note_length + 1);
        json_decref(reply->json);
        reply->json = NULL;
        reply->status = 200;
        reply->text = text;
        reply->content_type = "text/x-diff";
}

void serve_api_session_diff(const struct serve_request *request, struct serve_reply *reply)
{
        const char *format = serve_request_arg(request, "format");
        const char *path = serve_request_arg(request, "path");
        bool patch = format && strcmp(format, "patch") == 0;
        if (format && !patch && strcmp(format, "json") != 0) {
                serve_reply_error(reply, 400, "format: expected json or patch");
                return;
        }
        size_t limit = WORKSPACE_JSON_MAX;
        if (patch && !workspace_patch_limit(serve_request_arg(request, "max_bytes"), &limit)) {
                serve_reply_error(reply, 400, "max_bytes: expected 1 to %u", WORKSPACE_PATCH_MAX);
                return;
        }
        if (!patch && serve_request_arg(request, "max_bytes")) {
                serve_reply_error(reply, 400, "max_bytes: only with format=patch");
                return;
        }
        if (path && (!path[0] || strlen(path) > WORKSPACE_PATH_MAX)) {
                serve_reply_error(reply, 400, "path: expected a path inside the workspace");
                return;
        }
        struct workspace_call call = {0};
        if (!workspace_call_open(request, reply, SERVE_RIGHT_READ_DIFF, &call)) {
                json_decref(call.entry);
                return;
        }
        json_decref(call.entry);
        const char *json_options[] = {"--json", NULL};
        const char *patch_options[] = {"--patch", NULL};
        struct reins_strv args = {0};
        if (workspace_args(&args, request->serve->reins_path, "diff",
                           patch ? patch_options : json_options, request->id, NULL, path) < 0) {
                strv_free(&args);
                serve_reply_error(reply, 500, "out of memory");
                return;
        }
        struct serve_runas_result result;
        int r = workspace_run(request, &call, &args, limit, true, &result, reply);
        strv_free(&args);
        if (r < 0)
                return;
        if (result.out_cut && patch) {
                workspace_reply_patch(reply, &result);
        } else if (result.out_cut) {
                serve_reply_error(reply, 422,
                                  "the diff of session %s is larger than %u bytes of JSON: ask "
                                  "for part of it (?path=), or for a patch (?format=patch)",
                                  request->id, WORKSPACE_JSON_MAX);
        } else if (result.status != 0) {
                workspace_refused(request, reply, &result, "diff");
        } else if (patch) {
                workspace_reply_patch(reply, &result);
        } else {
                json_error_t jerr;
                json_t *doc = result.out ? json_loadb(result.out, result.out_length,
                                                      JSON_REJECT_DUPLICATES, &jerr)
                                         : NULL;
                if (json_is_object(doc)) {
                        serve_reply_json(reply, 200, doc);
                        workspace_reply_escaped(reply);
                } else {
                        json_decref(doc);
                        serve_reply_error(reply, 500, "reins diff gave no JSON document");
                }
        }
        serve_runas_result_free(&result);
}

/* ---- POST /v1/sessions/{id}/apply ------------------------------------------- */

static bool workspace_apply_body(const json_t *body, struct serve_reply *reply)
{
        const char *flags[] = {"include_protected", "force", "dry_run"};
        for (size_t i = 0; i < 3; i++) {
                json_t *v = json_object_get(body, flags[i]);
                if (v && !json_is_boolean(v)) {
                        serve_reply_error(reply, 400, "%s: expected true or false", flags[i]);
                        return false;
                }
        }
        json_t *paths = json_object_get(body, "paths");
        if (!paths)
                return true;
        if (!json_is_array(paths) || json_array_size(paths) == 0 ||
            json_array_size(paths) > WORKSPACE_PATHS_MAX) {
                serve_reply_error(reply, 400,
                                  "paths: expected a list of 1 to %d paths inside the workspace "
                                  "(leave it out to apply everything)",
                                  WORKSPACE_PATHS_MAX);
                return false;
        }
        size_t i, bytes = 0;
        json_t *item;
        json_array_foreach(paths, i, item)
        {
                if (!workspace_valid_path(item)) {
                        serve_reply_error(reply, 400,
                                          "paths[%zu]: expected a path inside the workspace", i);
                        return false;
                }
                bytes += json_string_length(item);
        }
        if (bytes > WORKSPACE_PATHS_BYTES) {
                serve_reply_error(reply, 400, "paths: more than %u bytes in all",
                                  WORKSPACE_PATHS_BYTES);
                return false;
        }
        return true;
}

/* serve.workspace.apply / .discard in the daemon's trail: who asked, as
 * whom it ran, what came of it (`fields` taken). */
static void workspace_audit(const struct serve_request *request, const char *type,
                            const struct workspace_call *call, const struct serve_reply *reply,
                            json_t *fields)
{
        if (!fields)
                fields = json_object();
        json_t *error = json_object_get(reply->json, "error");
        json_object_update_new(
            fields, json_pack("{s:s, s:I, s:s?, s:I, s:I, s:O?}", "about_session", request->id,
                              "by_uid", (json_int_t)request->uid, "by_token", request->token,
                              "as_uid", (json_int_t)call->user.uid, "status",
                              (json_int_t)reply->status, "error", error));
        serve_trail_emit(&request->serve->trail, type, fields);
}

/* What the outcome of `reins apply --json` says, in the trail's words. */
static json_t *workspace_apply_counts(const json_t *outcome, const json_t *body)
{
        json_t *fields =
            json_pack("{s:b, s:b, s:b, s:I}", "include_protected",
                      json_is_true(json_object_get(body, "include_protected")), "forced",
                      json_is_true(json_object_get(body, "force")), "dry_run",
                      json_is_true(json_object_get(body, "dry_run")), "paths",
                      (json_int_t)json_array_size(json_object_get(body, "paths")));
        const char *counts[] = {"applied",     "protected_skipped", "conflicts", "failed",
                                "unsupported", "blocked",           "closed"};
        for (size_t i = 0; fields && outcome && i < sizeof(counts) / sizeof(counts[0]); i++) {
                json_t *v = json_object_get(outcome, counts[i]);
                if (v)
                        json_object_set(fields, counts[i], v);
        }
        return fields;
}

void serve_api_session_apply(const struct serve_request *request, struct serve_reply *reply)
{
        static const char *const fields[] = {"include_protected", "paths", "force", "dry_run",
                                             NULL};
        json_auto_t *body = serve_body_object(request, reply, fields);
        if (!body || !workspace_apply_body(body, reply))
                return;
        struct workspace_call call = {0};
        if (!workspace_call_open(request, reply, SERVE_RIGHT_CONTROL, &call)) {
                json_decref(call.entry);
                return;
        }
        bool force = json_is_true(json_object_get(body, "force"));
        bool alive = json_is_true(json_object_get(call.entry, "alive"));
        json_decref(call.entry);
        json_auto_t *outcome = NULL;
        if (alive && !force) {
                /* as reins apply: the agent may be half-way through a file */
                serve_reply_error(reply, 409,
                                  "session %s is still running: stop it first (POST "
                                  "/v1/sessions/%s/stop), or apply with \"force\": true",
                                  request->id, request->id);
                goto out;
        }
        const char *options[5];
        size_t n = 0;
        options[n++] = "--json";
        if (json_is_true(json_object_get(body, "include_protected")))
                options[n++] = "--include-protected";
        if (force)
                options[n++] = "--force";
        if (json_is_true(json_object_get(body, "dry_run")))
                options[n++] = "--dry-run";
        options[n] = NULL;
        struct reins_strv args = {0};
        if (workspace_args(&args, request->serve->reins_path, "apply", options, request->id,
                           json_object_get(body, "paths"), NULL) < 0) {
                strv_free(&args);
                serve_reply_error(reply, 500, "out of memory");
                goto out;
        }
        struct serve_runas_result result;
        /* an apply is never cut short: its output past the cap is dropped */
        int r =
            workspace_run(request, &call, &args, WORKSPACE_APPLY_OUTPUT_MAX, false, &result, reply);
        strv_free(&args);
        if (r < 0)
                goto out;
        json_error_t jerr;
        outcome = result.out && !result.out_cut
                      ? json_loadb(result.out, result.out_length, JSON_REJECT_DUPLICATES, &jerr)
                      : NULL;
        if (!json_is_object(outcome)) {
                json_decref(outcome);
                outcome = NULL;
                workspace_refused(request, reply, &result, "apply");
        } else if (json_is_true(json_object_get(outcome, "blocked"))) {
                json_int_t conflicts = json_integer_value(json_object_get(outcome, "conflicts"));
                serve_reply_error(reply, 409,
                                  "%lld conflict%s: nothing applied (host files changed since the "
                                  "session started; review them, then \"force\": true overwrites)",
                                  (long long)conflicts, conflicts == 1 ? "" : "s");
                json_object_update_missing(reply->json, outcome);
        } else if (json_integer_value(json_object_get(outcome, "failed")) > 0 ||
                   result.status != 0) {
                json_int_t failed = json_integer_value(json_object_get(outcome, "failed"));
                serve_reply_error(reply, 500, "%s",
                                  failed > 0      ? "some changes could not be applied"
                                  : result.err[0] ? result.err
                                                  : "reins apply failed");
                json_object_update_missing(reply->json, outcome);
        } else {
                serve_reply_json(reply, 200, json_incref(outcome));
        }
        serve_runas_result_free(&result);
out:
        workspace_audit(request, "serve.workspace.apply", &call, reply,
                        workspace_apply_counts(outcome, body));
        workspace_reply_escaped(reply);
}

/* ---- POST /v1/sessions/{id}/discard ----------------------------------------- */

void serve_api_session_discard(const struct serve_request *request, struct serve_reply *reply)
{
        static const char *const fields[] = {NULL};
        json_auto_t *body = serve_body_object(request, reply, fields);
        if (!body)
                return;
        struct workspace_call call = {0};
        if (!workspace_call_open(request, reply, SERVE_RIGHT_CONTROL, &call)) {
                json_decref(call.entry);
                return;
        }
        bool alive = json_is_true(json_object_get(call.entry, "alive"));
        json_decref(call.entry);
        if (alive) {
                /* reins discard refuses too (without --force, not offered
                 * here: the copy is the running sandbox's workspace) */
                serve_reply_error(reply, 409,
                                  "session %s is still running: stop it first (POST "
                                  "/v1/sessions/%s/stop)",
                                  request->id, request->id);
                goto out;
        }
        const char *options[] = {NULL};
        struct reins_strv args = {0};
        if (workspace_args(&args, request->serve->reins_path, "discard", options, request->id, NULL,
                           NULL) < 0) {
                strv_free(&args);
                serve_reply_error(reply, 500, "out of memory");
                goto out;
        }
        struct serve_runas_result result;
        int r =
            workspace_run(request, &call, &args, WORKSPACE_DISCARD_OUTPUT, false, &result, reply);
        strv_free(&args);
        if (r < 0)
                goto out;
        if (result.status == 0)
                serve_reply_json(reply, 200,
                                 json_pack("{s:s, s:b}", "session", request->id, "discarded", 1));
        else
                workspace_refused(request, reply, &result, "discard");
        serve_runas_result_free(&result);
out:
        workspace_audit(request, "serve.workspace.discard", &call, reply,
                        json_pack("{s:b}", "discarded", reply->status == 200));
}

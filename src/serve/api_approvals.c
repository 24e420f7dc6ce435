/* Approvals through the API: the requests waiting in live sessions (GET
 * /v1/approvals, GET /v1/sessions/{id}/approvals) and the answer (POST
 * /v1/sessions/{id}/approvals). The answer is signed with the daemon's own
 * key (serve/daemon_key.h), which every session it starts takes besides
 * its user's, and names its approver (the caller's uid, its token) in the
 * signed payload: the session's trail records who answered, whoever the
 * session runs as. A session the daemon did not start trusts only its
 * user's key: the daemon answers it only when it runs as that user, with
 * that key, as `reins approve` would. The daemon's trail has the answer
 * too (serve.approval). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "govern/answer_sign.h"
#include "govern/approvals.h"
#include "govern/identity.h"
#include "policy/parse_units.h"
#include "serve/daemon_key.h"
#include "serve/record.h"
#include "serve/serve_internal.h"
#include "serve/sessions.h"
#include "session/control_client.h"
#include "util/cleanup.h"

/* One control-socket request to the session `entry`; the reply object or
 * NULL (err). */
static json_t *approvals_call(struct serve *serve, const json_t *entry, const json_t *request,
                              struct reins_error *err)
{
        const char *id = json_string_value(json_object_get(entry, "session"));
        cleanup_free char *dir = NULL;
        if (!id || serve_session_registry(serve, entry, &dir, err) < 0)
                return NULL;
        cleanup_fd int fd = control_connect_in(dir, id, err);
        json_t *reply = NULL;
        if (fd < 0 || control_call(fd, request, &reply, 5000, err) < 0)
                return NULL;
        return reply;
}

/* The pending requests of one live session, each with its "session". */
static void approvals_of(struct serve *serve, const json_t *entry, json_t *out)
{
        struct reins_error err = {0};
        json_auto_t *ask = json_pack("{s:s}", "op", "pending");
        json_auto_t *reply = ask ? approvals_call(serve, entry, ask, &err) : NULL;
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(reply, "pending"), i, item)
        {
                json_object_set(item, "session", json_object_get(entry, "session"));
                json_array_append(out, item);
        }
}

void serve_api_approvals_list(const struct serve_request *request, struct serve_reply *reply)
{
        struct reins_error err = {0};
        json_auto_t *sessions = NULL;
        if (serve_sessions_collect(request->serve, &sessions, &err) < 0) {
                serve_reply_error(reply, 500, "%s", err.message);
                return;
        }
        json_t *out = json_array();
        size_t i;
        json_t *entry;
        json_array_foreach(sessions, i, entry)
        {
                /* live, waiting for someone, and one the caller may answer for */
                if (json_is_true(json_object_get(entry, "alive")) &&
                    json_integer_value(json_object_get(entry, "pending")) > 0 &&
                    serve_request_allows_agent(request, SERVE_RIGHT_APPROVE,
                                               serve_session_policy(entry),
                                               serve_session_agent(entry)))
                        approvals_of(request->serve, entry, out);
        }
        serve_reply_json(reply, 200, out);
}

/* The session of the route, live, and one the caller may answer for. */
static json_t *approvals_session(const struct serve_request *request, struct serve_reply *reply)
{
        struct reins_error err = {0};
        json_t *entry = NULL;
        int r = serve_sessions_find(request->serve, request->id, &entry, &err);
        if (r < 0) {
                serve_reply_error(reply, r == -ENOENT ? 404 : 500, "%s", err.message);
                return NULL;
        }
        if (!serve_check_agent(request, reply, SERVE_RIGHT_APPROVE, serve_session_policy(entry),
                               serve_session_agent(entry))) {
                json_decref(entry);
                return NULL;
        }
        if (!json_is_true(json_object_get(entry, "alive"))) {
                serve_reply_error(reply, 409, "session %s is not running", request->id);
                json_decref(entry);
                return NULL;
        }
        return entry;
}

void serve_api_session_approvals(const struct serve_request *request, struct serve_reply *reply)
{
        json_auto_t *entry = approvals_session(request, reply);
        if (!entry)
                return;
        json_t *out = json_array();
        approvals_of(request->serve, entry, out);
        serve_reply_json(reply, 200, out);
}

json_t *serve_request_approver(const struct serve_request *request)
{
        return answer_approver((int64_t)request->uid, request->token);
}

int serve_signing_key(const struct serve_request *request, struct serve_reply *reply,
                      const json_t *entry, const char *what, struct audit_key *key)
{
        struct serve *serve = request->serve;
        struct reins_error err = {0};
        const char *id = json_string_value(json_object_get(entry, "session"));
        json_auto_t *record = id ? serve_record_read(serve->sessions_dir, id) : NULL;
        uid_t uid = (uid_t)json_integer_value(json_object_get(entry, "uid"));
        int r;
        if (json_is_string(json_object_get(record, "daemon_key"))) {
                /* started here, told to trust the daemon's key: sign with
                 * it (a key replaced since is refused by the session) */
                r = serve_daemon_key_load(serve->state_dir, key, &err);
        } else if (uid == serve->uid) {
                r = identity_user_key(key, false, &err);
        } else {
                serve_reply_error(reply, 409,
                                  "session %s was not started by this daemon with its key, and "
                                  "runs as uid %u: %s must be signed with that user's key (run "
                                  "'reins %s' as that user)",
                                  request->id, (unsigned)uid, what,
                                  strcmp(what, "a thaw") == 0 ? "thaw" : "approve");
                return -EPERM;
        }
        if (r < 0) {
                serve_reply_error(reply, 500, "cannot sign %s: %s", what, err.message);
                return r;
        }
        return 0;
}

/* "for": absent or "once" → -1; "session" → 0; a duration → ms. */
static int approvals_for(const json_t *value, int64_t *for_ms)
{
        const char *text = json_string_value(value);
        uint64_t ms = 0;
        if (!value || (text && strcmp(text, "once") == 0))
                *for_ms = -1;
        else if (text && strcmp(text, "session") == 0)
                *for_ms = 0;
        else if (text && parse_duration_ms(text, &ms) == 0 && ms > 0 && ms <= INT64_MAX)
                *for_ms = (int64_t)ms;
        else
                return -EINVAL;
        return 0;
}

void serve_api_session_answer(const struct serve_request *request, struct serve_reply *reply)
{
        static const char *const fields[] = {"request", "decision", "for", "scope", NULL};
        struct serve *serve = request->serve;
        json_auto_t *body = serve_body_object(request, reply, fields);
        if (!body)
                return;
        const char *id = json_string_value(json_object_get(body, "request"));
        const char *decision = json_string_value(json_object_get(body, "decision"));
        const char *scope = json_string_value(json_object_get(body, "scope"));
        json_t *scope_value = json_object_get(body, "scope");
        enum approval_scope parsed_scope;
        int64_t for_ms = -1;
        if (!id || !id[0]) {
                serve_reply_error(reply, 400, "request: expected a pending request's id");
                return;
        }
        if (!decision || (strcmp(decision, "allow") != 0 && strcmp(decision, "deny") != 0)) {
                serve_reply_error(reply, 400, "decision: expected allow or deny");
                return;
        }
        bool allow = strcmp(decision, "allow") == 0;
        if (approvals_for(json_object_get(body, "for"), &for_ms) < 0 ||
            (!allow && json_object_get(body, "for"))) {
                serve_reply_error(reply, 400,
                                  "for: once, session or a duration (10m), and only to allow");
                return;
        }
        if ((scope_value && !scope) || (scope && approval_scope_parse(scope, &parsed_scope) < 0)) {
                serve_reply_error(reply, 400, "scope: expected exact or domain");
                return;
        }
        json_auto_t *entry = approvals_session(request, reply);
        if (!entry)
                return;
        struct reins_error err = {0};
        struct audit_key key;
        if (serve_signing_key(request, reply, entry, "an answer", &key) < 0)
                return;
        json_auto_t *payload = answer_payload(request->id, id, allow, for_ms,
                                              scope ? scope : "exact", (int64_t)time(NULL));
        /* who answers, under the signature: the session's trail names them */
        if (payload)
                json_object_set_new(payload, "approver", serve_request_approver(request));
        char signature[ANSWER_SIGNATURE_HEX + 1];
        int r = payload ? answer_sign(&key, payload, signature, &err) : -ENOMEM;
        audit_key_wipe(&key);
        json_auto_t *ask = r == 0 ? json_pack("{s:s, s:O, s:s}", "op", "answer", "payload", payload,
                                              "signature", signature)
                                  : NULL;
        json_auto_t *answer = ask ? approvals_call(serve, entry, ask, &err) : NULL;
        if (!answer) {
                serve_reply_error(reply, 502, "session %s: %s", request->id,
                                  err.message[0] ? err.message : "out of memory");
                return;
        }
        if (!json_is_true(json_object_get(answer, "ok"))) {
                const char *why = json_string_value(json_object_get(answer, "error"));
                serve_reply_error(reply, 409, "request %.64s: %s", id, why ? why : "refused");
                return;
        }
        serve_trail_emit(&serve->trail, "serve.approval",
                         json_pack("{s:s, s:s, s:s, s:I, s:s, s:O?, s:I, s:s?}", "about_session",
                                   request->id, "request", id, "decision", decision, "for_ms",
                                   (json_int_t)for_ms, "scope", scope ? scope : "exact", "target",
                                   json_object_get(answer, "target"), "by_uid",
                                   (json_int_t)request->uid, "by_token", request->token));
        serve_reply_json(reply, 200,
                         json_pack("{s:s, s:s, s:s, s:O?}", "session", request->id, "request", id,
                                   "decision", decision, "target",
                                   json_object_get(answer, "target")));
}

/* reins pending | approve ID | deny ID: answer what a running session asks.
 * An answer is signed with the user key (govern/answer_sign.h) and sent to
 * the session's control socket; the session checks the signature against
 * the key it started with and records both in its audit trail. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/approve.h"
#include "cli/cli.h"
#include "cli/daemon_sessions.h"
#include "session/control_client.h"
#include "cli/notice.h"
#include "audit/runtime.h"
#include "govern/answer_sign.h"
#include "govern/approvals.h"
#include "govern/identity.h"
#include "policy/parse_units.h"
#include "util/cleanup.h"
#include "util/text_escape.h"

/* `reins approve/deny` exit statuses. */
enum {
        APPROVE_EXIT_REFUSED = 1, /* no such request, or the session refused the answer */
};

static void approve_usage(FILE *out)
{
        fprintf(out,
                "Usage: reins approve ID [--for DURATION|session] [--scope exact|domain]\n"
                "       reins approve --watch\n"
                "       reins deny ID\n"
                "       reins pending [--json]\n"
                "       (each takes --socket PATH: the reins serve to ask)\n"
                "\n"
                "ID is a request id from 'reins pending' (or the line the session printed).\n"
                "  (no --for)          allow this one request only\n"
                "  --for 10m           allow the destination for 10 minutes of this session\n"
                "  --for session       allow it for the rest of the session\n"
                "  --scope domain      the grant covers the host's whole domain (a.b.c: b.c\n"
                "                      and every name under it); default exact\n"
                "  --watch             an interactive queue of every session's requests:\n"
                "                      y = once, n = deny, a = for this session, m N = N minutes\n"
                "\n"
                "Answers are signed with your key ('reins id'). Silence until the policy's\n"
                "approvals.timeout is the policy's default answer (deny unless it says allow).\n"
                "\n"
                "When reins serve runs (--socket PATH, $REINS_SOCKET, your own daemon's\n"
                "socket, else /run/reins/serve.sock), 'pending' lists its sessions' requests\n"
                "too, marked '(serve)', and an answer for a session it started (or one only\n"
                "it can reach) goes through its API: its roles decide and its key signs.\n");
}

/* "k3x9ab12-3" → the session prefix "k3x9ab12". */
static int approve_session_of(const char *id, char *prefix, size_t size)
{
        const char *dash = strrchr(id, '-');
        if (!dash || dash == id || (size_t)(dash - id) >= size || !dash[1])
                return -EINVAL;
        memcpy(prefix, id, (size_t)(dash - id));
        prefix[dash - id] = '\0';
        return 0;
}

int approve_send(const char *id, bool allow, int64_t for_ms, const char *scope, bool quiet)
{
        struct reins_error err = {0};
        char prefix[64];
        if (approve_session_of(id, prefix, sizeof(prefix)) < 0) {
                notice("'%s' is not a request id (see 'reins pending')", id);
                return EXIT_REINS_USAGE;
        }
        json_auto_t *entry = NULL;
        if (runtime_find(prefix, &entry, &err) < 0) {
                notice("request %s: %s", id, err.message);
                return APPROVE_EXIT_REFUSED;
        }
        const char *session = json_string_value(json_object_get(entry, "session"));
        struct audit_key key;
        if (!session || identity_user_key(&key, false, &err) < 0) {
                notice("cannot sign the answer: %s",
                       err.message[0] ? err.message : "bad registry entry");
                return EXIT_REINS_FAILED;
        }
        json_auto_t *payload =
            answer_payload(session, id, allow, for_ms, scope, (int64_t)time(NULL));
        char signature[ANSWER_SIGNATURE_HEX + 1];
        int r = payload ? answer_sign(&key, payload, signature, &err) : -ENOMEM;
        audit_key_wipe(&key);
        json_auto_t *reply = NULL;
        json_auto_t *request = r == 0 ? json_pack("{s:s, s:O, s:s}", "op", "answer", "payload",
                                                  payload, "signature", signature)
                                      : NULL;
        if (!request || control_request(session, request, &reply, &err) < 0) {
                notice("request %s: %s", id, err.message[0] ? err.message : "out of memory");
                return EXIT_REINS_FAILED;
        }
        if (!json_is_true(json_object_get(reply, "ok"))) {
                const char *why = json_string_value(json_object_get(reply, "error"));
                notice("request %s: %s", id, why ? why : "refused");
                return APPROVE_EXIT_REFUSED;
        }
        if (!quiet) {
                char shown[200], target[1100];
                printf("%s %s (%s)\n", allow ? "allowed" : "denied",
                       text_show(shown, sizeof(shown), id),
                       text_show(target, sizeof(target),
                                 json_string_value(json_object_get(reply, "target"))));
        }
        return 0;
}

/* The answer through the daemon (POST /v1/sessions/ID/approvals): its
 * roles decide, it signs, its trail records who asked. */
static int approve_through_daemon(struct daemon_view *daemon, const char *session, const char *id,
                                  bool allow, int64_t for_ms, const char *scope, bool quiet)
{
        struct reins_error err = {0};
        char duration[32];
        snprintf(duration, sizeof(duration), "%lldms", (long long)for_ms);
        json_auto_t *body =
            json_pack("{s:s, s:s}", "request", id, "decision", allow ? "allow" : "deny");
        if (body && allow) {
                json_object_set_new(body, "for",
                                    json_string(for_ms < 0    ? "once"
                                                : for_ms == 0 ? "session"
                                                              : duration));
                json_object_set_new(body, "scope", json_string(scope));
        }
        cleanup_free char *path = daemon_session_path(session, "approvals");
        json_auto_t *reply = NULL;
        int r = body && path ? daemon_client_call(&daemon->client, "POST", path, body,
                                                  DAEMON_ACT_TIMEOUT, NULL, &reply, &err)
                             : reins_error_set(&err, ENOMEM, "out of memory");
        if (r < 0) {
                cli_error(&err);
                return r == -EREMOTEIO ? APPROVE_EXIT_REFUSED : EXIT_REINS_FAILED;
        }
        if (!quiet) {
                char shown[200], target[1100];
                printf("%s %s (%s)\n", allow ? "allowed" : "denied",
                       text_show(shown, sizeof(shown), id),
                       text_show(target, sizeof(target),
                                 json_string_value(json_object_get(reply, "target"))));
        }
        return 0;
}

/* One answer: through the daemon when the session is its own (or only it
 * sees the session), else locally as without a daemon. */
int approve_answer(const char *socket_path, const char *id, bool allow, int64_t for_ms,
                   const char *scope, bool quiet)
{
        struct reins_error err = {0};
        char prefix[64];
        if (approve_session_of(id, prefix, sizeof(prefix)) < 0)
                return approve_send(id, allow, for_ms, scope, quiet); /* says why */
        struct daemon_view daemon;
        if (daemon_view_open(&daemon, socket_path, &err) < 0) {
                cli_error(&err);
                return EXIT_REINS_FAILED;
        }
        json_auto_t *entry = NULL;
        const char *local = runtime_find(prefix, &entry, NULL) == 0
                                ? json_string_value(json_object_get(entry, "session"))
                                : NULL;
        const char *session = NULL;
        int r = daemon_view_route(&daemon, local, prefix, &session, &err);
        int status;
        if (r < 0) {
                cli_error(&err);
                status = r == -EREMOTEIO || r == -EEXIST ? APPROVE_EXIT_REFUSED : EXIT_REINS_FAILED;
        } else if (r == 1) {
                status = approve_through_daemon(&daemon, session, id, allow, for_ms, scope, quiet);
        } else {
                status = approve_send(id, allow, for_ms, scope, quiet);
        }
        daemon_view_close(&daemon);
        return status;
}

/* --for: "session" → 0, a duration → ms; absent → -1 (once). */
static int approve_parse_for(const char *text, int64_t *for_ms)
{
        if (strcmp(text, "session") == 0) {
                *for_ms = 0;
                return 0;
        }
        uint64_t ms = 0;
        if (parse_duration_ms(text, &ms) < 0 || ms == 0 || ms > INT64_MAX)
                return -EINVAL;
        *for_ms = (int64_t)ms;
        return 0;
}

static int approve_main(int argc, char **argv, bool allow)
{
        static const struct option options[] = {
            {"for", required_argument, NULL, 'f'},
            {"scope", required_argument, NULL, 's'},
            {"watch", no_argument, NULL, 'w'},
            {"quiet", no_argument, NULL, 'q'},
            {"help", no_argument, NULL, 'h'},
            {"socket", required_argument, NULL, 'S'},
            {NULL, 0, NULL, 0},
        };
        const char *socket_path = NULL;
        int64_t for_ms = -1;
        const char *scope = "exact";
        bool watch = false, quiet = false;
        int c;
        opterr = 0;
        while ((c = getopt_long(argc, argv, "qh", options, NULL)) != -1) {
                switch (c) {
                case 'f':
                        if (!allow || approve_parse_for(optarg, &for_ms) < 0) {
                                fprintf(stderr,
                                        "reins: --for '%s': a duration (10m, 1h) or "
                                        "'session'\n",
                                        optarg);
                                return EXIT_REINS_USAGE;
                        }
                        break;
                case 's': {
                        enum approval_scope parsed;
                        if (!allow || approval_scope_parse(optarg, &parsed) < 0) {
                                fprintf(stderr, "reins: --scope '%s': exact or domain\n", optarg);
                                return EXIT_REINS_USAGE;
                        }
                        scope = optarg;
                        break;
                }
                case 'w':
                        watch = allow;
                        break;
                case 'q':
                        quiet = true;
                        break;
                case 'S':
                        socket_path = optarg;
                        break;
                case 'h':
                        approve_usage(stdout);
                        return 0;
                default:
                        approve_usage(stderr);
                        return EXIT_REINS_USAGE;
                }
        }
        if (watch)
                return optind == argc ? approve_watch(socket_path)
                                      : (approve_usage(stderr), EXIT_REINS_USAGE);
        if (optind + 1 != argc) {
                approve_usage(stderr);
                return EXIT_REINS_USAGE;
        }
        return approve_answer(socket_path, argv[optind], allow, for_ms, scope, quiet);
}

int cli_approve(int argc, char **argv)
{
        return approve_main(argc, argv, true);
}

int cli_deny(int argc, char **argv)
{
        return approve_main(argc, argv, false);
}

/* ---- reins pending ---------------------------------------------------- */

/* One request as a table row. Every field is escaped (util/text_escape.h):
 * the target and the reason are the agent's words, and the rest comes over
 * a socket. */
static void pending_print(const json_t *r)
{
        const char *kind = json_string_value(json_object_get(r, "kind"));
        const char *reason = json_string_value(json_object_get(r, "reason"));
        json_t *port = json_object_get(r, "port");
        /* sized for the escaped worst case (4 bytes out per byte in): never cut */
        char id[200], session[200], target[1100], rule[1100], why[3100];
        text_show(target, sizeof(target), json_string_value(json_object_get(r, "target")));
        if (port)
                snprintf(target + strlen(target), sizeof(target) - strlen(target), ":%lld",
                         (long long)json_integer_value(port));
        printf(
            "%-14s %-10.10s %-5s %-30s %-24s %4llds %s%s\n",
            text_show(id, sizeof(id), json_string_value(json_object_get(r, "id"))),
            text_show(session, sizeof(session), json_string_value(json_object_get(r, "session"))),
            kind && strcmp(kind, "path") == 0 ? "path" : "dest", target,
            text_show(rule, sizeof(rule), json_string_value(json_object_get(r, "rule"))),
            (long long)json_integer_value(json_object_get(r, "expires_in_ms")) / 1000,
            json_object_get(r, "via") ? "(serve) " : "",
            reason && reason[0] ? text_show(why, sizeof(why), reason) : "-");
}

/* Every live session's pending requests: {"session": [...]} merged into one array. */
json_t *approve_collect_pending(void)
{
        struct reins_error err = {0};
        json_auto_t *sessions = NULL;
        json_t *all = json_array();
        if (runtime_list(&sessions, &err) < 0)
                return all;
        size_t i;
        json_t *s;
        json_array_foreach(sessions, i, s)
        {
                const char *id = json_string_value(json_object_get(s, "session"));
                if (!id || !json_is_true(json_object_get(s, "alive")))
                        continue;
                cleanup_fd int fd = control_connect(id, &err);
                json_auto_t *reply = NULL;
                json_auto_t *request = json_pack("{s:s}", "op", "pending");
                if (fd >= 0 && control_call(fd, request, &reply, 2000, &err) == 0) {
                        size_t j;
                        json_t *r;
                        json_array_foreach(json_object_get(reply, "pending"), j, r)
                        {
                                json_object_set_new(r, "session", json_string(id));
                                json_array_append(all, r);
                        }
                }
        }
        return all;
}

/* Is `r` (a request with its "session") in `list` already? */
static bool pending_listed(const json_t *list, const json_t *r)
{
        size_t i;
        json_t *other;
        json_array_foreach(list, i, other)
        {
                if (json_equal(json_object_get(other, "id"), json_object_get(r, "id")) &&
                    json_equal(json_object_get(other, "session"), json_object_get(r, "session")))
                        return true;
        }
        return false;
}

/* The daemon's pending requests merged into `all`: once each, "via":
 * "serve" on those of its sessions (cli/daemon_sessions.h). 0, or -errno
 * with err when the daemon would not list them. */
static int pending_merge_daemon(struct daemon_view *daemon, json_t *all, struct reins_error *err)
{
        json_t *sessions = daemon_view_sessions(daemon);
        if (!sessions) {
                *err = daemon->error;
                return daemon->sessions_error;
        }
        json_auto_t *theirs = NULL;
        int r = daemon_client_call(&daemon->client, "GET", "/v1/approvals", NULL,
                                   DAEMON_READ_TIMEOUT, NULL, &theirs, err);
        if (r < 0)
                return r;
        size_t i;
        json_t *request;
        json_array_foreach(all, i, request)
        {
                const char *session = json_string_value(json_object_get(request, "session"));
                const char *id = NULL;
                struct reins_error ignored = {0};
                if (session && daemon_view_route(daemon, session, session, &id, &ignored) == 1)
                        json_object_set_new(request, "via", json_string("serve"));
        }
        json_array_foreach(theirs, i, request)
        {
                if (json_is_object(request) && !pending_listed(all, request)) {
                        json_object_set_new(request, "via", json_string("serve"));
                        json_array_append(all, request);
                }
        }
        return 0;
}

int cli_pending(int argc, char **argv)
{
        bool as_json = false;
        const char *socket_path = NULL;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0) {
                        as_json = true;
                } else if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
                        socket_path = argv[++i];
                } else if (strncmp(argv[i], "--socket=", 9) == 0) {
                        socket_path = argv[i] + 9;
                } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        approve_usage(stdout);
                        return 0;
                } else {
                        approve_usage(stderr);
                        return EXIT_REINS_USAGE;
                }
        }
        struct reins_error err = {0};
        struct daemon_view daemon;
        if (daemon_view_open(&daemon, socket_path, &err) < 0) {
                cli_error(&err);
                return EXIT_REINS_FAILED;
        }
        json_auto_t *all = approve_collect_pending();
        int status = 0;
        if (daemon.found && pending_merge_daemon(&daemon, all, &err) < 0)
                status = 1;
        daemon_view_close(&daemon);
        if (as_json) {
                text_json_write(stdout, all, JSON_INDENT(2));
                putchar('\n');
        } else if (json_array_size(all) == 0) {
                printf("no pending requests\n");
        } else {
                printf("%-14s %-10s %-5s %-30s %-24s %5s %s\n", "ID", "SESSION", "KIND", "TARGET",
                       "RULE", "LEFT", "REASON");
                size_t i;
                json_t *r;
                json_array_foreach(all, i, r) pending_print(r);
        }
        /* what the daemon would not list is said, after what could be */
        if (status) {
                fflush(stdout);
                cli_error(&err);
        }
        return status;
}

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
                "approvals.timeout is the policy's default answer (deny unless it says allow).\n");
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
            {"for", required_argument, NULL, 'f'}, {"scope", required_argument, NULL, 's'},
            {"watch", no_argument, NULL, 'w'},     {"quiet", no_argument, NULL, 'q'},
            {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
        };
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
                case 'h':
                        approve_usage(stdout);
                        return 0;
                default:
                        approve_usage(stderr);
                        return EXIT_REINS_USAGE;
                }
        }
        if (watch)
                return optind == argc ? approve_watch() : (approve_usage(stderr), EXIT_REINS_USAGE);
        if (optind + 1 != argc) {
                approve_usage(stderr);
                return EXIT_REINS_USAGE;
        }
        return approve_send(argv[optind], allow, for_ms, scope, quiet);
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
            "%-14s %-10.10s %-5s %-30s %-24s %4llds %s\n",
            text_show(id, sizeof(id), json_string_value(json_object_get(r, "id"))),
            text_show(session, sizeof(session), json_string_value(json_object_get(r, "session"))),
            kind && strcmp(kind, "path") == 0 ? "path" : "dest", target,
            text_show(rule, sizeof(rule), json_string_value(json_object_get(r, "rule"))),
            (long long)json_integer_value(json_object_get(r, "expires_in_ms")) / 1000,
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

int cli_pending(int argc, char **argv)
{
        bool as_json = false;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0) {
                        as_json = true;
                } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        approve_usage(stdout);
                        return 0;
                } else {
                        approve_usage(stderr);
                        return EXIT_REINS_USAGE;
                }
        }
        json_auto_t *all = approve_collect_pending();
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
        return 0;
}

/* reins ps: the sessions running now, from the private runtime registry. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/clock.h"
#include "audit/runtime.h"
#include "govern/risk.h"
#include "audit/text.h"
#include "cli/cli.h"
#include "cli/daemon_sessions.h"
#include "cli/notice.h"
#include "util/text_escape.h"

static void ps_usage(FILE *out)
{
        fprintf(out, "Usage: reins ps [--json] [--all] [--socket PATH]\n"
                     "\n"
                     "Sessions of yours running now: id, agent, policy, supervisor pid, age,\n"
                     "command. What a supervisor killed with -9 left behind (its entry, its\n"
                     "control socket) is removed first; --all lists such entries as 'gone'\n"
                     "instead, without removing them.\n"
                     "\n"
                     "When reins serve runs (--socket PATH, $REINS_SOCKET, your own daemon's\n"
                     "socket, else /run/reins/serve.sock), its sessions that your role lets you\n"
                     "see are listed too, once each, marked '(serve)' before the command\n"
                     "('(serve: uid N)' for another user's; \"via\": \"serve\" in --json);\n"
                     "with --all, those that ended as well.\n");
}

static void ps_age(char *out, size_t size, const char *started)
{
        int64_t then = 0;
        if (!started || audit_time_parse_ms(started, &then) < 0) {
                snprintf(out, size, "?");
                return;
        }
        int64_t seconds = (audit_now_ms() - then) / 1000;
        if (seconds < 0)
                seconds = 0;
        if (seconds < 120)
                snprintf(out, size, "%llds", (long long)seconds);
        else if (seconds < 7200)
                snprintf(out, size, "%lldm", (long long)seconds / 60);
        else if (seconds < 172800)
                snprintf(out, size, "%lldh", (long long)seconds / 3600);
        else
                snprintf(out, size, "%lldd", (long long)seconds / 86400);
}

/* "T2 57" (tier, score), "*" when frozen; "-" when unknown. */
static void ps_risk(char *out, size_t size, const json_t *entry)
{
        json_t *tier = json_object_get(entry, "risk_tier");
        if (!tier) {
                snprintf(out, size, "-");
                return;
        }
        snprintf(out, size, "T%lld %.0f%s", (long long)json_integer_value(tier),
                 json_real_value(json_object_get(entry, "risk")),
                 json_is_true(json_object_get(entry, "frozen")) ? "*" : "");
}

static char *ps_text(const json_t *value)
{
        struct audit_buffer b = {0};
        if (value)
                audit_value_text(&b, value);
        return audit_buffer_take(&b);
}

int cli_ps(int argc, char **argv)
{
        static const struct option options[] = {
            {"json", no_argument, NULL, 'j'},
            {"all", no_argument, NULL, 'a'},
            {"socket", required_argument, NULL, 'S'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        bool as_json = false, keep = false;
        const char *socket_path = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "ah", options, NULL)) != -1) {
                if (c == 'j') {
                        as_json = true;
                } else if (c == 'a') {
                        keep = true;
                } else if (c == 'S') {
                        socket_path = optarg;
                } else if (c == 'h') {
                        ps_usage(stdout);
                        return 0;
                } else {
                        ps_usage(stderr);
                        return EXIT_REINS_USAGE;
                }
        }
        if (optind < argc) {
                ps_usage(stderr);
                return EXIT_REINS_USAGE;
        }
        struct reins_error err = {0};
        struct daemon_view daemon;
        if (daemon_view_open(&daemon, socket_path, &err) < 0) {
                cli_error(&err);
                return EXIT_REINS_FAILED;
        }
        json_t *sessions = NULL;
        /* dead entries are forgotten below, as the listing finds them */
        if (!keep)
                runtime_sweep_sockets();
        if (runtime_list(&sessions, &err) < 0) {
                cli_error(&err);
                daemon_view_close(&daemon);
                return EXIT_REINS_FAILED;
        }
        /* the local entries whose supervisor is gone are dropped below;
         * the daemon's ended sessions only with --all */
        size_t local_count = json_array_size(sessions);
        daemon_view_merge_sessions(&daemon, sessions, keep);
        if (!as_json)
                printf("%-24s  %-12s  %-12s  %7s  %5s  %-8s  %7s  %s\n", "SESSION", "AGENT",
                       "POLICY", "PID", "AGE", "RISK", "PENDING", "COMMAND");
        size_t i;
        json_t *entry;
        json_array_foreach(sessions, i, entry)
        {
                const char *id = json_string_value(json_object_get(entry, "session"));
                bool alive = json_is_true(json_object_get(entry, "alive"));
                bool via_daemon = json_object_get(entry, "via") != NULL;
                /* its supervisor is gone (killed with -9): not shown, and
                 * its entry and socket go (the registry's own entries only:
                 * the daemon's ended sessions come only with --all) */
                if (!alive && !keep) {
                        if (id && i < local_count)
                                runtime_forget(id);
                        continue;
                }
                risk_entry_decay_to_now(entry);
                if (as_json) {
                        char *line = text_json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS);
                        if (line)
                                puts(line);
                        free(line);
                } else {
                        char age[32];
                        ps_age(age, sizeof(age),
                               json_string_value(json_object_get(entry, "started")));
                        char *agent = ps_text(json_object_get(entry, "agent"));
                        char *policy = ps_text(json_object_get(entry, "policy"));
                        char *command = ps_text(json_object_get(entry, "command"));
                        char risk[32];
                        ps_risk(risk, sizeof(risk), entry);
                        json_t *pending = json_object_get(entry, "pending");
                        /* the daemon's entries come over a socket: escaped */
                        char shown[200];
                        text_show(shown, sizeof(shown), id ? id : "?");
                        /* the daemon's, and whose when not the caller's */
                        char via[48] = "";
                        json_t *uid = json_object_get(entry, "uid");
                        if (via_daemon && json_is_integer(uid) &&
                            json_integer_value(uid) != (json_int_t)getuid())
                                snprintf(via, sizeof(via), "(serve: uid %lld) ",
                                         (long long)json_integer_value(uid));
                        else if (via_daemon)
                                snprintf(via, sizeof(via), "(serve) ");
                        printf("%-24s  %-12s  %-12s  %7lld  %5s  %-8s  %7lld  %s%s%s\n", shown,
                               agent && agent[0] ? agent : "-", policy ? policy : "-",
                               (long long)json_integer_value(json_object_get(entry, "pid")), age,
                               risk, pending ? (long long)json_integer_value(pending) : 0LL,
                               alive ? "" : "(gone) ", via, command ? command : "");
                        free(agent);
                        free(policy);
                        free(command);
                }
        }
        json_decref(sessions);
        /* what the daemon would not list is said, after what could be */
        int status = 0;
        if (daemon.found && daemon.sessions_error < 0) {
                fflush(stdout);
                cli_error(&daemon.error);
                status = 1;
        }
        daemon_view_close(&daemon);
        return status;
}

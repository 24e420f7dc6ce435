/* reins oci: an OCI runtime's command line (runtime-spec "Operations",
 * runc's flags as conmon and the containerd shim pass them). Also reached
 * as `reins-oci` (argv[0]) and as `reins --root ... create ...`, which is
 * how an engine pointed at the reins binary calls it.
 *
 * Errors go to stderr and, with --log, to that file as JSON lines
 * {"level":"error","msg":...,"time":...}: conmon and the shim read only
 * the log. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "oci/container.h"
#include "oci/exec.h"
#include "oci/state.h"
#include "util/cleanup.h"

struct oci_globals {
        const char *root_flag;
        const char *log_path;
        bool log_json;
        const char *policy;
        char *root; /* resolved */
};

static void oci_log_error(const struct oci_globals *g, const char *message)
{
        fprintf(stderr, "reins oci: %s\n", message);
        if (!g->log_path)
                return;
        FILE *log = fopen(g->log_path, "ae");
        if (!log)
                return;
        char when[40];
        struct timespec now;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &now);
        gmtime_r(&now.tv_sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (g->log_json) {
                json_t *line =
                    json_pack("{s:s, s:s, s:s}", "level", "error", "msg", message, "time", when);
                cleanup_free char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
                json_decref(line);
                if (text)
                        fprintf(log, "%s\n", text);
        } else {
                fprintf(log, "time=\"%s\" level=error msg=\"%s\"\n", when, message);
        }
        fclose(log);
}

static int oci_fail(const struct oci_globals *g, const struct reins_error *err)
{
        oci_log_error(g, err->message[0] ? err->message : strerror(err->code));
        return 1;
}

__attribute__((format(printf, 2, 3))) static int oci_usage_error(const struct oci_globals *g,
                                                                 const char *fmt, ...)
{
        char message[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        oci_log_error(g, message);
        return EXIT_REINS_USAGE;
}

/* "--name value" or "--name=value"; advances *i past what it took. */
static bool oci_flag_value(int argc, char **argv, int *i, const char *name, const char **value)
{
        size_t len = strlen(name);
        if (strncmp(argv[*i], name, len) != 0)
                return false;
        if (argv[*i][len] == '=') {
                *value = argv[*i] + len + 1;
                return true;
        }
        if (argv[*i][len] != '\0' || *i + 1 >= argc)
                return false;
        *value = argv[++*i];
        return true;
}

static bool oci_flag(const char *arg, const char *name, const char *short_name)
{
        return strcmp(arg, name) == 0 || (short_name && strcmp(arg, short_name) == 0);
}

static void oci_print_json(json_t *doc)
{
        cleanup_free char *text = json_dumps(doc, JSON_INDENT(2));
        if (text)
                printf("%s\n", text);
        json_decref(doc);
}

static int oci_create_command(struct oci_globals *g, int argc, char **argv)
{
        struct oci_create_options o = {.root = g->root,
                                       .policy = g->policy,
                                       .log_path = g->log_path,
                                       .log_json = g->log_json,
                                       .bundle = "."};
        for (int i = 1; i < argc; i++) {
                const char *value = NULL;
                if (oci_flag_value(argc, argv, &i, "--bundle", &value) ||
                    oci_flag_value(argc, argv, &i, "-b", &value))
                        o.bundle = value;
                else if (oci_flag_value(argc, argv, &i, "--pid-file", &value))
                        o.pid_file = value;
                else if (oci_flag_value(argc, argv, &i, "--console-socket", &value))
                        o.console_socket = value;
                else if (oci_flag_value(argc, argv, &i, "--policy", &value))
                        o.policy = value;
                else if (oci_flag_value(argc, argv, &i, "--preserve-fds", &value)) {
                        if (strcmp(value, "0") != 0)
                                return oci_usage_error(
                                    g,
                                    "--preserve-fds %s: reins passes no fd but 0-2 into a "
                                    "container (leaked fds are an escape class)",
                                    value);
                } else if (oci_flag(argv[i], "--no-pivot", NULL) ||
                           oci_flag(argv[i], "--no-new-keyring", NULL)) {
                        /* reins always pivots; the keyring is out of reach
                         * (seccomp denies keyctl) */
                } else if (argv[i][0] == '-')
                        return oci_usage_error(g, "create: unknown option '%s'", argv[i]);
                else if (!o.id)
                        o.id = argv[i];
                else
                        return oci_usage_error(g, "create: unexpected argument '%s'", argv[i]);
        }
        if (!o.id)
                return oci_usage_error(g, "create: the container id is missing");
        struct reins_error err = {0};
        return oci_create(&o, &err) < 0 ? oci_fail(g, &err) : 0;
}

static int oci_exec_command(struct oci_globals *g, int argc, char **argv)
{
        struct oci_exec_options o = {.root = g->root, .policy = g->policy};
        char *env[256];
        int i = 1;
        for (; i < argc && argv[i][0] == '-'; i++) {
                const char *value = NULL;
                if (oci_flag_value(argc, argv, &i, "--process", &value) ||
                    oci_flag_value(argc, argv, &i, "-p", &value))
                        o.process_path = value;
                else if (oci_flag_value(argc, argv, &i, "--pid-file", &value))
                        o.pid_file = value;
                else if (oci_flag_value(argc, argv, &i, "--console-socket", &value))
                        o.console_socket = value;
                else if (oci_flag_value(argc, argv, &i, "--cwd", &value))
                        o.cwd = value;
                else if (oci_flag_value(argc, argv, &i, "--env", &value) ||
                         oci_flag_value(argc, argv, &i, "-e", &value)) {
                        if (o.env_count == sizeof(env) / sizeof(env[0]))
                                return oci_usage_error(g, "exec: too many --env");
                        env[o.env_count++] = (char *)value;
                } else if (oci_flag(argv[i], "--detach", "-d"))
                        o.detach = true;
                else if (oci_flag(argv[i], "--tty", "-t"))
                        o.tty = true;
                else if (oci_flag_value(argc, argv, &i, "--preserve-fds", &value)) {
                        if (strcmp(value, "0") != 0)
                                return oci_usage_error(g,
                                                       "--preserve-fds %s: reins passes no fd "
                                                       "but 0-2 into a container",
                                                       value);
                } else if (oci_flag(argv[i], "--no-new-privs", NULL)) {
                        /* always */
                } else if (oci_flag_value(argc, argv, &i, "--cap", &value) ||
                           oci_flag_value(argc, argv, &i, "--process-label", &value) ||
                           oci_flag_value(argc, argv, &i, "--apparmor", &value)) {
                        /* reins keeps no capability; no LSM labels here */
                } else if (strcmp(argv[i], "--") == 0) {
                        break;
                } else
                        return oci_usage_error(g, "exec: unknown option '%s'", argv[i]);
        }
        if (i >= argc)
                return oci_usage_error(g, "exec: the container id is missing");
        o.id = argv[i++];
        if (i < argc && strcmp(argv[i], "--") == 0)
                i++;
        o.args = argv + i;
        o.arg_count = (size_t)(argc - i);
        o.env = env;
        if (!o.process_path && o.arg_count == 0)
                return oci_usage_error(g, "exec: no --process and no command");
        struct reins_error err = {0};
        int status = 0;
        if (oci_exec(&o, &status, &err) < 0)
                return oci_fail(g, &err);
        return status;
}

/* Commands taking only flags from `flags` and the id (and, for kill, a signal). */
static int oci_simple_command(struct oci_globals *g, int argc, char **argv)
{
        const char *verb = argv[0];
        const char *id = NULL, *extra = NULL, *format = "table";
        bool force = false, all = false;
        for (int i = 1; i < argc; i++) {
                const char *value = NULL;
                if (oci_flag(argv[i], "--force", "-f") && strcmp(verb, "delete") == 0)
                        force = true;
                else if (oci_flag(argv[i], "--all", "-a") && strcmp(verb, "kill") == 0)
                        all = true;
                else if (strcmp(verb, "ps") == 0 &&
                         (oci_flag_value(argc, argv, &i, "--format", &value) ||
                          oci_flag_value(argc, argv, &i, "-f", &value)))
                        format = value;
                else if (argv[i][0] == '-' && argv[i][1] != '\0')
                        return oci_usage_error(g, "unknown option '%s'", argv[i]);
                else if (!id)
                        id = argv[i];
                else if (!extra && strcmp(verb, "kill") == 0)
                        extra = argv[i];
                else
                        return oci_usage_error(g, "unexpected argument '%s'", argv[i]);
        }
        if (!id)
                return oci_usage_error(g, "%s: the container id is missing", verb);
        struct reins_error err = {0};
        int r;
        if (strcmp(verb, "start") == 0) {
                r = oci_start(g->root, id, &err);
        } else if (strcmp(verb, "state") == 0) {
                json_t *doc = NULL;
                if ((r = oci_state_get(g->root, id, &doc, &err)) == 0)
                        oci_print_json(doc);
        } else if (strcmp(verb, "kill") == 0) {
                int sig = oci_signal_parse(extra ? extra : "TERM");
                if (sig < 0)
                        return oci_usage_error(g, "kill: unknown signal '%s'", extra);
                r = oci_kill(g->root, id, sig, all, &err);
        } else if (strcmp(verb, "delete") == 0) {
                r = oci_delete(g->root, id, force, &err);
        } else if (strcmp(verb, "pause") == 0 || strcmp(verb, "resume") == 0) {
                r = oci_pause(g->root, id, verb[0] == 'p', &err);
        } else { /* ps */
                json_t *pids = NULL;
                if (strcmp(format, "json") != 0 && strcmp(format, "table") != 0)
                        return oci_usage_error(g, "ps --format %s: expected json or table", format);
                if ((r = oci_ps(g->root, id, &pids, &err)) == 0) {
                        if (strcmp(format, "json") == 0) {
                                cleanup_free char *text = json_dumps(pids, JSON_COMPACT);
                                printf("%s\n", text ? text : "[]");
                        } else {
                                size_t i;
                                json_t *pid;
                                printf("PID\n");
                                json_array_foreach(pids, i, pid)
                                    printf("%lld\n", (long long)json_integer_value(pid));
                        }
                        json_decref(pids);
                }
        }
        return r < 0 ? oci_fail(g, &err) : 0;
}

static void oci_print_usage(FILE *out)
{
        fprintf(out,
                "usage: reins oci [--root DIR] [--log FILE] [--log-format json|text] "
                "[--policy POLICY] COMMAND ...\n\n"
                "  create --bundle DIR [--pid-file F] [--console-socket S] ID\n"
                "  start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID\n"
                "  exec [--process F | --tty --cwd D --env E] [--detach] [--pid-file F] ID [CMD]\n"
                "  pause ID | resume ID | ps [--format json] ID | features\n\n"
                "The policy: annotation org.reins.policy, else --policy, else "
                "$REINS_OCI_POLICY, else the preset 'default'.\n");
}

static bool oci_systemd_running(void)
{
        struct stat st;
        return stat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

int cli_oci(int argc, char **argv)
{
        struct oci_globals g = {.log_json = false};
        g.policy = getenv("REINS_OCI_POLICY");
        if (!g.policy || !g.policy[0])
                g.policy = "default";
        int i = 1;
        for (; i < argc && argv[i][0] == '-'; i++) {
                const char *value = NULL;
                if (oci_flag_value(argc, argv, &i, "--root", &value))
                        g.root_flag = value;
                else if (oci_flag_value(argc, argv, &i, "--log", &value))
                        g.log_path = value;
                else if (oci_flag_value(argc, argv, &i, "--log-format", &value)) {
                        if (strcmp(value, "json") != 0 && strcmp(value, "text") != 0)
                                return oci_usage_error(&g,
                                                       "--log-format %s: expected json or "
                                                       "text",
                                                       value);
                        g.log_json = strcmp(value, "json") == 0;
                } else if (oci_flag_value(argc, argv, &i, "--policy", &value))
                        g.policy = value;
                else if (oci_flag_value(argc, argv, &i, "--rootless", &value) ||
                         oci_flag_value(argc, argv, &i, "--criu", &value)) {
                        /* runc's: reins works the same with or without root */
                } else if (strcmp(argv[i], "--systemd-cgroup") == 0) {
                        if (!oci_systemd_running())
                                return oci_usage_error(
                                    &g,
                                    "--systemd-cgroup: systemd is not running on this host; use "
                                    "the cgroupfs manager (podman --cgroup-manager cgroupfs, "
                                    "containerd SystemdCgroup = false)");
                        /* reins places the container in cgroups of its own */
                } else if (strcmp(argv[i], "--debug") == 0) {
                        /* accepted: reins' log holds errors and notices only */
                } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        oci_print_usage(stdout);
                        return 0;
                } else {
                        return oci_usage_error(&g, "unknown global option '%s'", argv[i]);
                }
        }
        if (i >= argc) {
                oci_print_usage(stderr);
                return EXIT_REINS_USAGE;
        }
        const char *verb = argv[i];
        if (strcmp(verb, "features") == 0) {
                oci_print_json(oci_features());
                return 0;
        }
        struct reins_error err = {0};
        if (oci_state_root(g.root_flag, &g.root, &err) < 0)
                return oci_fail(&g, &err);
        int status;
        if (strcmp(verb, "create") == 0)
                status = oci_create_command(&g, argc - i, argv + i);
        else if (strcmp(verb, "start") == 0 || strcmp(verb, "state") == 0 ||
                 strcmp(verb, "kill") == 0 || strcmp(verb, "delete") == 0 ||
                 strcmp(verb, "pause") == 0 || strcmp(verb, "resume") == 0 ||
                 strcmp(verb, "ps") == 0)
                status = oci_simple_command(&g, argc - i, argv + i);
        else if (strcmp(verb, "exec") == 0)
                status = oci_exec_command(&g, argc - i, argv + i);
        else if (strcmp(verb, "update") == 0 || strcmp(verb, "checkpoint") == 0 ||
                 strcmp(verb, "restore") == 0)
                status = oci_usage_error(&g,
                                         "%s: not supported by reins oci (a container's limits "
                                         "are the policy's, narrowed by config.json at create)",
                                         verb);
        else if (strcmp(verb, "run") == 0)
                status = oci_usage_error(&g, "run: use create then start");
        else
                status = oci_usage_error(&g, "unknown command '%s' (see reins oci --help)", verb);
        free(g.root);
        return status;
}

/* reins run: parse the command line, load the policy, build the plan, check
 * that the kernel can give every protection asked for, spawn, supervise. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run_events.h"
#include "cli/run_govern.h"
#include "cli/run_risk.h"
#include "govern/canary.h"
#include "cli/run_report.h"
#include "cli/run_workspace.h"
#include "audit/changes.h"
#include "audit/runtime.h"
#include "audit/trail.h"
#include "util/json_text.h"
#include "policy/policy.h"
#include "sandbox/cgroup.h"
#include "sandbox/landlock.h"
#include "sandbox/plan.h"
#include "sandbox/seccomp.h"
#include "sandbox/spawn.h"
#include "sandbox/supervise.h"
#include "sandbox/weaken.h"

extern char **environ;

struct run_args {
        const char *policy;
        struct event_bus events;
        char session[25];
        const char *resume;     /* --resume SESSION (overlay) */
        const char *events_to;  /* --events FD|FILE */
        const char *audit_path; /* --audit PATH; default: the user's trail directory */
        struct audit_trail *trail;
        struct timespec last_flush;
        FILE *event_stream;
        char *trail_dir;   /* resolved (and created) once, before the plan */
        char user_key[65]; /* the user's public key, hex; "" when unreadable */
        unsigned parallel; /* --parallel N (overlay) */
        struct workspace_session workspace;
        int workspace_copy;     /* limits.workspace_size: the copy's tmpfs while it runs, else -1 */
        const char *token_file; /* --token FILE */
        struct run_govern govern;
        struct run_risk risk;
        struct canary_set canaries; /* planted when the policy asks */
        struct plan_options plan;
        bool quiet;
};

enum {
        OPT_WORKSPACE_MODE = 256,
        OPT_RO,
        OPT_RW,
        OPT_ENV,
        OPT_MEMORY,
        OPT_PIDS,
        OPT_CPUS,
        OPT_TIMEOUT,
        OPT_STRICT,
        OPT_ALLOW_DEGRADED,
        OPT_NET,
        OPT_ALLOW_NET,
        OPT_RESUME,
        OPT_PARALLEL,
        OPT_EVENTS,
        OPT_AUDIT,
        OPT_TOKEN,
};

static void run_usage(FILE *out)
{
        fprintf(out,
                "usage: reins run [OPTIONS] -- COMMAND [ARGS...]\n"
                "\n"
                "  -p, --policy FILE|PRESET   policy file or preset (default: default)\n"
                "  -w, --workspace DIR        workspace, bound read-write (default: .)\n"
                "      --workspace-mode MODE  direct | readonly | overlay (copy-on-write: review\n"
                "                             with reins diff, land with reins apply)\n"
                "      --ro PATH              also bind PATH read-only (repeatable)\n"
                "      --rw PATH              also bind PATH read-write (repeatable)\n"
                "      --env NAME[=VALUE]     pass or set an environment variable\n"
                "      --memory SIZE          memory limit (e.g. 512MiB)\n"
                "      --pids N               process limit\n"
                "      --cpus N               cpu limit (e.g. 1.5)\n"
                "      --timeout DURATION     wall-clock limit (e.g. 30s, 10m)\n"
                "      --net none|proxy|host  network mode (host: no egress control, loud)\n"
                "      --allow-net HOST[:PORT] allow a destination through the proxy\n"
                "      --events FD|FILE       stream every event as JSON lines\n"
                "      --audit PATH           write the audit trail there (default: under\n"
                "                             $XDG_STATE_HOME/reins/trails)\n"
                "      --resume SESSION       continue in a copy-on-write session\n"
                "      --token FILE           run with a delegation token's rights\n"
                "                             (policy ∩ token; the token is bound to\n"
                "                             this session)\n"
                "      --parallel N           N copy-on-write runs at once; prints their ids\n"
                "      --strict               refuse rather than fall back to rlimits\n"
                "      --allow-degraded       run even if a protection is unavailable\n"
                "  -q, --quiet                no notes on stderr\n"
                "  -v, --verbose              print the sandbox plan on stderr\n"
                "\n"
                "Exit status: the command's; 128+N on signal N; 124 timeout;\n"
                "125 reins failed; 126 not executable; 127 not found.\n");
}

static int run_push(struct reins_strv *v, const char *value)
{
        if (strv_push(v, value) < 0) {
                fprintf(stderr, "reins: out of memory\n");
                return -1;
        }
        return 0;
}

/* 0 on success, else the exit status to return. */
static int run_parse(int argc, char **argv, struct run_args *args)
{
        static const struct option options[] = {
            {"policy", required_argument, NULL, 'p'},
            {"workspace", required_argument, NULL, 'w'},
            {"workspace-mode", required_argument, NULL, OPT_WORKSPACE_MODE},
            {"ro", required_argument, NULL, OPT_RO},
            {"rw", required_argument, NULL, OPT_RW},
            {"env", required_argument, NULL, OPT_ENV},
            {"memory", required_argument, NULL, OPT_MEMORY},
            {"pids", required_argument, NULL, OPT_PIDS},
            {"cpus", required_argument, NULL, OPT_CPUS},
            {"timeout", required_argument, NULL, OPT_TIMEOUT},
            {"strict", no_argument, NULL, OPT_STRICT},
            {"allow-degraded", no_argument, NULL, OPT_ALLOW_DEGRADED},
            {"net", required_argument, NULL, OPT_NET},
            {"allow-net", required_argument, NULL, OPT_ALLOW_NET},
            {"resume", required_argument, NULL, OPT_RESUME},
            {"events", required_argument, NULL, OPT_EVENTS},
            {"audit", required_argument, NULL, OPT_AUDIT},
            {"token", required_argument, NULL, OPT_TOKEN},
            {"parallel", required_argument, NULL, OPT_PARALLEL},
            {"quiet", no_argument, NULL, 'q'},
            {"verbose", no_argument, NULL, 'v'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        args->policy = "default";
        opterr = 0;
        int c;
        /* '+': stop at the first non-option, so the command's own options
         * are never taken for ours (CVE-2024-32462 class) */
        while ((c = getopt_long(argc, argv, "+:p:w:qvh", options, NULL)) != -1) {
                switch (c) {
                case 'p':
                        args->policy = optarg;
                        break;
                case 'w':
                        args->plan.workspace = optarg;
                        break;
                case OPT_WORKSPACE_MODE:
                        args->plan.workspace_mode = optarg;
                        break;
                case OPT_RO:
                        if (run_push(&args->plan.extra_ro, optarg) < 0)
                                return EXIT_REINS_FAILED;
                        break;
                case OPT_RW:
                        if (run_push(&args->plan.extra_rw, optarg) < 0)
                                return EXIT_REINS_FAILED;
                        break;
                case OPT_ENV:
                        if (run_push(&args->plan.extra_env, optarg) < 0)
                                return EXIT_REINS_FAILED;
                        break;
                case OPT_MEMORY:
                        args->plan.memory = optarg;
                        break;
                case OPT_PIDS:
                        args->plan.pids = optarg;
                        break;
                case OPT_CPUS:
                        args->plan.cpus = optarg;
                        break;
                case OPT_TIMEOUT:
                        args->plan.timeout = optarg;
                        break;
                case OPT_STRICT:
                        args->plan.strict = true;
                        break;
                case OPT_ALLOW_DEGRADED:
                        args->plan.allow_degraded = true;
                        break;
                case OPT_NET:
                        args->plan.net = optarg;
                        break;
                case OPT_AUDIT:
                        args->audit_path = optarg;
                        break;
                case OPT_EVENTS:
                        args->events_to = optarg;
                        break;
                case OPT_TOKEN:
                        args->token_file = optarg;
                        break;
                case OPT_RESUME:
                        args->resume = optarg;
                        args->plan.workspace_mode = "overlay";
                        break;
                case OPT_PARALLEL: {
                        char *end = NULL;
                        unsigned long n = strtoul(optarg, &end, 10);
                        if (!end || *end || n < 1 || n > 256) {
                                fprintf(stderr,
                                        "reins: run: --parallel '%s': a count from 1 to "
                                        "256\n",
                                        optarg);
                                return EXIT_REINS_FAILED;
                        }
                        args->parallel = (unsigned)n;
                        args->plan.workspace_mode = "overlay";
                        break;
                }
                case OPT_ALLOW_NET:
                        if (run_push(&args->plan.allow_net, optarg) < 0)
                                return EXIT_REINS_FAILED;
                        break;
                case 'q':
                        args->quiet = true;
                        args->plan.verbosity = -1;
                        break;
                case 'v':
                        args->plan.verbosity++;
                        break;
                case 'h':
                        run_usage(stdout);
                        return -1;
                case ':':
                        fprintf(stderr, "reins: run: option '%s' needs a value\n",
                                argv[optind - 1]);
                        return EXIT_REINS_FAILED;
                default:
                        fprintf(stderr,
                                "reins: run: unknown option '%s' (see 'reins run --help')\n",
                                argv[optind - 1]);
                        return EXIT_REINS_FAILED;
                }
        }
        if (optind >= argc) {
                fprintf(stderr, "reins: run: no command given (reins run [OPTIONS] -- COMMAND)\n");
                return EXIT_REINS_FAILED;
        }
        args->plan.argv = argv + optind;
        return 0;
}

/* fds 0-2 must exist, or our own pipes would land there and the command
 * would write into them. */
static void run_ensure_std_fds(void)
{
        for (int fd = 0; fd < 3; fd++)
                if (fcntl(fd, F_GETFD) < 0) {
                        int null = open("/dev/null", O_RDWR);
                        if (null >= 0 && null != fd) {
                                dup2(null, fd);
                                close(null);
                        }
                }
}

static void run_prepare_terminal(struct spawn_inputs *in)
{
        for (int fd = 0; fd < 3; fd++)
                if (isatty(fd))
                        in->tty_fds |= 1 << fd;
        in->use_pty = isatty(STDIN_FILENO) && !weaken("pty");
        if (in->use_pty) {
                tcgetattr(STDIN_FILENO, &in->termios);
                ioctl(STDIN_FILENO, TIOCGWINSZ, &in->winsize);
        }
}

/* Landlock is required: refuse without it unless --allow-degraded. */
static int run_check_landlock(const struct reins_plan *plan, int *abi)
{
        *abi = weaken("landlock") ? 0 : landlock_abi_version();
        if (*abi > 0 || weaken("landlock"))
                return 0;
        if (!plan->allow_degraded) {
                fprintf(stderr, "reins: Landlock is not available on this kernel (needs Linux "
                                "5.13+ with landlock in the lsm= boot list); refusing to start "
                                "without it, or pass --allow-degraded\n");
                return -1;
        }
        fprintf(stderr, "reins: warning: running WITHOUT Landlock (--allow-degraded)\n");
        return 0;
}

/* The risk engine's freezer cgroup, where one can be had: without it a
 * freeze is SIGSTOP (freeze.h), which the policy does not forbid. */
static void run_setup_freezer(const struct reins_plan *plan, struct cgroup_handle *cgroup)
{
        if (plan->cgroup.freezer)
                cgroup_add_freezer(cgroup);
}

static int run_setup_cgroup(const struct reins_plan *plan, struct cgroup_handle *cgroup,
                            int *fallback, bool quiet)
{
        struct reins_error err = {0};
        *fallback = 0;
        int r = cgroup_create(&plan->cgroup, cgroup, &err);
        if (r == 0) {
                run_setup_freezer(plan, cgroup);
                return 0;
        }
        if (plan->strict) {
                fprintf(stderr,
                        "reins: --strict: cgroup limits unavailable (%s); run as root "
                        "or in a delegated cgroup v2 subtree\n",
                        err.message);
                return -1;
        }
        *fallback = 1;
        if (!quiet)
                fprintf(stderr,
                        "reins: note: cgroup limits unavailable (%s); memory, pids and cpus "
                        "are limited with rlimits and cpu affinity instead (--strict refuses)\n",
                        err.message);
        run_setup_freezer(plan, cgroup);
        return 0;
}

static uint64_t run_elapsed_ms(struct timespec since)
{
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (uint64_t)((now.tv_sec - since.tv_sec) * 1000 +
                          (now.tv_nsec - since.tv_nsec) / 1000000);
}

/* Resolved once, kept for the trail and session.start. */
static void run_prepare_own_dirs(struct run_args *args)
{
        struct reins_error ignored = {0};
        args->trail_dir = audit_trail_dir(&ignored); /* state: trails, workspace copies */
        if (audit_user_public_key_hex(args->user_key, &ignored) < 0) /* config: the key */
                args->user_key[0] = '\0';
}

/* `canaries: true`: fake credentials next to the trails (reins' private
 * state, hidden from the sandbox), bound at their home paths by the plan. */
static int run_plant_canaries(struct run_args *args, const struct reins_policy *policy,
                              struct reins_error *err)
{
        bool engine_off = strcmp(policy->risk.engine, "off") == 0;
        if (engine_off &&
            (strcmp(policy->canaries, "true") == 0 || policy->filesystem.secrets.count > 0))
                return reins_error_set(err, EINVAL,
                                       "%s: canaries and filesystem.secrets are watched by the "
                                       "risk engine, which risk.engine: off turns off",
                                       policy->source);
        if (strcmp(policy->canaries, "true") != 0)
                return 0;
        if (!args->trail_dir)
                return reins_error_set(err, ENOENT,
                                       "canaries: no private state directory to keep them in");
        int r = canary_plant(args->trail_dir, &args->canaries, err);
        if (r < 0)
                return r;
        args->plan.canaries.sources = args->canaries.sources;
        args->plan.canaries.targets = args->canaries.targets;
        args->plan.canaries.count = CANARY_FILES;
        return 0;
}

/* The audit trail is not optional: if it cannot be written, nothing runs. */
static int run_open_trail(struct run_args *args)
{
        struct reins_error err = {0};
        char *path = NULL;
        if (args->audit_path) {
                path = strdup(args->audit_path);
        } else {
                /* prepared before the plan; asked again only to name the error */
                char *dir = args->trail_dir ? NULL : audit_trail_dir(&err);
                const char *base = args->trail_dir ? args->trail_dir : dir;
                if (base && asprintf(&path, "%s/%s.jsonl", base, args->session) < 0)
                        path = NULL;
                free(dir);
        }
        if (!path || audit_trail_open(path, &args->trail, &err) < 0) {
                fprintf(stderr, "reins: cannot write the audit trail%s%s: %s (use --audit PATH)\n",
                        path ? " " : "", path ? path : "",
                        err.message[0] ? err.message : "out of memory");
                free(path);
                return -1;
        }
        free(path);
        clock_gettime(CLOCK_MONOTONIC, &args->last_flush);
        return event_bus_add_sink(&args->events, audit_trail_sink, args->trail);
}

/* Write the trail's batch at least every 100 ms (kill -9 loses at most that). */
static void run_audit_tick(void *ctx)
{
        struct run_args *args = ctx;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed_ms = (now.tv_sec - args->last_flush.tv_sec) * 1000 +
                          (now.tv_nsec - args->last_flush.tv_nsec) / 1000000;
        if (elapsed_ms >= 100) {
                audit_trail_flush(args->trail);
                args->last_flush = now;
        }
        run_govern_tick(&args->govern);
        run_risk_tick(&args->risk);
}

static void run_close_trail(struct run_args *args)
{
        struct reins_error err = {0};
        if (args->trail && audit_trail_close(args->trail, &err) < 0)
                fprintf(stderr, "reins: closing the audit trail: %s\n", err.message);
        args->trail = NULL;
}

/* The session id and where events go (-v: stderr). */
static int run_open_events(struct run_args *args)
{
        if (!args->session[0] && run_new_session_id(args->session) < 0) {
                fprintf(stderr, "reins: cannot draw a session id\n");
                return -1;
        }
        event_bus_init(&args->events, args->session);
        if (args->plan.verbosity > 0)
                event_bus_add_sink(&args->events, event_sink_stderr, NULL);
        if (args->events_to) {
                args->event_stream = run_open_event_stream(args->events_to);
                if (!args->event_stream)
                        return -1;
                event_bus_add_sink(&args->events, run_event_sink_stream, args->event_stream);
        }
        /* the trail opens once the sandbox is building its root (in parallel);
         * what happens before is queued for it */
        event_bus_hold(&args->events);
        return 0;
}

/* Direct mode only: an overlay session's changes are its upper layer, and a
 * read-only workspace cannot change. The caps are in audit/changes.h. */
static struct changes_snapshot *run_snapshot_workspace(const struct reins_plan *plan)
{
        if (plan->overlay || plan->workspace_readonly)
                return NULL;
        return changes_take(plan->workspace, CHANGES_MAX_ENTRIES);
}

static void run_emit_changes(struct event_bus *events, const struct reins_plan *plan,
                             struct changes_snapshot *before)
{
        if (plan->overlay || plan->workspace_readonly)
                return;
        struct changes_snapshot *after =
            before ? changes_take(plan->workspace, CHANGES_MAX_ENTRIES) : NULL;
        json_t *record = before && after ? changes_compare(before, after, CHANGES_MAX_LISTED)
                                         : json_pack("{s:s}", "untracked",
                                                     "the workspace holds more than 200000 "
                                                     "entries");
        changes_free(before);
        changes_free(after);
        /* past a cap the session still ends normally: a "limit" event says
         * what was cut, before the (bounded) record itself */
        json_t *limit = record ? changes_limit_fields(record) : NULL;
        if (limit)
                event_emit(events, "limit", limit);
        event_emit(events, "files.changed", record);
}

static int run_sandbox(struct run_args *args, const struct reins_plan *plan)
{
        struct reins_error err = {0};
        struct seccomp_program seccomp = {0};
        struct cgroup_handle cgroup = {0};
        struct spawn_inputs in = {.plan = plan, .seccomp = &seccomp};
        struct spawn_result sandbox = {0};
        struct supervise_outcome outcome = {0};
        int status = EXIT_REINS_FAILED;
        struct timespec started;
        clock_gettime(CLOCK_MONOTONIC, &started);

        if (seccomp_program_build(&plan->syscall_allow, &plan->syscall_deny, &seccomp, &err) < 0) {
                fprintf(stderr, "reins: %s\n", err.message);
                return EXIT_REINS_FAILED;
        }
        if (run_check_landlock(plan, &in.landlock_abi) < 0)
                goto out;
        run_prepare_terminal(&in);
        supervise_block_signals();
        if (spawn_sandbox(&in, &sandbox, &err) < 0) {
                fprintf(stderr, "reins: %s\n", err.message);
                goto out;
        }
        /* while the sandbox builds its root */
        if (run_setup_cgroup(plan, &cgroup, &in.rlimit_fallback, args->quiet) < 0) {
                spawn_kill(&sandbox);
                goto out;
        }
        in.cgroup = cgroup.count > 0 ? &cgroup : NULL;
        run_risk_set_sandbox(&args->risk, sandbox.pid, &cgroup);
        if (plan->verbosity > 0)
                run_report_plan(stderr, plan, &in);
        /* no trail, no run: the command has not started yet */
        if (run_open_trail(args) < 0) {
                spawn_kill(&sandbox);
                goto out;
        }
        event_bus_release(&args->events);
        run_emit_session_start(&args->events, plan, &in, args->policy,
                               args->user_key[0] ? args->user_key : NULL,
                               run_govern_identity(&args->govern));
        json_t *info =
            json_pack("{s:s, s:s, s:o, s:o}", "agent", plan->agent ? plan->agent : "", "policy",
                      plan->policy_name, "command", json_text_array(plan->argv), "workspace",
                      json_text_z(plan->workspace));
        if (info && run_govern_control_path(&args->govern))
                json_object_set_new(info, "control",
                                    json_string(run_govern_control_path(&args->govern)));
        struct reins_error reg_err = {0};
        if (runtime_register(args->session, getpid(), info, &reg_err) < 0 && !args->quiet)
                fprintf(stderr, "reins: note: session not listed by 'reins ps': %s\n",
                        reg_err.message);
        json_decref(info);
        /* the workspace as it was, to report what the session changed */
        struct changes_snapshot *before = run_snapshot_workspace(plan);
        /* everything is recorded: let the command start */
        /* EPIPE: the sandbox already failed; the loop below reads why */
        if (spawn_send_limits(&sandbox, in.cgroup, in.rlimit_fallback, &err) < 0 &&
            err.code != EPIPE) {
                fprintf(stderr, "reins: %s\n", err.message);
                spawn_kill(&sandbox);
                goto out;
        }
        /* a resumed copy is "running" again: recorded while the command
         * starts, off the start-up path (one atomic rewrite of meta.json) */
        if (plan->overlay)
                run_workspace_running(&args->workspace, plan->limits.workspace_size_bytes);
        struct supervise_config config = {
            .plan = plan, .events = &args->events, .tick = run_audit_tick, .tick_ctx = args};
        run_govern_configure(&args->govern, &config);
        run_risk_configure(&args->risk, &config);
        if (plan->overlay && plan->limits.workspace_size_bytes > 0)
                config.workspace_copy = &args->workspace_copy;
        if (supervise(&sandbox, &config, &outcome, &err) < 0)
                fprintf(stderr, "reins: %s\n", err.message);
        /* the capped copy lived in memory: it goes to the session directory
         * before the session ends (the sandbox is gone, the copy is still) */
        if (args->workspace_copy >= 0) {
                run_workspace_store(&args->workspace, args->workspace_copy, &args->events);
                close(args->workspace_copy);
                args->workspace_copy = -1;
        }
        run_risk_tick(&args->risk); /* the last findings, before session.end */
        run_emit_changes(&args->events, plan, before);
        run_emit_session_end(&args->events, plan, &outcome, &cgroup, run_elapsed_ms(started));
        runtime_unregister(args->session);
        status = run_report_outcome(stderr, plan, &outcome, &cgroup, args->quiet);
        close(sandbox.pidfd);
        close(sandbox.status_fd);
out:
        run_risk_set_sandbox(&args->risk, 0, NULL); /* gone, and its cgroups go next */
        cgroup_destroy(&cgroup);
        seccomp_program_free(&seccomp);
        return status;
}

int cli_run(int argc, char **argv)
{
        struct run_args args = {.workspace_copy = -1};
        struct reins_error err = {0};
        struct reins_policy *policy = NULL;
        struct reins_plan *plan = NULL;
        int status = EXIT_REINS_FAILED;

        run_ensure_std_fds();
        int r = run_parse(argc, argv, &args);
        if (r != 0) {
                status = r < 0 ? 0 : r;
                goto out;
        }
        if (args.parallel > 1) {
                int is_child = 0;
                status = run_parallel(args.parallel, args.session, &is_child);
                if (!is_child)
                        goto out;
        }
        args.plan.host_environ = environ;
        args.plan.home = getenv("HOME");
        args.plan.stdin_is_tty = isatty(STDIN_FILENO);
        /* reins' own directories exist before the plan hides them from
         * the sandbox (a workspace may contain the home directory) */
        run_prepare_own_dirs(&args);
        if (run_govern_load_token(&args.govern, args.token_file, args.user_key, &err) < 0) {
                fprintf(stderr, "reins: %s\n", err.message);
                goto out;
        }
        args.plan.write_limit = run_govern_write_limit(&args.govern);
        if (policy_load(args.policy, &policy, &err) < 0 ||
            policy_check_supported(policy, &err) < 0 ||
            run_plant_canaries(&args, policy, &err) < 0 ||
            plan_build(policy, &args.plan, &plan, &err) < 0) {
                fprintf(stderr, "reins: %s\n", err.message);
                goto out;
        }
        if (!args.quiet)
                run_report_tracked_hidden(stderr, plan);
        if (plan->host_network && !args.quiet)
                fprintf(stderr, "reins: warning: --net host: the sandbox shares the host's "
                                "network; there is no egress control\n");
        if (run_open_events(&args) < 0)
                goto out;
        struct run_govern_options govern = {
            .policy = policy,
            .plan = plan,
            .session = args.session,
            .resume = args.resume,
            .quiet = args.quiet,
            .events = &args.events,
        };
        if (run_govern_start(&args.govern, &govern, &err) < 0 ||
            (strcmp(policy->risk.engine, "off") != 0 &&
             (run_risk_start(&args.risk, policy, plan, &args.events, &args.govern, &args.trail,
                             args.quiet, &err) < 0 ||
              run_risk_watch_canaries(&args.risk, &args.canaries, &err) < 0))) {
                fprintf(stderr, "reins: %s\n", err.message);
                goto out;
        }
        if (plan->overlay && run_workspace_start(plan, policy, args.session, args.resume,
                                                 &args.workspace, &args.events, &err) < 0) {
                fprintf(stderr, "reins: %s\n", err.message);
                goto out;
        }
        if (plan->overlay) {
                args.risk.workspace = &args.workspace;
                args.risk.workspace_copy = &args.workspace_copy;
        }
        status = run_sandbox(&args, plan);
        if (plan->overlay)
                run_workspace_finish(&args.workspace, status, &args.events);
out:
        plan_free(plan);
        policy_free(policy);
        strv_free(&args.plan.extra_ro);
        strv_free(&args.plan.extra_rw);
        strv_free(&args.plan.extra_env);
        strv_free(&args.plan.allow_net);
        event_bus_release(&args.events); /* whatever is still queued, to the sinks there are */
        run_close_trail(&args);
        event_bus_fini(&args.events);
        run_govern_finish(&args.govern); /* its control socket was a sink until here */
        run_risk_finish(&args.risk);     /* and so was the engine */
        canary_remove(&args.canaries);
        free(args.trail_dir);
        if (args.event_stream)
                fclose(args.event_stream);
        return status;
}

/* reins run: parse the command line, load the policy, build the plan, check
 * that the kernel can give every protection asked for, spawn, supervise. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/notice.h"
#include "cli/run_notices.h"
#include "cli/run_parallel.h"
#include "cli/run_pool.h"
#include "cli/run_report.h"
#include "audit/dirs.h"
#include "policy/policy.h"
#include "sandbox/plan.h"
#include "session/events.h"
#include "session/pool_guard.h"
#include "session/session.h"
#include "util/notice.h"
#include "util/path.h"
#include "util/strv.h"
#include "wasm/run.h"

extern char **environ;

struct run_args {
        const char *policy;
        char session[25];
        const char *resume;     /* --resume SESSION (overlay) */
        const char *events_to;  /* --events FD|FILE */
        const char *audit_path; /* --audit PATH; default: the user's trail directory */
        FILE *event_stream;
        struct run_notices notices; /* what was refused, said on the terminal */
        unsigned parallel;          /* --parallel N (overlay) */
        const char *token_file;     /* --token FILE */
        const char *daemon_key;     /* --daemon-key HEX (reins serve) */
        const char *expect_agent;   /* --expect-agent NAME (reins serve) */
        struct plan_options plan;
        bool quiet;
        struct reins_strv anchors; /* --anchor SPEC */
        int pool_fd;               /* --pool-fd FD (reins serve's warm pool); -1: none */
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
        OPT_ANCHOR,
        OPT_SESSION_ID,
        OPT_POOL_FD,
        OPT_DAEMON_KEY,
        OPT_EXPECT_AGENT,
        OPT_DAEMON_STATE,
        OPT_ISOLATION,
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
                "      --isolation KIND       container (default) | vm: the same sandbox\n"
                "                             inside a QEMU microvm with its own kernel\n"
                "      --allow-net HOST[:PORT] allow a destination through the proxy\n"
                "      --events FD|FILE       stream every event as JSON lines\n"
                "      --audit PATH           write the audit trail there (default: under\n"
                "                             $XDG_STATE_HOME/reins/trails)\n"
                "      --anchor FILE|URL      also send the session certificate and every\n"
                "                             checkpoint there as they are made: a FILE\n"
                "                             (appended), syslog:unix:PATH,\n"
                "                             syslog:udp:HOST:PORT or http://HOST:PORT/PATH\n"
                "                             (repeatable; see 'reins audit verify --anchor')\n"
                "      --resume SESSION       continue in a copy-on-write session\n"
                "      --token FILE           run with a delegation token's rights\n"
                "                             (policy ∩ token; the token is bound to\n"
                "                             this session)\n"
                "      --parallel N           N copy-on-write runs at once: \"[K] SESSION\" for\n"
                "                             each, their output lines labelled \"[K] \"; exit\n"
                "                             0 when all exit 0, else the first failure's\n"
                "      --strict               refuse rather than fall back to rlimits\n"
                "      --allow-degraded       run even if a protection is unavailable\n"
                "  -q, --quiet                no notes on stderr\n"
                "  -v, --verbose              print the sandbox plan on stderr\n"
                "\n"
                "Exit status: the command's; 128+N on signal N; 123 the audit trail\n"
                "could not be written (the sandbox was frozen and ended); 124 timeout;\n"
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

/* The form of an id session_new_id draws: 24 lower-case hex digits. */
static bool run_valid_session_id(const char *id)
{
        size_t n = strspn(id, "0123456789abcdef");
        return n == 24 && id[n] == '\0';
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
            {"isolation", required_argument, NULL, OPT_ISOLATION},
            {"allow-net", required_argument, NULL, OPT_ALLOW_NET},
            {"resume", required_argument, NULL, OPT_RESUME},
            {"events", required_argument, NULL, OPT_EVENTS},
            {"audit", required_argument, NULL, OPT_AUDIT},
            {"token", required_argument, NULL, OPT_TOKEN},
            {"anchor", required_argument, NULL, OPT_ANCHOR},
            {"parallel", required_argument, NULL, OPT_PARALLEL},
            /* internal, for `reins serve`: the id it drew and answered with */
            {"session-id", required_argument, NULL, OPT_SESSION_ID},
            /* internal, for `reins serve`: be a warm pool's member (cli/run_pool.h) */
            {"pool-fd", required_argument, NULL, OPT_POOL_FD},
            /* internal, for `reins serve`: the daemon's public key, whose
             * signature the session takes on answers and thaws as well as
             * its user's, and the policy's agent the daemon checked */
            {"daemon-key", required_argument, NULL, OPT_DAEMON_KEY},
            {"expect-agent", required_argument, NULL, OPT_EXPECT_AGENT},
            /* and its state directory (its key), hidden from the sandbox */
            {"daemon-state", required_argument, NULL, OPT_DAEMON_STATE},
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
                case OPT_ISOLATION:
                        args->plan.isolation = optarg;
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
                case OPT_ANCHOR:
                        if (run_push(&args->anchors, optarg) < 0)
                                return EXIT_REINS_FAILED;
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
                case OPT_SESSION_ID:
                        if (!run_valid_session_id(optarg)) {
                                fprintf(stderr, "reins: run: --session-id: expected 24 "
                                                "lower-case hex digits\n");
                                return EXIT_REINS_FAILED;
                        }
                        snprintf(args->session, sizeof(args->session), "%s", optarg);
                        break;
                case OPT_POOL_FD: {
                        char *end = NULL;
                        long fd = strtol(optarg, &end, 10);
                        if (!end || *end || fd < 3 || fd > 1024 || fcntl((int)fd, F_GETFD) < 0) {
                                fprintf(stderr, "reins: run: --pool-fd: not an open descriptor\n");
                                return EXIT_REINS_FAILED;
                        }
                        args->pool_fd = (int)fd;
                        fcntl((int)fd, F_SETFD, FD_CLOEXEC);
                        break;
                }
                case OPT_DAEMON_KEY:
                        if (strlen(optarg) != 64 || strspn(optarg, "0123456789abcdef") != 64) {
                                fprintf(stderr, "reins: run: --daemon-key: expected 64 "
                                                "lower-case hex digits (a public key)\n");
                                return EXIT_REINS_FAILED;
                        }
                        args->daemon_key = optarg;
                        break;
                case OPT_EXPECT_AGENT:
                        args->expect_agent = optarg;
                        break;
                case OPT_DAEMON_STATE:
                        if (optarg[0] != '/') {
                                fprintf(stderr, "reins: run: --daemon-state: expected an "
                                                "absolute path\n");
                                return EXIT_REINS_FAILED;
                        }
                        if (run_push(&args->plan.hide, optarg) < 0)
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

/* --events FD|FILE: a live stream of the events as JSON lines. */
static FILE *run_open_event_stream(const char *where)
{
        char *end = NULL;
        long fd = strtol(where, &end, 10);
        FILE *stream = NULL;
        if (end && *end == '\0' && fd >= 0 && fd <= 1024) {
                int copy = fcntl((int)fd, F_DUPFD_CLOEXEC, 3);
                stream = copy < 0 ? NULL : fdopen(copy, "w");
        } else {
                int file =
                    open(where, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
                stream = file < 0 ? NULL : fdopen(file, "a");
        }
        if (!stream)
                notice("--events %s: %s", where, strerror(errno));
        return stream;
}

/* Where events go besides the trail: the terminal (-v: every event, in
 * words; else what was refused) and --events. */
static int run_add_sinks(struct run_args *args, struct event_bus *events)
{
        if (args->plan.verbosity > 0)
                event_bus_add_sink(events, run_notices_verbose_sink, NULL);
        else if (!args->quiet)
                event_bus_add_sink(events, run_notices_sink, &args->notices);
        if (args->events_to) {
                args->event_stream = run_open_event_stream(args->events_to);
                if (!args->event_stream)
                        return -1;
                event_bus_add_sink(events, session_event_sink_stream, args->event_stream);
        }
        return 0;
}

/* A directory of reins' private state, hidden from every sandbox, made when
 * missing: where the deny globs' matches (sandbox/deny_cache.h) and the
 * change record's snapshot (audit/changes.h) are cached between runs, and
 * where spare empty directories wait to serve as placeholders
 * (plan_protect.c). NULL when there is no such directory, or `off_variable`
 * (REINS_DENY_CACHE, REINS_CHANGES_CACHE) is "off": the plan then does
 * without (the tree is walked). */
static char *run_private_dir(const char *name, const char *off_variable)
{
        const char *off = off_variable ? getenv(off_variable) : NULL;
        if (off && strcmp(off, "off") == 0)
                return NULL;
        char *state = NULL;
        if (audit_state_dir(&state, NULL) < 0)
                return NULL;
        char *dir = path_join(state, name);
        free(state);
        if (dir && audit_dir_check(dir, true, AUDIT_DIR_PRIVATE, NULL) < 0) {
                free(dir);
                dir = NULL;
        }
        return dir;
}

/* The cache of compiled modules: REINS_WASM_CACHE when set (tests share
 * one between runs; it must be a private directory of the caller's, as
 * what is in it runs), else reins' state directory's. */
static char *run_wasm_cache_dir(void)
{
        const char *dir = getenv("REINS_WASM_CACHE");
        if (!dir || !dir[0])
                return run_private_dir("wasm-cache", NULL);
        if (audit_dir_check(dir, false, AUDIT_DIR_PRIVATE, NULL) < 0) {
                notice("REINS_WASM_CACHE=%s: not a private directory of yours: ignored", dir);
                return run_private_dir("wasm-cache", NULL);
        }
        return strdup(dir);
}

/* Once the sandbox is forked (the deny globs' matches are in the plan by
 * then: they are collected while the session starts): what is hidden but
 * tracked by git, a toolchain the sandbox cannot see; -v: the plan. */
static void run_on_spawned(void *ctx, const struct reins_plan *plan, const struct spawn_inputs *in)
{
        const struct run_args *args = ctx;
        if (!args->quiet) {
                run_report_tracked_hidden(plan);
                run_report_toolchain(plan);
        }
        if (plan->verbosity > 0)
                run_report_plan(stderr, plan, in);
}

/* What the user reads before the command starts. */
static void run_report_start(const struct run_args *args, const struct reins_plan *plan)
{
        if (!args->quiet)
                run_report_missing_paths(plan);
        if (plan->host_network && !args->quiet)
                notice("warning: --net host: the sandbox shares the host's network; there is "
                       "no egress control");
}

int cli_run(int argc, char **argv)
{
        struct run_args args = {.pool_fd = -1};
        struct reins_strv pool_argv = {0}; /* a pool member's command, once taken */
        struct reins_error err = {0};
        struct session *session = NULL;
        char *deny_cache_dir = NULL, *changes_cache_dir = NULL, *spare_dir = NULL;
        char *wasm_cache_dir = NULL, *wasm_events_dir = NULL;
        int status = EXIT_REINS_FAILED;

        run_ensure_std_fds();
        cli_notice_install(); /* notices while the terminal is raw (cli/notice.h) */
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
        deny_cache_dir = run_private_dir("deny-cache", "REINS_DENY_CACHE");
        changes_cache_dir = run_private_dir("changes-cache", "REINS_CHANGES_CACHE");
        args.plan.deny_cache_dir = deny_cache_dir;
        spare_dir = run_private_dir("spare-dirs", NULL);
        args.plan.spare_dir = spare_dir;
        /* `reins run -- tool.wasm ARGS`: a WASI module runs in its engine
         * (isolation wasm), whatever the policy's isolation says */
        bool wasm = args.plan.argv && wasm_command_is_module(args.plan.argv[0]);
        if (wasm) {
                wasm_cache_dir = run_wasm_cache_dir();
                wasm_events_dir = run_private_dir("wasm-events", NULL);
        }
        struct session_config config = {
            .policy = args.policy,
            .plan = args.plan,
            .resume = args.resume,
            .token_file = args.token_file,
            .daemon_key = args.daemon_key,
            .expect_agent = args.expect_agent,
            .audit_path = args.audit_path,
            .anchors = args.anchors.items,
            .anchor_count = args.anchors.count,
            .quiet = args.quiet,
            .changes_cache_dir = changes_cache_dir,
            .wasm = wasm,
            .wasm_cache_dir = wasm_cache_dir,
            .wasm_events_dir = wasm_events_dir,
            .on_spawned = run_on_spawned,
            .on_spawned_ctx = &args,
            .pool_member = args.pool_fd >= 0,
            /* a policy's environment not built yet is built first */
            .env_progress = {args.quiet ? NULL : cli_env_progress, NULL},
        };
        snprintf(config.id, sizeof(config.id), "%s", args.session);
        if (session_new(&config, &session, &err) < 0) {
                cli_error(&err);
                goto out;
        }
        const struct reins_plan *plan = session_plan(session);
        /* a pool member watches its workspace from here on: what the plan
         * read of it stays true until the member is taken, or it is not */
        struct pool_guard guard = {.fd = -1};
        if (args.pool_fd >= 0 && pool_guard_start(&guard, plan->workspace, &err) < 0) {
                cli_error(&err);
                goto out;
        }
        run_report_start(&args, plan);
        if (run_add_sinks(&args, session_events(session)) < 0)
                goto out;
        if (session_start(session, &err) < 0) {
                if (err.message[0])
                        cli_error(&err);
                status = session_close(session); /* 123 when the trail failed */
                goto out;
        }
        struct run_pool pool = {
            .session = session, .fd = args.pool_fd, .guard = &guard, .argv = &pool_argv};
        if (args.pool_fd >= 0 && run_pool_member(&pool) < 0) {
                notice("pool: cannot wait for a request");
                status = session_close(session);
                goto out;
        }
        /* the session may idle for hours beside a thousand others: the
         * memory start-up used and freed goes back to the system (about
         * 40 KiB of the supervisor's PSS, bench/density) */
        malloc_trim(0);
        struct supervise_outcome outcome;
        status = session_wait(session, &outcome);
        if (session_retired(session)) {
                status = 0; /* a pool member never taken: nothing ran */
                goto out;
        }
        int reported =
            run_report_outcome(stderr, plan, &outcome, session_cgroup(session), args.quiet);
        if (status != EXIT_TRAIL_FAILED)
                status = reported;
        run_notices_finish(&args.notices, session_id(session));
        if (session_close(session) == EXIT_TRAIL_FAILED)
                status = EXIT_TRAIL_FAILED;
out:
        session_free(session);
        free(deny_cache_dir); /* the plan borrowed them */
        free(spare_dir);
        free(changes_cache_dir); /* and the session this one */
        free(wasm_cache_dir);
        free(wasm_events_dir);
        strv_free(&args.plan.extra_ro);
        strv_free(&args.plan.extra_rw);
        strv_free(&args.plan.hide);
        strv_free(&args.plan.extra_env);
        strv_free(&args.plan.allow_net);
        strv_free(&args.anchors);
        strv_free(&pool_argv); /* the session borrowed it */
        if (args.event_stream)
                fclose(args.event_stream);
        return status;
}

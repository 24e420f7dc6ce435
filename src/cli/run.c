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
#include "cli/notice.h"
#include "session/events.h"
#include "session/govern.h"
#include "session/protect.h"
#include "session/risk.h"
#include "govern/canary.h"
#include "audit/dirs.h"
#include "cli/run_notices.h"
#include "cli/run_parallel.h"
#include "cli/run_report.h"
#include "session/workspace.h"
#include "audit/anchor.h"
#include "audit/changes.h"
#include "audit/runtime.h"
#include "audit/session_key.h"
#include "audit/trail.h"
#include "audit/trail_internal.h"
#include "util/json_text.h"
#include "util/path.h"
#include "policy/policy.h"
#include "sandbox/cgroup.h"
#include "sandbox/landlock.h"
#include "sandbox/plan.h"
#include "sandbox/seccomp.h"
#include "sandbox/self_seccomp.h"
#include "sandbox/spawn.h"
#include "sandbox/supervise.h"
#include "util/weaken.h"

extern char **environ;

struct run_args {
        const char *policy;
        struct event_bus events;
        char session[25];
        const char *resume;     /* --resume SESSION (overlay) */
        const char *events_to;  /* --events FD|FILE */
        const char *audit_path; /* --audit PATH; default: the user's trail directory */
        struct audit_trail *trail;
        char *trail_path;  /* where it is, for messages */
        bool trail_failed; /* it could not be written: frozen, ended, exit 123 */
        struct timespec last_flush;
        FILE *event_stream;
        struct run_notices notices; /* what was refused, said on the terminal */
        char *trail_dir;            /* resolved (and created) once, before the plan */
        char user_key[65];          /* the user's public key, hex; "" when unreadable */
        unsigned parallel;          /* --parallel N (overlay) */
        struct workspace_session workspace;
        int workspace_copy;     /* limits.workspace_size: the copy's tmpfs while it runs, else -1 */
        const char *token_file; /* --token FILE */
        struct session_govern govern;
        struct session_risk risk;
        struct canary_set canaries; /* planted when the policy asks */
        struct plan_options plan;
        struct session_protect protect; /* direct mode: .git's private layer, placeholders */
        bool quiet;
        struct reins_strv anchors;          /* --anchor SPEC */
        struct audit_anchor *anchor;        /* opened, when any */
        struct audit_session_signer signer; /* this session's certified key */
        bool certified;
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
            {"anchor", required_argument, NULL, OPT_ANCHOR},
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
                if (cgroup->tcp_uncounted && !quiet)
                        fprintf(stderr, "reins: note: this kernel has no "
                                        "memory.kmem.tcp.limit_in_bytes: kernel socket buffers "
                                        "are not counted in the memory limit\n");
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
                        "are limited with rlimits and cpu affinity instead, and kernel socket "
                        "buffers are not counted (--strict refuses)\n",
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

/* Where the deny globs' matches are cached between runs (sandbox/deny_cache.h):
 * reins' private state, hidden from every sandbox. NULL (every tree a glob
 * needs is walked) when there is no such directory or REINS_DENY_CACHE=off. */
static char *run_deny_cache_dir(void)
{
        const char *off = getenv("REINS_DENY_CACHE");
        if (off && strcmp(off, "off") == 0)
                return NULL;
        char *state = NULL;
        if (audit_state_dir(&state, NULL) < 0)
                return NULL;
        char *dir = path_join(state, "deny-cache");
        free(state);
        if (dir && audit_dir_check(dir, true, AUDIT_DIR_PRIVATE, NULL) < 0) {
                free(dir);
                dir = NULL;
        }
        return dir;
}

/* filesystem.cache: reins' own per-project directories exist (private to
 * the caller, never through a symlink) before the sandbox binds them. */
static int run_prepare_caches(const struct reins_plan *plan, struct reins_error *err)
{
        for (size_t i = 0; i < plan->mount_count; i++) {
                const struct mount_op *op = &plan->mounts[i];
                if (!op->create_source)
                        continue;
                int r = audit_mkdir_parents(op->source);
                if (r < 0)
                        return reins_error_errno(err, -r, "filesystem.cache: creating %s",
                                                 op->source);
                if ((r = audit_dir_check(op->source, true, AUDIT_DIR_PRIVATE, err)) < 0)
                        return r;
        }
        return 0;
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

/* Where the sandbox can write on the trail's filesystem, the agent can
 * fill the disk under the trail: say so once. The trail's reserve
 * (trail.h) is what still records the end then. */
static void run_warn_shared_filesystem(const struct run_args *args, const struct reins_plan *plan)
{
        if (args->quiet)
                return;
        for (size_t i = 0; i < plan->mount_count; i++) {
                const struct mount_op *op = &plan->mounts[i];
                const char *writable = op->kind == MOUNT_OP_BIND_RW ? op->source
                                       : op->kind == MOUNT_OP_OVERLAY && op->size_bytes == 0
                                           ? op->upper
                                           : NULL;
                if (!writable || !audit_trail_shares_filesystem(args->trail_path, writable))
                        continue;
                notice("warning: the audit trail %s is on the same filesystem as %s, which the "
                       "sandbox can write: should it fill up, the session is frozen and ended "
                       "(exit %d); %d KiB are reserved for the trail's last records",
                       args->trail_path, writable, EXIT_TRAIL_FAILED, AUDIT_TRAIL_RESERVE >> 10);
                return;
        }
}

/* The audit trail is not optional: if it cannot be written, nothing runs. */
static int run_open_trail(struct run_args *args, const struct reins_plan *plan)
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
        if (!path || audit_trail_open_with_key(path, &args->signer.key, &args->trail, &err) < 0) {
                /* the message names the trail or its directory once */
                notice("%s (use --audit PATH)", err.message[0] ? err.message : "out of memory");
                free(path);
                return -1;
        }
        args->trail_path = path;
        audit_trail_set_limits(args->trail, plan->limits.trail_size_bytes,
                               plan->limits.trail_rate_bytes);
        run_warn_shared_filesystem(args, plan);
        if (args->anchor)
                audit_trail_set_checkpoint_hook(args->trail, audit_anchor_checkpoint_hook,
                                                args->anchor);
        clock_gettime(CLOCK_MONOTONIC, &args->last_flush);
        return event_bus_add_sink(&args->events, audit_trail_sink, args->trail);
}

/* No record, no run: the trail could not be written (a full disk). While
 * the sandbox runs it is frozen first (T3's playbook, session_risk.h): only
 * then is the trail's reserve released, or the agent could take that space
 * too; the trail records why, and the sandbox is ended. Exit status 123. */
static void run_trail_check(struct run_args *args, const char *what_happens)
{
        const char *failure = audit_trail_failure(args->trail);
        if (!failure || args->trail_failed)
                return;
        char why[256];
        snprintf(why, sizeof(why), "%s", failure);
        args->trail_failed = true;
        if (strcmp(what_happens, "frozen and ended") == 0)
                session_risk_freeze_now(&args->risk, &args->events);
        audit_trail_use_reserve(args->trail);
        event_emit(&args->events, "limit",
                   json_pack("{s:s, s:s, s:s}", "kind", "trail_write", "error", why, "action",
                             what_happens));
        audit_trail_flush(args->trail);
        notice("the audit trail %s cannot be written (%s): %s (exit %d)",
               args->trail_path ? args->trail_path : "", why,
               strcmp(what_happens, "frozen and ended") == 0 ? "the sandbox was frozen and ended"
                                                             : what_happens,
               EXIT_TRAIL_FAILED);
        if (strcmp(what_happens, "frozen and ended") == 0)
                session_risk_end_now(&args->risk);
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
        run_trail_check(args, "frozen and ended");
        session_govern_tick(&args->govern);
        session_risk_tick(&args->risk);
}

static void run_close_trail(struct run_args *args)
{
        struct reins_error err = {0};
        /* the last records (session.end) found the disk full: the sandbox
         * is gone, the reserve takes them */
        if (args->trail && audit_trail_flush(args->trail) < 0)
                run_trail_check(args, "the session had ended");
        if (args->trail && audit_trail_close(args->trail, &err) < 0)
                notice("closing the audit trail: %s", err.message);
        args->trail = NULL;
        free(args->trail_path);
        args->trail_path = NULL;
        const char *why = NULL;
        uint64_t lost = audit_anchor_failures(args->anchor, &why);
        if (lost)
                notice("warning: %llu anchor entr%s not delivered (first: %s)",
                       (unsigned long long)lost, lost == 1 ? "y" : "ies", why);
}

/* Session certificates outlive the session's wall-clock limit by an hour;
 * a session without one gets a year. */
#define RUN_CERT_MARGIN_S  3600ULL
#define RUN_CERT_DEFAULT_S (366ULL * 24 * 3600)

/* Before the first byte the sandbox controls is parsed (the control and
 * agent sockets, the proxy, a resumed workspace): certify a session key
 * with the user's key and drop the user's key for good. From here on a bug
 * in the parsers can at worst yield the session key, which signs this
 * session's checkpoints and nothing else. Then the anchors: a session
 * asked to anchor its trail does not start when no anchor takes the
 * certificate. */
static int run_certify_session(struct run_args *args, const struct reins_policy *policy,
                               const struct reins_plan *plan, struct reins_error *err)
{
        uint64_t validity = plan->limits.wall_time_ms
                                ? plan->limits.wall_time_ms / 1000 + RUN_CERT_MARGIN_S
                                : RUN_CERT_DEFAULT_S;
        int r = audit_session_signer_new(args->session, plan->policy_sha256, "run", validity,
                                         &args->signer, err);
        if (r < 0)
                return reins_error_prefix(err, "certifying the session key"), r;
        args->certified = true;
        /* the policy's anchors (audit.anchor), then --anchor's */
        for (size_t i = 0; i < policy->audit.anchor.count; i++)
                if ((r = audit_anchor_add(&args->anchor, policy->audit.anchor.items[i], err)) < 0)
                        return r;
        for (size_t i = 0; i < args->anchors.count; i++)
                if ((r = audit_anchor_add(&args->anchor, args->anchors.items[i], err)) < 0)
                        return r;
        if (args->anchor) {
                json_t *entry = audit_anchor_cert_entry(&args->signer.cert);
                r = entry ? audit_anchor_send(args->anchor, entry, err)
                          : reins_error_set(err, ENOMEM, "out of memory");
                json_decref(entry);
                if (r < 0)
                        return reins_error_prefix(err, "refusing to start unanchored"), r;
        }
        return 0;
}

/* session.start's identity members, with the session certificate. */
static json_t *run_session_identity(struct run_args *args)
{
        json_t *identity = session_govern_identity(&args->govern);
        if (!identity)
                identity = json_object();
        if (identity && args->certified)
                json_object_set_new(identity, AUDIT_CERT_FIELD,
                                    audit_session_cert_to_json(&args->signer.cert));
        return identity;
}

/* The session id and where events go (-v: stderr). */
static int run_open_events(struct run_args *args)
{
        if (!args->session[0] && session_new_id(args->session) < 0) {
                fprintf(stderr, "reins: cannot draw a session id\n");
                return -1;
        }
        event_bus_init(&args->events, args->session);
        if (args->plan.verbosity > 0)
                event_bus_add_sink(&args->events, run_notices_verbose_sink, NULL);
        else if (!args->quiet)
                event_bus_add_sink(&args->events, run_notices_sink, &args->notices);
        if (args->events_to) {
                args->event_stream = run_open_event_stream(args->events_to);
                if (!args->event_stream)
                        return -1;
                event_bus_add_sink(&args->events, session_event_sink_stream, args->event_stream);
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

/* What the session changed, compared now (before .git's private layer is
 * written back: that is git's data, not the agent's edits). NULL when the
 * mode has no host changes to compare. */
static json_t *run_compare_changes(const struct reins_plan *plan, struct changes_snapshot *before)
{
        if (plan->overlay || plan->workspace_readonly)
                return NULL;
        struct changes_snapshot *after =
            before ? changes_take(plan->workspace, CHANGES_MAX_ENTRIES) : NULL;
        json_t *changes =
            before && after
                ? changes_compare(before, after, CHANGES_MAX_LISTED)
                : json_pack("{s:s}", "untracked", "the workspace holds more than 200000 entries");
        changes_free(before);
        changes_free(after);
        return changes;
}

static int run_sandbox(struct run_args *args, struct reins_plan *plan)
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
                cli_error(&err);
                return EXIT_REINS_FAILED;
        }
        if (run_check_landlock(plan, &in.landlock_abi) < 0)
                goto out;
        /* the deny globs' matches, collected while the above went on */
        if (plan_finish_deny(plan, &err) < 0) {
                cli_error(&err);
                goto out;
        }
        if (!args->quiet) {
                run_report_tracked_hidden(plan);
                run_report_toolchain(plan);
                run_report_missing_paths(plan);
        }
        run_prepare_terminal(&in);
        supervise_block_signals();
        if (spawn_sandbox(&in, &sandbox, &err) < 0) {
                cli_error(&err);
                goto out;
        }
        /* the sandbox is forked: from here on nothing in this process may
         * reach the kernel keyring, where the user's key may be unlocked */
        if (seccomp_forbid_keyring_self(&err) < 0) {
                cli_error(&err);
                spawn_kill(&sandbox);
                goto out;
        }
        /* while the sandbox builds its root */
        if (run_setup_cgroup(plan, &cgroup, &in.rlimit_fallback, args->quiet) < 0) {
                spawn_kill(&sandbox);
                goto out;
        }
        in.cgroup = cgroup.count > 0 ? &cgroup : NULL;
        session_risk_set_sandbox(&args->risk, sandbox.pid, &cgroup);
        if (plan->verbosity > 0)
                run_report_plan(stderr, plan, &in);
        /* no trail, no run: the command has not started yet */
        if (run_open_trail(args, plan) < 0) {
                spawn_kill(&sandbox);
                goto out;
        }
        event_bus_release(&args->events);
        session_emit_start(&args->events, plan, &in, args->policy,
                           args->user_key[0] ? args->user_key : NULL, run_session_identity(args));
        /* session.start is on disk before the command's first instruction:
         * an agent that fills the disk at once cannot leave an empty trail */
        if (audit_trail_sync(args->trail) < 0) {
                run_trail_check(args, "the command was not started");
                spawn_kill(&sandbox);
                status = EXIT_TRAIL_FAILED;
                goto out;
        }
        json_t *info =
            json_pack("{s:s, s:s, s:o, s:o}", "agent", plan->agent ? plan->agent : "", "policy",
                      plan->policy_name, "command", json_text_array(plan->argv), "workspace",
                      json_text_z(plan->workspace));
        if (info && session_govern_control_path(&args->govern))
                json_object_set_new(info, "control",
                                    json_string(session_govern_control_path(&args->govern)));
        struct reins_error reg_err = {0};
        if (runtime_register(args->session, getpid(), info, &reg_err) < 0 && !args->quiet)
                notice("note: session not listed by 'reins ps': %s", reg_err.message);
        json_decref(info);
        /* the workspace as it was, to report what the session changed */
        struct changes_snapshot *before = run_snapshot_workspace(plan);
        /* everything is recorded: let the command start */
        /* EPIPE: the sandbox already failed; the loop below reads why */
        if (spawn_send_limits(&sandbox, in.cgroup, in.rlimit_fallback, &err) < 0 &&
            err.code != EPIPE) {
                cli_error(&err);
                spawn_kill(&sandbox);
                goto out;
        }
        /* a resumed copy is "running" again: recorded while the command
         * starts, off the start-up path (one atomic rewrite of meta.json) */
        if (plan->overlay)
                session_workspace_running(&args->workspace, plan->limits.workspace_size_bytes);
        struct supervise_config config = {
            .plan = plan, .events = &args->events, .tick = run_audit_tick, .tick_ctx = args};
        session_govern_configure(&args->govern, &config);
        session_risk_configure(&args->risk, &config);
        if (plan->overlay && plan->limits.workspace_size_bytes > 0)
                config.workspace_copy = &args->workspace_copy;
        if (supervise(&sandbox, &config, &outcome, &err) < 0)
                cli_error(&err);
        /* the capped copy lived in memory: it goes to the session directory
         * before the session ends (the sandbox is gone, the copy is still) */
        if (args->workspace_copy >= 0) {
                session_workspace_store(&args->workspace, args->workspace_copy, &args->events);
                close(args->workspace_copy);
                args->workspace_copy = -1;
        }
        audit_trail_flush(args->trail); /* a disk filled at the very end */
        run_trail_check(args, "the session had ended");
        /* git's own data back to the host's .git, protected writes recorded
         * (before the engine's last tick: they feed persistence-write) */
        json_t *changes = run_compare_changes(plan, before);
        session_protect_finish(&args->protect, plan, plan->overlay ? &args->workspace : NULL,
                               changes, &args->events, args->quiet);
        session_risk_tick(&args->risk); /* the last findings, before session.end */
        session_govern_end(&args->govern);
        if (changes) {
                /* past a cap the session still ends normally: a "limit" event
                 * says what was cut, before the (bounded) record itself */
                json_t *limit = changes_limit_fields(changes);
                if (limit)
                        event_emit(&args->events, "limit", limit);
                event_emit(&args->events, "files.changed", changes);
        }
        /* after the scan: they were there when it started */
        plan_remove_placeholders(plan);
        session_emit_end(&args->events, plan, &outcome, &cgroup, run_elapsed_ms(started));
        runtime_unregister(args->session);
        runtime_sweep(); /* what supervisors killed with -9 left, off the start-up path */
        status = run_report_outcome(stderr, plan, &outcome, &cgroup, args->quiet);
        run_notices_finish(&args->notices, args->session);
        if (args->trail_failed)
                status = EXIT_TRAIL_FAILED;
        close(sandbox.pidfd);
        close(sandbox.status_fd);
out:
        session_risk_set_sandbox(&args->risk, 0, NULL); /* gone, and its cgroups go next */
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
        char *deny_cache_dir = NULL;
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
        /* reins' own directories exist before the plan hides them from
         * the sandbox (a workspace may contain the home directory) */
        run_prepare_own_dirs(&args);
        deny_cache_dir = run_deny_cache_dir();
        args.plan.deny_cache_dir = deny_cache_dir;
        if (session_govern_load_token(&args.govern, args.token_file, args.user_key, &err) < 0) {
                cli_error(&err);
                goto out;
        }
        args.plan.write_limit = session_govern_write_limit(&args.govern);
        if (policy_load(args.policy, &policy, &err) < 0 ||
            policy_check_supported(policy, &err) < 0 ||
            run_plant_canaries(&args, policy, &err) < 0 ||
            plan_build(policy, &args.plan, &plan, &err) < 0 || run_prepare_caches(plan, &err) < 0) {
                cli_error(&err);
                goto out;
        }
        if (plan->host_network && !args.quiet)
                fprintf(stderr, "reins: warning: --net host: the sandbox shares the host's "
                                "network; there is no egress control\n");
        if (run_open_events(&args) < 0)
                goto out;
        if (run_certify_session(&args, policy, plan, &err) < 0) {
                cli_error(&err);
                goto out;
        }
        struct session_govern_options govern = {
            .policy = policy,
            .plan = plan,
            .session = args.session,
            .resume = args.resume,
            .quiet = args.quiet,
            .events = &args.events,
        };
        if (session_govern_start(&args.govern, &govern, &err) < 0 ||
            (strcmp(policy->risk.engine, "off") != 0 &&
             (session_risk_start(&args.risk, policy, plan, &args.events, &args.govern, &args.trail,
                                 args.quiet, &err) < 0 ||
              session_risk_watch_canaries(&args.risk, &args.canaries, &err) < 0))) {
                cli_error(&err);
                goto out;
        }
        if (plan->overlay && session_workspace_start(plan, policy, args.session, args.resume,
                                                     &args.workspace, &args.events, &err) < 0) {
                cli_error(&err);
                goto out;
        }
        if (session_protect_start(&args.protect, plan, args.session, &err) < 0) {
                fprintf(stderr, "reins: %s\n", err.message);
                goto out;
        }
        if (plan->overlay) {
                args.risk.workspace = &args.workspace;
                args.risk.workspace_copy = &args.workspace_copy;
        }
        status = run_sandbox(&args, plan);
        if (plan->overlay)
                session_workspace_finish(&args.workspace, status, status == EXIT_REINS_FAILED,
                                         &args.events);
out:
        if (plan) {
                session_protect_finish(&args.protect, plan, NULL, NULL, &args.events, true);
                plan_remove_placeholders(plan);
        }
        plan_free(plan);
        policy_free(policy);
        strv_free(&args.plan.extra_ro);
        strv_free(&args.plan.extra_rw);
        strv_free(&args.plan.extra_env);
        strv_free(&args.plan.allow_net);
        strv_free(&args.anchors);
        event_bus_release(&args.events); /* whatever is still queued, to the sinks there are */
        run_close_trail(&args);
        if (args.trail_failed)
                status = EXIT_TRAIL_FAILED;
        event_bus_fini(&args.events);
        session_govern_finish(&args.govern); /* its control socket was a sink until here */
        session_risk_finish(&args.risk);     /* and so was the engine */
        canary_remove(&args.canaries);
        audit_anchor_free(args.anchor);
        audit_session_signer_wipe(&args.signer);
        free(args.trail_dir);
        free(deny_cache_dir);
        if (args.event_stream)
                fclose(args.event_stream);
        return status;
}

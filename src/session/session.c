/* The lifecycle of one session (session.h): everything `reins run` does
 * between reading its options and reporting the outcome. */
#include "session/session.h"

#include <errno.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "audit/anchor.h"
#include "audit/changes.h"
#include "audit/dirs.h"
#include "audit/keys.h"
#include "audit/runtime.h"
#include "audit/session_key.h"
#include "audit/trail.h"
#include "audit/trail_internal.h"
#include "govern/canary.h"
#include "session/credentials.h"
#include "govern/gate.h"
#include "govern/risk.h"
#include "policy/policy.h"
#include "sandbox/cgroup.h"
#include "sandbox/landlock.h"
#include "sandbox/protect_notify.h"
#include "sandbox/seccomp.h"
#include "sandbox/self_seccomp.h"
#include "session/events.h"
#include "session/govern.h"
#include "session/protect.h"
#include "session/risk.h"
#include "sandbox/seccomp_notify.h"
#include "session/workspace.h"
#include "vm/vm.h"
#include "util/path.h"
#include "util/bytes_json.h"
#include "util/loop.h"
#include "util/notice.h"
#include "util/strv.h"
#include "util/weaken.h"
#include "wasm/run.h"

struct session_listener {
        struct session *session;
        int fd;
        struct seccomp_notify notify;
};

struct session {
        struct session_config config;
        struct vm_prepared vm; /* isolation: vm: what the rewritten options point into */
        char id[25];
        enum session_state state;
        struct reins_policy *policy;
        struct reins_plan *plan;
        struct event_bus events;
        struct wasm_run wasm;
        struct timespec started;
        /* the trail */
        struct audit_trail *trail;
        char *trail_path;                   /* where it is, for messages */
        bool trail_failed;                  /* it could not be written: frozen, ended, exit 123 */
        int64_t last_flush_ms;              /* monotonic */
        char *trail_dir;                    /* resolved (and created) once, before the plan */
        char user_key[65];                  /* the user's public key, hex; "" when unreadable */
        struct audit_anchor *anchor;        /* opened, when any */
        struct audit_session_signer signer; /* this session's certified key */
        bool certified;
        /* the parts */
        struct session_govern govern;
        struct session_risk risk;
        struct canary_set canaries;             /* planted when the policy asks */
        struct session_credentials credentials; /* the secrets the proxy injects */
        struct session_protect protect;
        struct workspace_session workspace;
        bool workspace_started;
        int workspace_copy; /* limits.workspace_size: the copy's tmpfs while it runs, else -1 */
        struct plan_options plan_options;
        /* the policy's environment, when it names one (env/env.h) */
        struct env_session environment;
        struct plan_environment plan_environment;
        /* the sandbox */
        struct seccomp_program seccomp;
        struct cgroup_handle cgroup;
        struct spawn_inputs in;
        struct spawn_result sandbox;
        bool spawned;
        bool parked;  /* a pool member, built up to its command's execve */
        bool retired; /* a parked member that will never run */
        struct session_source {
                int fd;
                session_source_handler handler;
                void *ctx;
        } sources[SESSION_SOURCES_MAX];
        size_t source_count;
        struct loop *loop; /* while session_wait runs */
        /* seccomp listeners of processes that joined the sandbox (reins oci
         * exec): answered and recorded as the command's */
        struct session_listener *listeners[SESSION_LISTENERS_MAX];
        json_t *start_fields; /* a parked member's session.start, built ahead */
        /* a released pool member, not yet listed (session_list_released) */
        bool list_pending;
        bool list_exec_seen; /* the first exec set list_due_ms: later ones do not move it */
        int64_t list_due_ms;
        void (*on_listed)(void *ctx);
        void *on_listed_ctx;
        bool waited; /* supervised to the end */
        bool closed; /* session_close ran */
        int status;  /* the run's exit status, once known (SESSION_EXIT_FAILED until) */
        struct changes_snapshot *before;
        struct session_changes_job *changes_job; /* looking at the workspace as it starts */
        struct changes_watch *changes_watch;     /* where the session changed things */
        volatile pid_t pid;                      /* pid 1 while it runs, for session_stop */
        /* the registry entry `reins ps` reads (NULL: not listed) */
        struct runtime_entry *listing;
        struct session_listed {
                int tier;
                size_t pending;
                int risk_tier;
                uint64_t findings;
                enum freeze_mechanism frozen; /* FREEZE_NONE: not frozen */
        } listed;                             /* as the entry says it */
        int64_t listed_ms;                    /* when it was last written (monotonic) */
};

#define SESSION_FLUSH_MS 100 /* the trail's batch is written this often at most */
#define SESSION_LIST_MS  100 /* and the registry entry rewritten */

static int64_t session_now_ms(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The earlier of two tick delays (-1: none). */
static int64_t session_earlier(int64_t a, int64_t b)
{
        return a < 0 || (b >= 0 && b < a) ? b : a;
}

/* ---- before the sandbox --------------------------------------------------- */

/* Resolved once, kept for the trail and session.start. */
static void session_prepare_own_dirs(struct session *s)
{
        struct reins_error ignored = {0};
        s->trail_dir = audit_trail_dir(&ignored); /* state: trails, workspace copies */
        if (audit_user_public_key_hex(s->user_key, &ignored) < 0) /* config: the key */
                s->user_key[0] = '\0';
}

/* filesystem.cache: reins' own per-project directories exist (private to
 * the caller, never through a symlink) before the sandbox binds them. */
static int session_prepare_caches(const struct reins_plan *plan, struct reins_error *err)
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
static int session_plant_canaries(struct session *s, struct reins_error *err)
{
        const struct reins_policy *policy = s->policy;
        bool engine_off = policy->risk.engine == POLICY_RISK_ENGINE_OFF;
        if (engine_off && (policy->canaries || policy->filesystem.secrets.count > 0))
                return reins_error_set(err, EINVAL,
                                       "%s: canaries and filesystem.secrets are watched by the "
                                       "risk engine, which risk.engine: off turns off",
                                       policy->source);
        if (!policy->canaries)
                return 0;
        if (!s->trail_dir)
                return reins_error_set(err, ENOENT,
                                       "canaries: no private state directory to keep them in");
        int r = canary_plant(s->trail_dir, &s->canaries, err);
        if (r < 0)
                return r;
        s->plan_options.canaries.sources = s->canaries.sources;
        s->plan_options.canaries.targets = s->canaries.targets;
        s->plan_options.canaries.count = CANARY_FILES;
        return 0;
}

/* credentials: the secrets read here, on the host side, before the plan: the
 * sandbox gets their placeholders and the session CA's bundle. */
static int session_prepare_credentials(struct session *s, struct reins_error *err)
{
        int r =
            session_credentials_prepare(&s->credentials, s->policy, s->plan_options.host_environ,
                                        s->plan_options.home, s->id, err);
        if (r < 0 || !s->credentials.terminator)
                return r;
        s->events.mask_placeholders = true;
        s->plan_options.credentials = (struct plan_credentials){
            .env = s->credentials.env.items,
            .env_count = s->credentials.env.count,
            .bundle = s->credentials.bundle,
            .bundle_target = SESSION_CA_BUNDLE,
            .drop_env = s->credentials.drop_env.items,
            .drop_env_count = s->credentials.drop_env.count,
            .file_targets = s->credentials.file_targets,
            .file_texts = s->credentials.file_texts,
            .file_count = s->credentials.file_count,
        };
        return 0;
}

/* Only the proxy injects: without it a credential would reach nothing (or,
 * with the host's network, the placeholder would go out as it is). */
static int session_check_credentials(const struct session *s, struct reins_error *err)
{
        if ((s->policy->credentials.count == 0 && s->policy->identity.hosts.count == 0) ||
            s->plan->proxy)
                return 0;
        return reins_error_set(err, EINVAL,
                               "%s: credentials need network.mode: proxy (the egress proxy is "
                               "what injects them)",
                               s->policy->source);
}

/* The daemon that starts a session checks its policy's agent against its
 * configuration (serve/config.h, agents:); the policy is read again here,
 * and must say the same: a file changed in between is refused. */
static int session_check_agent(const struct session *s, struct reins_error *err)
{
        const char *expected = s->config.expect_agent;
        const char *agent = s->policy->agent ? s->policy->agent : "";
        if (!expected || strcmp(expected, agent) == 0)
                return 0;
        return reins_error_set(err, EPERM,
                               "%s: its agent is '%s', not '%s' as the daemon checked it (was "
                               "the policy changed?)",
                               s->config.policy, agent, expected);
}

/* --isolation overrides the policy's `isolation:` before the plan (and the
 * policy's hash, which names the kind) is made. */
static int session_apply_isolation(struct session *s, struct reins_error *err)
{
        const char *kind = s->plan_options.isolation;
        if (kind) {
                if (strcmp(kind, "container") != 0 && strcmp(kind, "vm") != 0)
                        return reins_error_set(err, EINVAL,
                                               "--isolation '%s': expected container or vm", kind);
                /* container is the default: unwritten, as in a policy
                 * without the key (the same hash) */
                char *copy = NULL;
                if (strcmp(kind, "vm") == 0 && !(copy = strdup(kind)))
                        return reins_error_set(err, ENOMEM, "out of memory");
                free(s->policy->isolation);
                s->policy->isolation = copy;
        }
        if (!s->policy->isolation || strcmp(s->policy->isolation, "vm") != 0)
                return 0;
        /* the command becomes `reins vm-host`: QEMU in this sandbox */
        int r = vm_prepare(s->policy, &s->plan_options, &s->vm, err);
        if (r < 0)
                return r;
        if (s->vm.tcg && s->plan_options.strict)
                return reins_error_set(err, EOPNOTSUPP,
                                       "isolation: vm: no usable KVM (%s) and --strict refuses "
                                       "software emulation",
                                       s->vm.accel_why);
        if (s->vm.tcg && !s->config.quiet)
                notice("note: isolation: vm: TCG (software emulation, slower): %s",
                       s->vm.accel_why);
        return 0;
}

/* The policy's environment: looked up in the cache (built when missing,
 * with progress to the caller), the mapped user's accounts and, with
 * writable: session, the session's own layer; then the plan's root. */
static int session_prepare_environment(struct session *s, struct reins_error *err)
{
        struct env_spec *spec = NULL;
        int r = env_spec_from_policy(s->policy, &spec, err);
        if (r < 0 || !spec)
                return r;
        if (s->plan_options.root) {
                /* said, not ignored: a policy key never silently does nothing */
                env_spec_free(spec);
                return reins_error_set(err, EINVAL,
                                       "environment: a container's root is its bundle's rootfs "
                                       "(reins oci); use a policy without environment:");
        }
        char *cache = NULL;
        struct env_entry entry = {0};
        bool built = false;
        if ((r = env_cache_dir(&cache, err)) == 0 &&
            (r = env_prepare(cache, spec, &s->config.env_progress, &entry, &built, err)) == 0)
                r = env_session_prepare(cache, &entry, spec->writable, s->id, &s->environment, err);
        env_entry_free(&entry);
        env_spec_free(spec);
        free(cache);
        if (r < 0)
                return r;
        s->plan_environment = (struct plan_environment){.rootfs = s->environment.rootfs,
                                                        .passwd = s->environment.passwd,
                                                        .group = s->environment.group,
                                                        .upper = s->environment.upper,
                                                        .key = s->environment.key};
        s->plan_options.environment = &s->plan_environment;
        return 0;
}

int session_new(const struct session_config *config, struct session **out, struct reins_error *err)
{
        struct session *s = calloc(1, sizeof(*s));
        if (!s)
                return reins_error_set(err, ENOMEM, "out of memory");
        s->config = *config;
        s->plan_options = config->plan;
        s->workspace_copy = -1;
        s->status = SESSION_EXIT_FAILED;
        s->state = SESSION_CREATED;
        *out = s;
        if (config->id[0])
                snprintf(s->id, sizeof(s->id), "%s", config->id);
        else if (session_new_id(s->id) < 0)
                return reins_error_errno(err, errno, "cannot draw a session id");
        event_bus_init(&s->events, s->id);
        if (config->container)
                event_bus_set_container(&s->events, config->container);
        /* the trail opens once the sandbox is building its root (in
         * parallel); what happens before is queued for it */
        event_bus_hold(&s->events);
        /* reins' own directories exist before the plan hides them from the
         * sandbox (a workspace may contain the home directory) */
        session_prepare_own_dirs(s);
        int r = session_govern_load_token(&s->govern, config->token_file, s->user_key, err);
        if (r < 0 || (r = session_govern_set_daemon_key(&s->govern, config->daemon_key, err)) < 0)
                return r;
        s->plan_options.write_limit = session_govern_write_limit(&s->govern);
        if ((r = policy_load(config->policy, &s->policy, err)) < 0 ||
            (r = session_check_agent(s, err)) < 0 || (r = session_apply_isolation(s, err)) < 0 ||
            (r = policy_check_supported(s->policy, err)) < 0 ||
            (r = session_prepare_environment(s, err)) < 0 ||
            (r = session_plant_canaries(s, err)) < 0 ||
            (r = session_prepare_credentials(s, err)) < 0 ||
            (r = plan_build(s->policy, &s->plan_options, &s->plan, err)) < 0 ||
            (r = session_check_credentials(s, err)) < 0 ||
            (r = session_prepare_caches(s->plan, err)) < 0)
                return r;
        /* isolation: wasm in the policy: the command must be a module (a
         * module is run as one whatever the policy says: natively it is
         * not executable at all) */
        char *const *argv = s->plan_options.argv;
        if (s->policy->isolation && strcmp(s->policy->isolation, "wasm") == 0 && !config->wasm &&
            argv && argv[0])
                return reins_error_set(err, ENOEXEC,
                                       "isolation wasm: '%s' is not a WebAssembly module (a "
                                       "WASI preview 1 command)",
                                       argv[0]);
        return 0;
}

const char *session_id(const struct session *s)
{
        return s->id;
}

const struct reins_plan *session_plan(const struct session *s)
{
        return s->plan;
}

struct event_bus *session_events(struct session *s)
{
        return &s->events;
}

const struct cgroup_handle *session_cgroup(const struct session *s)
{
        return &s->cgroup;
}

/* ---- the trail ------------------------------------------------------------- */

/* Session certificates outlive the session's wall-clock limit by an hour;
 * a session without one gets a year. */
#define SESSION_CERT_MARGIN_S  3600ULL
#define SESSION_CERT_DEFAULT_S (366ULL * 24 * 3600)

/* Before the first byte the sandbox controls is parsed (the control and
 * agent sockets, the proxy, a resumed workspace): certify a session key
 * with the user's key and drop the user's key for good. From here on a bug
 * in the parsers can at worst yield the session key, which signs this
 * session's checkpoints and nothing else. Then the anchors: a session
 * asked to anchor its trail does not start when no anchor takes the
 * certificate. */
static int session_certify(struct session *s, struct reins_error *err)
{
        const struct reins_plan *plan = s->plan;
        uint64_t validity = plan->limits.wall_time_ms
                                ? plan->limits.wall_time_ms / 1000 + SESSION_CERT_MARGIN_S
                                : SESSION_CERT_DEFAULT_S;
        int r =
            audit_session_signer_new(s->id, plan->policy_sha256, "run", validity, &s->signer, err);
        if (r < 0)
                return reins_error_prefix(err, "certifying the session key"), r;
        s->certified = true;
        /* the policy's anchors (audit.anchor), then the caller's */
        for (size_t i = 0; i < s->policy->audit.anchor.count; i++)
                if ((r = audit_anchor_add(&s->anchor, s->policy->audit.anchor.items[i], err)) < 0)
                        return r;
        for (size_t i = 0; i < s->config.anchor_count; i++)
                if ((r = audit_anchor_add(&s->anchor, s->config.anchors[i], err)) < 0)
                        return r;
        if (s->anchor) {
                json_t *entry = audit_anchor_cert_entry(&s->signer.cert);
                r = entry ? audit_anchor_send(s->anchor, entry, err)
                          : reins_error_set(err, ENOMEM, "out of memory");
                json_decref(entry);
                if (r < 0)
                        return reins_error_prefix(err, "refusing to start unanchored"), r;
        }
        return 0;
}

/* session.start's identity members, with the session certificate. */
static json_t *session_identity(struct session *s)
{
        json_t *identity = session_govern_identity(&s->govern);
        if (!identity)
                identity = json_object();
        if (identity && s->certified)
                json_object_set_new(identity, AUDIT_CERT_FIELD,
                                    audit_session_cert_to_json(&s->signer.cert));
        return identity;
}

/* Where the sandbox can write on the trail's filesystem, the agent can
 * fill the disk under the trail: say so once. The trail's reserve
 * (trail.h) is what still records the end then. */
static void session_warn_shared_filesystem(const struct session *s)
{
        if (s->config.quiet)
                return;
        for (size_t i = 0; i < s->plan->mount_count; i++) {
                const struct mount_op *op = &s->plan->mounts[i];
                const char *writable = op->kind == MOUNT_OP_BIND_RW ? op->source
                                       : op->kind == MOUNT_OP_OVERLAY && op->size_bytes == 0
                                           ? op->upper
                                           : NULL;
                if (!writable || !audit_trail_shares_filesystem(s->trail_path, writable))
                        continue;
                notice("warning: the audit trail %s is on the same filesystem as %s, which the "
                       "sandbox can write: should it fill up, the session is frozen and ended "
                       "(exit %d); %d KiB are reserved for the trail's last records",
                       s->trail_path, writable, SESSION_EXIT_TRAIL_FAILED,
                       AUDIT_TRAIL_RESERVE >> 10);
                return;
        }
}

/* The audit trail is not optional: if it cannot be written, nothing runs. */
static int session_open_trail(struct session *s, struct reins_error *err)
{
        char *path = NULL;
        if (s->config.audit_path) {
                path = strdup(s->config.audit_path);
        } else {
                /* prepared before the plan; asked again only to name the error */
                char *dir = s->trail_dir ? NULL : audit_trail_dir(err);
                const char *base = s->trail_dir ? s->trail_dir : dir;
                if (base && asprintf(&path, "%s/%s.jsonl", base, s->id) < 0)
                        path = NULL;
                free(dir);
                if (!base)
                        return reins_error_prefix(err, "(use --audit PATH)"), -ENOENT;
        }
        if (!path)
                return reins_error_set(err, ENOMEM, "out of memory");
        int r = audit_trail_open_with_key(path, &s->signer.key, &s->trail, err);
        if (r < 0) {
                free(path);
                return r;
        }
        s->trail_path = path;
        audit_trail_set_limits(s->trail, s->plan->limits.trail_size_bytes,
                               s->plan->limits.trail_rate_bytes);
        session_warn_shared_filesystem(s);
        if (s->anchor)
                audit_trail_set_checkpoint_hook(s->trail, audit_anchor_checkpoint_hook, s->anchor);
        s->last_flush_ms = session_now_ms();
        return event_bus_add_sink(&s->events, audit_trail_sink, s->trail);
}

/* No record, no run: the trail could not be written (a full disk). While
 * the sandbox runs it is frozen first (T3's playbook, session/risk.h): only
 * then is the trail's reserve released, or the agent could take that space
 * too; the trail records why, and the sandbox is ended. Exit status 123. */
static void session_trail_check(struct session *s, const char *what_happens)
{
        const char *failure = audit_trail_failure(s->trail);
        if (!failure || s->trail_failed)
                return;
        char why[256];
        snprintf(why, sizeof(why), "%s", failure);
        s->trail_failed = true;
        bool running = strcmp(what_happens, "frozen and ended") == 0;
        if (running)
                session_risk_freeze_now(&s->risk, &s->events);
        audit_trail_use_reserve(s->trail);
        event_emit(&s->events, "limit",
                   json_pack("{s:s, s:s, s:s}", "kind", "trail_write", "error", why, "action",
                             what_happens));
        audit_trail_flush(s->trail);
        notice("the audit trail %s cannot be written (%s): %s (exit %d)",
               s->trail_path ? s->trail_path : "", why,
               running ? "the sandbox was frozen and ended" : what_happens,
               SESSION_EXIT_TRAIL_FAILED);
        if (running)
                session_risk_end_now(&s->risk);
}

/* Write the trail's batch within 100 ms of its first record (kill -9
 * loses at most that), and say when the next write is due: never, while
 * nothing waits. */
static int64_t session_flush_tick(struct session *s)
{
        int64_t now = session_now_ms();
        if (audit_trail_pending(s->trail) && now - s->last_flush_ms >= SESSION_FLUSH_MS) {
                audit_trail_flush(s->trail);
                s->last_flush_ms = now;
        }
        session_trail_check(s, "frozen and ended");
        if (!audit_trail_pending(s->trail))
                return -1;
        int64_t due = s->last_flush_ms + SESSION_FLUSH_MS;
        return due > now ? due - now : 0;
}

/* ---- the registry entry ---------------------------------------------------- */

static void session_listed_now(const struct session *s, struct session_listed *out)
{
        const struct gate *gate = s->govern.gate;
        *out = (struct session_listed){
            .tier = gate ? gate_tier(gate) : 0,
            .pending = gate ? gate_pending_count(gate) : 0,
            .risk_tier = s->risk.engine ? risk_engine_tier(s->risk.engine) : -1,
            .findings = s->risk.engine ? risk_engine_findings(s->risk.engine) : 0,
            .frozen = s->risk.frozen ? s->risk.freeze.used : FREEZE_NONE,
        };
}

static bool session_listed_equal(const struct session_listed *a, const struct session_listed *b)
{
        return a->tier == b->tier && a->pending == b->pending && a->risk_tier == b->risk_tier &&
               a->findings == b->findings && a->frozen == b->frozen;
}

/* What `reins ps` lists of the session's state (the control socket's
 * "status"), with the time the score was taken and its half-life so that
 * `reins ps` decays it to its own now. NULL: nothing to list (no control
 * socket: `reins ps` never had this state of such a session). */
static json_t *session_listing_status(struct session *s)
{
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now); /* the engine's clock */
        json_t *status = session_govern_status(&s->govern);
        if (status && s->risk.engine) {
                json_object_set_new(
                    status, RUNTIME_RISK_AT,
                    json_integer((json_int_t)now.tv_sec * 1000 + now.tv_nsec / 1000000));
                json_object_set_new(status, RUNTIME_RISK_HALF_LIFE,
                                    json_integer(risk_engine_half_life_ms(s->risk.engine)));
        }
        return status;
}

/* Rewrite the entry when what it lists changed (a tier, a request, a
 * freeze; not the score's decay, which `reins ps` computes), at most every
 * SESSION_LIST_MS unless `at_once`: `reins ps` reads files only,
 * whatever the number of sessions, and a stopped or busy supervisor cannot
 * slow it down. */
static int64_t session_list(struct session *s, bool at_once)
{
        if (!s->listing)
                return -1;
        struct session_listed now_listed;
        session_listed_now(s, &now_listed);
        if (session_listed_equal(&now_listed, &s->listed))
                return -1;
        int64_t now = session_now_ms();
        if (!at_once && now - s->listed_ms < SESSION_LIST_MS)
                return s->listed_ms + SESSION_LIST_MS - now;
        json_t *status = session_listing_status(s);
        struct reins_error err = {0};
        int r = status ? runtime_update(s->listing, status, &err) : -ENOMEM;
        json_decref(status);
        s->listed_ms = now;
        if (r < 0) /* tried again a while later (a full runtime directory) */
                return 10 * SESSION_LIST_MS;
        s->listed = now_listed;
        return -1;
}

static int64_t session_list_tick(struct session *s)
{
        return session_list(s, false);
}

/* A control request was handled (a thaw, an answer): what it changed is
 * listed before its reply goes, so `reins ps` after `reins thaw` sees it. */
static void session_list_now(void *ctx)
{
        session_list(ctx, true);
}

/* After every wake-up of the loop that dispatched something, and when the
 * delay it returned has passed: governance's and the engine's deadlines,
 * the trail's batch (after them: it writes what they recorded), the
 * registry entry. An idle session has none of these due: it sleeps. */
static int64_t session_pool_tick(struct session *s);

/* isolation wasm: the engine's report, read as it grows */
static int64_t session_wasm_tick(void *ctx)
{
        struct session *s = ctx;
        wasm_run_poll(&s->wasm, &s->events);
        return 200;
}

static int64_t session_tick(void *ctx)
{
        struct session *s = ctx;
        int64_t next = session_govern_tick(&s->govern);
        next = session_earlier(next, session_risk_tick(&s->risk));
        next = session_earlier(next, session_flush_tick(s));
        next = session_earlier(next, session_pool_tick(s));
        return session_earlier(next, session_list_tick(s));
}

static void session_close_trail(struct session *s)
{
        struct reins_error err = {0};
        /* the last records (session.end) found the disk full: the sandbox
         * is gone, the reserve takes them */
        if (s->trail && audit_trail_flush(s->trail) < 0)
                session_trail_check(s, "the session had ended");
        if (s->trail && audit_trail_close(s->trail, &err) < 0)
                notice("closing the audit trail: %s", err.message);
        s->trail = NULL;
        const char *why = NULL;
        uint64_t lost = audit_anchor_failures(s->anchor, &why);
        if (lost)
                notice("warning: %llu anchor entr%s not delivered (first: %s)",
                       (unsigned long long)lost, lost == 1 ? "y" : "ies", why);
}

/* ---- the sandbox ----------------------------------------------------------- */

static void session_prepare_terminal(struct spawn_inputs *in)
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
static int session_check_landlock(const struct reins_plan *plan, int *abi, struct reins_error *err)
{
        *abi = weaken("landlock") ? 0 : landlock_abi_version();
        if (*abi > 0 || weaken("landlock"))
                return 0;
        if (!plan->allow_degraded)
                return reins_error_set(err, ENOTSUP,
                                       "Landlock is not available on this kernel (needs Linux "
                                       "5.13+ with landlock in the lsm= boot list); refusing to "
                                       "start without it, or pass --allow-degraded");
        notice("warning: running WITHOUT Landlock (--allow-degraded)");
        return 0;
}

/* The cgroups, or rlimits and cpu affinity where none can be had; the risk
 * engine's freezer cgroup where one can be had (without it a freeze is
 * SIGSTOP, freeze.h, which the policy does not forbid). */
static int session_setup_cgroup(struct session *s, struct reins_error *err)
{
        const struct reins_plan *plan = s->plan;
        struct reins_error why = {0};
        s->in.rlimit_fallback = 0;
        int r = cgroup_create(&plan->cgroup, &s->cgroup, &why);
        if (r == 0) {
                if (s->cgroup.tcp_uncounted && !s->config.quiet)
                        notice("note: this kernel has no memory.kmem.tcp.limit_in_bytes: kernel "
                               "socket buffers are not counted in the memory limit");
        } else if (plan->strict) {
                return reins_error_set(err, -r,
                                       "--strict: cgroup limits unavailable (%s); run as root or "
                                       "in a delegated cgroup v2 subtree",
                                       why.message);
        } else {
                s->in.rlimit_fallback = 1;
                /* a container's supervisor is quiet on its stdio (the
                 * container's own) but says this in the engine's log */
                if (!s->config.quiet || s->config.container)
                        notice("note: cgroup limits unavailable (%s); memory, pids and cpus are "
                               "limited with rlimits and cpu affinity instead, and kernel socket "
                               "buffers are not counted (--strict refuses)",
                               why.message);
        }
        if (plan->cgroup.freezer)
                cgroup_add_freezer(&s->cgroup);
        return 0;
}

static uint64_t session_elapsed_ms(struct timespec since)
{
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (uint64_t)((now.tv_sec - since.tv_sec) * 1000 +
                          (now.tv_nsec - since.tv_nsec) / 1000000);
}

/* Direct mode's files.changed: the workspace as it is when the session
 * starts is looked at by a thread of its own while the rest of the start-up
 * goes on (audit/changes.h: from the previous session's cache, one fstatat
 * per directory; a walk when there is none), and joined before the command
 * starts. An overlay session's changes are its upper layer, and a
 * read-only workspace cannot change. The caps are in audit/changes.h. */
struct session_changes_job {
        pthread_t thread;
        const char *root, *cache_dir; /* the plan's and the config's, which outlive it */
        struct changes_snapshot *before;
        struct changes_watch *watch;
};

static void *session_changes_run(void *arg)
{
        struct session_changes_job *job = arg;
        /* watched before the start is looked at: no change goes unreported */
        if (job->cache_dir)
                job->watch = changes_watch_start(job->root);
        job->before = changes_begin(job->root, job->cache_dir, CHANGES_MAX_ENTRIES, NULL);
        changes_watch_dirs(job->watch, job->root, job->before);
        return NULL;
}

static void session_changes_begin(struct session *s)
{
        const struct reins_plan *plan = s->plan;
        if (plan->overlay || plan->workspace_readonly)
                return;
        struct session_changes_job *job = calloc(1, sizeof(*job));
        if (job) {
                job->root = plan->workspace;
                job->cache_dir = s->config.changes_cache_dir;
                if (pthread_create(&job->thread, NULL, session_changes_run, job) == 0) {
                        s->changes_job = job;
                        return;
                }
                free(job);
        }
        /* no thread: here and now */
        s->before =
            changes_begin(plan->workspace, s->config.changes_cache_dir, CHANGES_MAX_ENTRIES, NULL);
}

static void session_changes_join(struct session *s)
{
        struct session_changes_job *job = s->changes_job;
        if (!job)
                return;
        pthread_join(job->thread, NULL);
        s->changes_job = NULL;
        changes_free(s->before);
        s->before = job->before;
        s->changes_watch = job->watch;
        if (!s->before) { /* untracked: nothing to watch for */
                changes_watch_free(s->changes_watch);
                s->changes_watch = NULL;
        }
        free(job);
}

static void session_changes_drain(void *ctx, int fd, uint32_t events)
{
        (void)fd;
        (void)events;
        struct session *s = ctx;
        changes_watch_drain(s->changes_watch);
}

/* What the session changed, compared now (before .git's private layer is
 * written back: that is git's data, not the agent's edits), with one walk;
 * that walk is kept for the next session's start. NULL when the mode has
 * no host changes to compare. */
static json_t *session_compare_changes(const struct reins_plan *plan,
                                       struct changes_snapshot *before, struct changes_watch *watch,
                                       const char *cache_dir)
{
        if (plan->overlay || plan->workspace_readonly)
                return NULL;
        json_t *changes =
            before ? changes_finish(plan->workspace, cache_dir, before, watch, CHANGES_MAX_LISTED)
                   : NULL;
        if (!changes)
                changes =
                    json_pack("{s:s}", "untracked", "the workspace holds more than 200000 entries");
        changes_free(before);
        changes_watch_free(watch);
        return changes;
}

/* Governance, the risk engine, the overlay copy and the protected paths,
 * before anything the sandbox writes is read. */
/* writable: session with an overlay workspace: the environment's layer is
 * kept with the copy-on-write session (SESSION/environment), so --resume
 * goes on with what was installed and `reins discard` removes both. */
static int session_keep_environment_layer(struct session *s, struct reins_error *err)
{
        char *kept = path_join(s->workspace.dir, "environment");
        if (!kept)
                return reins_error_set(err, ENOMEM, "out of memory");
        struct stat st;
        int r = 0;
        if (lstat(kept, &st) < 0) {
                /* a first run: the fresh layer moves into the session */
                if (rename(s->environment.upper, kept) < 0)
                        r = reins_error_errno(err, errno, "keeping the environment's layer in %s",
                                              kept);
        } else if (!S_ISDIR(st.st_mode)) {
                r = reins_error_set(err, ENOTDIR, "%s: not a directory", kept);
        }
        /* a resumed run keeps the session's layer; the fresh one goes */
        if (r == 0 && (r = plan_environment_move_layers(s->plan, s->environment.upper, kept)) < 0)
                r = reins_error_set(err, -r, "out of memory");
        if (r < 0) {
                free(kept);
                return r;
        }
        env_session_release_layer(&s->environment); /* removes it when it is still there */
        s->environment.upper = kept;
        s->environment.upper_kept = true;
        s->plan_environment.upper = kept;
        return 0;
}

static int session_start_parts(struct session *s, struct reins_error *err)
{
        struct session_govern_options govern = {
            .policy = s->policy,
            .plan = s->plan,
            .session = s->id,
            .resume = s->config.resume,
            .quiet = s->config.quiet,
            .events = &s->events,
            .changed = session_list_now,
            .changed_ctx = s,
        };
        int r = session_govern_start(&s->govern, &govern, err);
        if (r == 0 && s->policy->risk.engine == POLICY_RISK_ENGINE_ON &&
            ((r = session_risk_start(&s->risk, s->policy, s->plan, &s->events, &s->govern,
                                     &s->trail, s->config.quiet, err)) < 0 ||
             (r = session_risk_watch_canaries(&s->risk, &s->canaries, err)) < 0))
                return r;
        if (r < 0)
                return r;
        if (s->plan->overlay) {
                if ((r = session_workspace_start(s->plan, s->policy, s->id, s->config.resume,
                                                 &s->workspace, &s->events, err)) < 0)
                        return r;
                s->workspace_started = true;
                s->risk.workspace = &s->workspace;
                s->risk.workspace_copy = &s->workspace_copy;
                if (s->environment.upper && (r = session_keep_environment_layer(s, err)) < 0)
                        return r;
        }
        return session_protect_start(&s->protect, s->plan, s->id, err);
}

/* Listed in `reins ps` (a failure is only said), with its state: kept to
 * be rewritten when that changes (session_list_tick). */
static void session_register(struct session *s)
{
        const struct reins_plan *plan = s->plan;
        json_t *info =
            json_pack("{s:s, s:s, s:o, s:o}", "agent", plan->agent ? plan->agent : "", "policy",
                      plan->policy_name, "command", bytes_json_array(plan->argv), "workspace",
                      bytes_json_z(plan->workspace));
        const char *control = session_govern_control_path(&s->govern);
        if (info && control)
                json_object_set_new(info, "control", json_string(control));
        /* where the trail is, for `reins serve`'s SIEM forwarding and event
         * stream of the sessions it did not start (it reads only a file of
         * this user's) */
        if (info && s->trail_path && s->trail_path[0] == '/')
                json_object_set_new(info, "trail", json_string(s->trail_path));
        json_t *status = session_listing_status(s);
        session_listed_now(s, &s->listed);
        s->listed_ms = session_now_ms();
        struct reins_error err = {0};
        /* kept for updates when there is a state to list */
        struct runtime_entry **keep = status ? &s->listing : NULL;
        int r = runtime_register(s->id, getpid(), info, status, keep, &err);
        if (r < 0 && !s->config.quiet)
                notice("note: session not listed by 'reins ps': %s", err.message);
        json_decref(status);
        json_decref(info);
}

static int session_spawn(struct session *s, struct reins_error *err)
{
        struct reins_plan *plan = s->plan;
        int r = seccomp_program_build(&plan->syscall_allow, &plan->syscall_deny,
                                      protect_watch_wanted(plan), &s->seccomp, err);
        if (r < 0)
                return r;
        s->in.plan = plan;
        s->in.seccomp = &s->seccomp;
        s->in.park_command = s->config.pool_member;
        if ((r = session_check_landlock(plan, &s->in.landlock_abi, err)) < 0)
                return r;
        /* the deny globs' matches, collected while the session started */
        if ((r = plan_finish_deny(plan, err)) < 0)
                return r;
        /* a WASI module: its engine is the command (the deny and protect
         * lists it enforces are final now) */
        if (s->config.wasm &&
            (r = wasm_run_prepare(&s->wasm, plan, s->config.wasm_cache_dir,
                                  s->config.wasm_events_dir, s->id, &s->plan_options.extra_ro,
                                  &s->plan_options.extra_rw, err)) < 0)
                return r;
        /* and the workspace as it was, to report what the session changed.
         * Joined before the sandbox is forked, as the deny globs' thread:
         * a thread holding malloc's lock at fork leaves the child a lock
         * nobody will release */
        session_changes_join(s);
        session_prepare_terminal(&s->in);
        supervise_block_signals();
        if ((r = spawn_sandbox(&s->in, &s->sandbox, err)) < 0)
                return r;
        s->spawned = true;
        /* the sandbox is forked: from here on nothing in this process may
         * reach the kernel keyring, where the user's key may be unlocked */
        if ((r = seccomp_forbid_keyring_self(err)) < 0)
                return r;
        /* while the sandbox builds its root */
        if ((r = session_setup_cgroup(s, err)) < 0)
                return r;
        s->in.cgroup = s->cgroup.count > 0 ? &s->cgroup : NULL;
        session_risk_set_sandbox(&s->risk, s->sandbox.pid, &s->cgroup);
        if (s->config.on_spawned)
                s->config.on_spawned(s->config.on_spawned_ctx, plan, &s->in);
        return 0;
}

int session_start(struct session *s, struct reins_error *err)
{
        if (s->state != SESSION_CREATED)
                return reins_error_set(err, EALREADY, "session %s was started already", s->id);
        s->state = SESSION_ENDED; /* unless it gets to run */
        clock_gettime(CLOCK_MONOTONIC, &s->started);
        /* a member is built before anyone asks: nothing of it may depend on
         * the request but the command and its environment */
        if (s->config.pool_member && (s->plan->overlay || s->config.resume || s->config.token_file))
                return reins_error_set(err, EINVAL,
                                       "pool: a policy with workspace_mode overlay, a resumed "
                                       "session or a token cannot be kept warm");
        session_changes_begin(s);
        int r;
        if ((r = session_certify(s, err)) < 0 || (r = session_start_parts(s, err)) < 0 ||
            (r = session_credentials_identity(&s->credentials, &s->signer,
                                              s->govern.agent_public.fingerprint, err)) < 0 ||
            (r = session_spawn(s, err)) < 0)
                return r;
        /* no trail, no run: the command has not started yet */
        if ((r = session_open_trail(s, err)) < 0)
                return r;
        if (s->config.pool_member) {
                /* the sandbox finishes its set-up and parks its command just
                 * before execve; nothing is recorded until it is taken */
                if ((r = spawn_send_limits(&s->sandbox, s->in.cgroup, s->in.rlimit_fallback, err)) <
                    0)
                        return r;
                /* session.start's fields, but the command, built now */
                json_t *identity = session_identity(s);
                if (identity)
                        json_object_set_new(identity, "pool", json_true());
                s->start_fields =
                    session_start_fields(s->plan, &s->in, s->config.policy,
                                         s->user_key[0] ? s->user_key : NULL, identity);
                if (!s->start_fields)
                        return reins_error_set(err, ENOMEM, "out of memory");
                if (s->config.container)
                        json_object_set_new(s->start_fields, "container",
                                            bytes_json_z(s->config.container));
                s->parked = true;
                s->state = SESSION_CREATED;
                return 0;
        }
        event_bus_release(&s->events);
        session_emit_start(&s->events, s->plan, &s->in, s->config.policy,
                           s->user_key[0] ? s->user_key : NULL, session_identity(s));
        if (s->config.wasm)
                wasm_run_emit_start(&s->wasm, &s->events);
        /* session.start is on disk before the command's first instruction:
         * an agent that fills the disk at once cannot leave an empty trail */
        if (audit_trail_sync(s->trail) < 0) {
                session_trail_check(s, "the command was not started"); /* says why */
                s->status = SESSION_EXIT_TRAIL_FAILED;
                err->code = EIO; /* no message: it was said */
                return -EIO;
        }
        session_register(s);
        /* everything is recorded: let the command start (EPIPE: the sandbox
         * already failed; session_wait reads why) */
        if ((r = spawn_send_limits(&s->sandbox, s->in.cgroup, s->in.rlimit_fallback, err)) < 0 &&
            err->code != EPIPE)
                return r;
        /* a resumed copy is "running" again: recorded while the command
         * starts, off the start-up path (one atomic rewrite of meta.json) */
        if (s->plan->overlay)
                session_workspace_running(&s->workspace, s->plan->limits.workspace_size_bytes);
        s->pid = s->sandbox.pid;
        s->state = SESSION_RUNNING;
        return 0;
}

/* A pool member's session.start was written before its command was
 * released; made durable now, beside the supervisor's loop: the command's
 * exec waits for the supervisor (exec auditing answers it), and a disk
 * flush on the loop's path (5-9 ms here) would be the whole of the pool's
 * budget. The thread makes one system call on a copy of the trail's fd and
 * touches nothing else of the process (no lock, no allocation). */
static void *session_sync_thread(void *arg)
{
        int fd = (int)(intptr_t)arg;
        if (fdatasync(fd) < 0) {
                /* the trail's next flush meets the same disk and says so */
        }
        close(fd);
        return NULL;
}

static void session_sync_aside(struct session *s)
{
        int fd = audit_trail_fd(s->trail);
        int copy = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 3);
        pthread_t thread;
        pthread_attr_t attr;
        if (copy >= 0 && pthread_attr_init(&attr) == 0) {
                pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                int r = pthread_create(&thread, &attr, session_sync_thread, (void *)(intptr_t)copy);
                pthread_attr_destroy(&attr);
                if (r == 0)
                        return;
        }
        if (copy >= 0)
                close(copy);
        audit_trail_sync(s->trail); /* no thread: here, late */
}

/* A released pool member is listed, its session.start made durable and
 * its caller told: SESSION_LIST_AFTER_EXEC_MS after the supervisor
 * answered the command's exec (an "exec" event: the answer comes before
 * the event), or at the latest SESSION_LIST_LATE_MS after the release (an
 * exec that failed, a program without one), or at the session's end. Not
 * at once after the exec: the listing, the fdatasync, the daemon's reply
 * and its client's next call woke on this VM's two cores while the kernel
 * ran the agent's exec, and took 1.5-2 ms of its CPU (pool_bench.py: the
 * execve call to the agent's first instruction went from 4.3 to 2.3 ms,
 * the exec alone costing 1.6 ms). */
#define SESSION_LIST_LATE_MS       5
#define SESSION_LIST_AFTER_EXEC_MS 3

static void session_list_released(struct session *s)
{
        if (!s->list_pending)
                return;
        s->list_pending = false;
        session_register(s);
        session_sync_aside(s);
        if (s->on_listed)
                s->on_listed(s->on_listed_ctx);
}

static void session_pool_sink(void *ctx, const json_t *event)
{
        struct session *s = ctx;
        const char *type = json_string_value(json_object_get(event, "type"));
        if (s->list_pending && !s->list_exec_seen && type && strcmp(type, "exec") == 0) {
                s->list_exec_seen = true;
                s->list_due_ms = session_now_ms() + SESSION_LIST_AFTER_EXEC_MS;
        }
}

static int64_t session_pool_tick(struct session *s)
{
        if (!s->list_pending)
                return -1;
        int64_t now = session_now_ms();
        if (now < s->list_due_ms)
                return s->list_due_ms - now;
        session_list_released(s);
        return -1;
}

static int session_release_command(struct session *s, char **argv, char *const *env,
                                   size_t env_count, struct reins_error *err)
{
        if (!s->parked || s->state != SESSION_CREATED)
                return reins_error_set(err, EALREADY, "session %s is not a parked pool member",
                                       s->id);
        s->parked = false;
        s->state = SESSION_ENDED; /* unless it gets to run */
        if (!argv || !argv[0])
                return reins_error_set(err, EINVAL, "no command");
        s->plan->argv = argv;
        int r = plan_env_add_caller(s->plan, env, env_count, err);
        if (r < 0)
                return r;
        clock_gettime(CLOCK_MONOTONIC, &s->started);
        /* The command goes first, so the parked process wakes, reads it and
         * calls execve while session.start is written here. It cannot get
         * further: every execve/execveat of the sandbox waits in the seccomp
         * filter (SCMP_ACT_NOTIFY, always installed: add_exec_rules) until
         * this supervisor answers it, which is on this thread's loop, after
         * this function returned with session.start in the trail; the exec
         * listener is only ever the supervisor's. No agent instruction runs
         * before that answer: until execve succeeds, the process runs
         * reins's own code (the memfd's strings, execvp). A trail that
         * fails below returns an error and session_run_command kills the
         * sandbox, the exec unanswered. */
        if ((r = spawn_send_command(&s->sandbox, argv, s->plan->env.items, err)) < 0)
                return r;
        event_bus_release(&s->events);
        json_t *fields = s->start_fields;
        s->start_fields = NULL;
        json_object_set_new(fields, "command", bytes_json_array(argv));
        event_emit(&s->events, "session.start", fields);
        /* session.start is written before the command's first instruction
         * (the filesystem reserves its blocks at write(): an agent filling
         * the disk afterwards cannot take them); made durable right after
         * the command is released, not before as a cold start does: the
         * disk flush (5-9 ms on this VM) is the whole of the pool's budget */
        if (audit_trail_flush(s->trail) < 0 || audit_trail_failure(s->trail)) {
                session_trail_check(s, "the command was not started"); /* says why */
                s->status = SESSION_EXIT_TRAIL_FAILED;
                err->code = EIO;
                return -EIO;
        }
        s->last_flush_ms = session_now_ms();
        /* told of the exec (no sink free: listed at the next tick) */
        event_bus_add_sink(&s->events, session_pool_sink, s);
        s->pid = s->sandbox.pid;
        s->state = SESSION_RUNNING;
        s->list_pending = true;
        s->list_due_ms = session_now_ms() + SESSION_LIST_LATE_MS;
        return 0;
}

int session_add_source(struct session *s, int fd, session_source_handler handler, void *ctx)
{
        if (s->source_count >= SESSION_SOURCES_MAX)
                return -ENOSPC;
        s->sources[s->source_count++] = (struct session_source){fd, handler, ctx};
        return 0;
}

void session_remove_source(struct session *s, int fd)
{
        for (size_t i = 0; i < s->source_count; i++)
                if (s->sources[i].fd == fd) {
                        if (s->loop)
                                loop_remove_fd(s->loop, fd);
                        s->sources[i] = s->sources[--s->source_count];
                        return;
                }
}

int session_run_command(struct session *s, char **argv, char *const *env, size_t env_count,
                        void (*on_listed)(void *ctx), void *ctx, struct reins_error *err)
{
        bool was_parked = s->parked;
        s->on_listed = on_listed;
        s->on_listed_ctx = ctx;
        int r = session_release_command(s, argv, env, env_count, err);
        /* not released: the parked command must not wait for ever; the
         * session ends (the loop sees the sandbox go) and records why */
        if (r < 0 && was_parked && s->spawned)
                syscall(SYS_pidfd_send_signal, s->sandbox.pidfd, SIGKILL, NULL, 0);
        return r;
}

static void session_listener_end(struct session *s, size_t i)
{
        struct session_listener *l = s->listeners[i];
        if (s->loop)
                loop_remove_fd(s->loop, l->fd);
        seccomp_notify_finish(&l->notify, &s->events);
        close(l->fd);
        free(l);
        s->listeners[i] = NULL;
}

static void session_listener_ready(void *ctx, int fd, uint32_t events)
{
        (void)events;
        struct session_listener *l = ctx;
        struct session *s = l->session;
        /* exec rules of the gate are the command's: none here, the exec is
         * recorded and the risk engine reads it as any other */
        if (seccomp_notify_handle(fd, &l->notify, &s->events, NULL) < 0)
                for (size_t i = 0; i < SESSION_LISTENERS_MAX; i++)
                        if (s->listeners[i] == l)
                                session_listener_end(s, i);
}

int session_watch_listener(struct session *s, int fd)
{
        if (!s->loop || s->state != SESSION_RUNNING)
                return -EAGAIN;
        size_t i = 0;
        while (i < SESSION_LISTENERS_MAX && s->listeners[i])
                i++;
        if (i == SESSION_LISTENERS_MAX)
                return -EMFILE;
        struct session_listener *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->session = s;
        l->fd = fd;
        int r = seccomp_notify_init(&l->notify, NULL);
        if (r == 0)
                r = loop_add_fd(s->loop, fd, session_listener_ready, l);
        if (r < 0) {
                free(l);
                return r;
        }
        s->listeners[i] = l;
        return 0;
}

void session_retire(struct session *s)
{
        if (!s->parked)
                return;
        s->parked = false;
        s->retired = true;
        /* pid 1 dies and takes the parked command with it; the loop sees
         * the end and session_wait returns */
        if (s->spawned)
                syscall(SYS_pidfd_send_signal, s->sandbox.pidfd, SIGKILL, NULL, 0);
}

bool session_retired(const struct session *s)
{
        return s->retired;
}

/* After session_wait: the trail of a retired member goes. */
static void session_remove_unused_trail(struct session *s)
{
        char *trail = s->trail_path ? strdup(s->trail_path) : NULL;
        session_close(s);
        if (trail)
                unlink(trail);
        free(trail);
}

/* ---- the end --------------------------------------------------------------- */

/* What the session leaves: the capped copy stored, git's data written
 * back, the change record, session.end. */
static void session_finish(struct session *s, const struct supervise_outcome *outcome)
{
        struct reins_plan *plan = s->plan;
        /* the capped copy lived in memory: it goes to the session directory
         * before the session ends (the sandbox is gone, the copy is still) */
        if (s->workspace_copy >= 0) {
                session_workspace_store(&s->workspace, s->workspace_copy, &s->events);
                close(s->workspace_copy);
                s->workspace_copy = -1;
        }
        audit_trail_flush(s->trail); /* a disk filled at the very end */
        session_trail_check(s, "the session had ended");
        /* git's own data back to the host's .git, protected writes recorded
         * (before the engine's last tick: they feed persistence-write) */
        json_t *changes =
            session_compare_changes(plan, s->before, s->changes_watch, s->config.changes_cache_dir);
        s->before = NULL;
        s->changes_watch = NULL;
        session_protect_finish(&s->protect, plan, plan->overlay ? &s->workspace : NULL, changes,
                               &s->events, s->config.quiet);
        session_risk_tick(&s->risk); /* the last findings, before session.end */
        session_govern_end(&s->govern);
        if (changes) {
                /* past a cap the session still ends normally: a "limit" event
                 * says what was cut, before the (bounded) record itself */
                json_t *limit = changes_limit_fields(changes);
                if (limit)
                        event_emit(&s->events, "limit", limit);
                event_emit(&s->events, "files.changed", changes);
        }
        /* after the scan: they were there when it started */
        plan_remove_placeholders(plan);
        session_list_released(s); /* a pool member whose command ended at once */
        session_emit_end(&s->events, plan, outcome, &s->cgroup, session_elapsed_ms(s->started));
        runtime_unregister(s->id);
        runtime_entry_free(s->listing);
        s->listing = NULL;
        /* what supervisors killed with -9 left, off the start-up path; a few
         * names per end, so ending costs the same beside 1 000 sessions */
        runtime_sweep_some(16);
}

/* The run's exit status, as `reins run` reports it (docs/run-contract.md). */
static int session_exit_status(const struct session *s, const struct supervise_outcome *outcome)
{
        if (s->trail_failed)
                return SESSION_EXIT_TRAIL_FAILED;
        if (outcome->timed_out)
                return SESSION_EXIT_TIMEOUT;
        if (outcome->setup_failed)
                return SESSION_EXIT_FAILED;
        return outcome->exit_status;
}

int session_wait(struct session *s, struct supervise_outcome *outcome)
{
        memset(outcome, 0, sizeof(*outcome));
        if (s->state != SESSION_RUNNING && s->state != SESSION_FROZEN && !s->parked)
                return s->status;
        struct reins_error err = {0};
        struct loop *loop = NULL;
        int r = loop_new(&loop);
        /* the trail's flush, governance and the engine, when they are due */
        if (r == 0 && s->config.wasm)
                r = loop_add_tick(loop, session_wasm_tick, s);
        if (r == 0 && (r = loop_add_tick(loop, session_tick, s)) == 0 &&
            (r = session_govern_watch(&s->govern, loop)) == 0)
                r = session_risk_watch(&s->risk, loop);
        /* read as they come, so the kernel's queue does not overflow (the
         * end would walk); failing that, read at the end */
        if (r == 0 && s->changes_watch)
                loop_add_fd(loop, changes_watch_fd(s->changes_watch), session_changes_drain, s);
        /* a parked pool member's socket and workspace watch */
        for (size_t i = 0; r == 0 && i < s->source_count; i++)
                r = loop_add_fd(loop, s->sources[i].fd, s->sources[i].handler, s->sources[i].ctx);
        s->loop = loop;
        if (r < 0) { /* fail closed: no trail flush, no engine, no run */
                notice("the session's event loop: %s", strerror(-r));
                s->loop = NULL;
                loop_free(loop);
                outcome->setup_failed = true;
                s->state = SESSION_ENDED; /* session_close kills the sandbox */
                return s->status;
        }
        struct supervise_config config = {.plan = s->plan,
                                          .events = &s->events,
                                          .loop = loop,
                                          .inject = &s->credentials.inject,
                                          .terminator = s->credentials.terminator};
        session_govern_configure(&s->govern, &config);
        session_risk_configure(&s->risk, &config);
        if (s->plan->overlay && s->plan->limits.workspace_size_bytes > 0)
                config.workspace_copy = &s->workspace_copy;
        config.parked = &s->parked;
        config.on_ready = s->config.on_ready;
        config.on_ready_ctx = s->config.on_ready_ctx;
        config.on_running = s->config.on_running;
        if (supervise(&s->sandbox, &config, outcome, &err) < 0 && !s->retired)
                notice("%s", err.message);
        for (size_t i = 0; i < SESSION_LISTENERS_MAX; i++)
                if (s->listeners[i])
                        session_listener_end(s, i);
        s->loop = NULL;
        loop_free(loop);
        if (s->retired || s->parked) { /* nothing ran: no end to record */
                s->parked = false;
                s->retired = true;
                s->waited = true;
                s->pid = 0;
                s->state = SESSION_ENDED;
                s->status = 0;
                session_remove_unused_trail(s);
                return 0;
        }
        s->waited = true;
        s->pid = 0;
        if (s->config.wasm)
                wasm_run_emit_report(&s->wasm, &s->events);
        session_finish(s, outcome);
        s->state = SESSION_ENDED;
        s->status = session_exit_status(s, outcome);
        return s->status;
}

/* ---- from outside ---------------------------------------------------------- */

int session_stop(struct session *s, unsigned grace_ms)
{
        pid_t pid = s->pid;
        if (!pid || (s->state != SESSION_RUNNING && s->state != SESSION_FROZEN))
                return -ESRCH;
        int fd = s->sandbox.pidfd;
        /* through the pidfd: a pid reused since cannot be signalled */
        if (syscall(SYS_pidfd_send_signal, fd, SIGTERM, NULL, 0) < 0)
                return -errno;
        struct timespec step = {.tv_nsec = 10 * 1000000L};
        for (unsigned waited = 0; waited < grace_ms && s->pid; waited += 10)
                nanosleep(&step, NULL);
        if (s->pid && syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
                return -errno;
        return 0;
}

int session_freeze(struct session *s, const char *why)
{
        if (s->state != SESSION_RUNNING)
                return s->state == SESSION_FROZEN ? 0 : -ESRCH;
        event_emit(&s->events, "session.freeze", json_pack("{s:s}", "by", why ? why : "caller"));
        int r = session_risk_freeze(&s->risk, &s->events);
        if (r == 0)
                s->state = SESSION_FROZEN;
        return r;
}

int session_thaw(struct session *s, const char *why)
{
        if (s->state != SESSION_FROZEN && !s->risk.frozen)
                return s->state == SESSION_RUNNING ? 0 : -ESRCH;
        struct reins_error err = {0};
        json_t *by = json_pack("{s:s}", "by", why ? why : "caller");
        int r = session_risk_thaw(&s->risk, by, &err);
        json_decref(by);
        if (r == 0)
                s->state = SESSION_RUNNING;
        return r;
}

void session_status(const struct session *s, struct session_status *out)
{
        out->state = s->state == SESSION_RUNNING && s->risk.frozen ? SESSION_FROZEN : s->state;
        out->pid = s->pid;
        out->sandbox_pid = s->spawned && !s->waited ? s->sandbox.pid : 0;
        out->tier = s->risk.applied;
}

int session_close(struct session *s)
{
        if (!s)
                return SESSION_EXIT_FAILED;
        if (s->closed)
                return s->status;
        s->closed = true;
        if (s->spawned && !s->waited) /* started half-way: never ran, or never waited for */
                spawn_kill(&s->sandbox);
        else if (s->spawned) {
                close(s->sandbox.pidfd);
                close(s->sandbox.status_fd);
        }
        session_changes_join(s);
        changes_free(s->before);
        s->before = NULL;
        changes_watch_free(s->changes_watch);
        s->changes_watch = NULL;
        session_risk_set_sandbox(&s->risk, 0, NULL); /* gone, and its cgroups go next */
        cgroup_destroy(&s->cgroup);
        seccomp_program_free(&s->seccomp);
        /* the copy is "finished" with the run's status (a failed start: 125) */
        if (s->workspace_started)
                session_workspace_finish(&s->workspace, s->status, s->status == SESSION_EXIT_FAILED,
                                         &s->events);
        if (s->plan) {
                session_protect_finish(&s->protect, s->plan, NULL, NULL, &s->events, true);
                plan_remove_placeholders(s->plan);
        }
        event_bus_release(&s->events); /* whatever is still queued, to the sinks there are */
        session_close_trail(s);
        if (s->trail_failed)
                s->status = SESSION_EXIT_TRAIL_FAILED;
        return s->status;
}

void session_free(struct session *s)
{
        if (!s)
                return;
        session_close(s);
        json_decref(s->start_fields);
        wasm_run_free(&s->wasm);
        plan_free(s->plan);
        policy_free(s->policy);
        env_session_release(&s->environment); /* the writable layer goes with the session */
        event_bus_fini(&s->events);
        session_govern_finish(&s->govern); /* its control socket was a sink until here */
        session_risk_finish(&s->risk);     /* and so was the engine */
        canary_remove(&s->canaries);
        session_credentials_free(&s->credentials);
        audit_anchor_free(s->anchor);
        audit_session_signer_wipe(&s->signer);
        runtime_entry_free(s->listing);
        free(s->trail_path);
        free(s->trail_dir);
        vm_prepared_free(&s->vm);
        free(s);
}

/* The plan: everything the spawn pipeline will do, computed up front from the
 * policy and the command line as plain data (unit-testable, printable with -v).
 * The post-clone child only executes it; it never parses a policy. */
#ifndef REINS_SANDBOX_PLAN_H
#define REINS_SANDBOX_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"
#include "util/error.h"
#include "util/strv.h"

enum mount_op_kind {
        MOUNT_OP_BIND_RO, /* bind host `source` at `target`, read-only, nosuid, nodev */
        MOUNT_OP_BIND_RW, /* bind host `source` at `target`, read-write, nosuid, nodev */
        MOUNT_OP_TMPFS,   /* fresh tmpfs at `target` (size_bytes, 0 = default) */
        MOUNT_OP_PROC,    /* fresh procfs for the new pid namespace at `target` */
        MOUNT_OP_DEV,     /* minimal /dev at `target`: null zero full random urandom tty, pts,
                             shm (a tmpfs of size_bytes, 0 = default) */
        MOUNT_OP_HIDE,    /* make `target` (inside a bound tree) unusable: empty, no access */
        MOUNT_OP_PROTECT, /* re-bind `target` (inside a bound tree) onto itself read-only */
        MOUNT_OP_SYMLINK, /* create symlink `target` -> `source` (e.g. /bin -> usr/bin) */
        MOUNT_OP_FILE,    /* create file `target` on the tmpfs root holding the text `source` */
        MOUNT_OP_OVERLAY, /* overlayfs at `target`: lower `source` (host, never written),
                             upper and work from the workspace session; with
                             size_bytes, upper and work live in a tmpfs of that
                             size, filled from and handed back to the session */
        MOUNT_OP_PIN,     /* re-bind `target` (a directory of the workspace) onto
                             itself, writable as it was: a mount point cannot be
                             renamed or removed (EBUSY), so an ancestor of a
                             protected path cannot be swapped for another */
        MOUNT_OP_GITDIR   /* the workspace's .git, direct mode: overlayfs with lower
                             `source` (the host's .git), upper and work private to
                             reins (plan_set_gitdir); git's own data is written back
                             when the session ends (workspace/gitdir.c) */
};

struct mount_op {
        enum mount_op_kind kind;
        char *source; /* host path, for binds; for tmpfs, proc and /dev: the name
                         mountinfo shows as the source (NULL: the type's name) */
        char *target; /* path inside the sandbox (absolute) */
        uint64_t size_bytes;
        bool optional;      /* a missing source is skipped rather than fatal */
        char *upper;        /* MOUNT_OP_OVERLAY: the session's copy */
        char *work;         /* MOUNT_OP_OVERLAY: overlayfs' work directory */
        bool create_source; /* reins' own directory (a cache): the caller creates it */
        /* MOUNT_OP_TMPFS at /tmp and MOUNT_OP_DEV: /tmp and /dev/shm are two
         * directories of one tmpfs of size_bytes, so their sum is capped */
        bool shared_scratch;
        bool nested;      /* planned inside the workspace by plan_protect.c: the deny
                             walk of the workspace already covers it */
        bool noexec;      /* binds and tmpfs: MOUNT_ATTR_NOEXEC too (an OCI mount's option) */
        bool environment; /* part of a declared environment's root (plan_environment.c):
                             its source is not the host path of its target, so the
                             host-side deny walk of the target does not apply */
};

/* Landlock access classes, applied to paths as seen inside the sandbox. */
enum landlock_access {
        LANDLOCK_RULE_READ_EXEC,  /* read files, list dirs, execute */
        LANDLOCK_RULE_READ_WRITE, /* everything filesystem-related */
        LANDLOCK_RULE_DEVICE,     /* read/write character devices (/dev/null, tty...) */
        LANDLOCK_RULE_LIST_DIR,   /* list directories only (the tmpfs root, so `ls /` works) */
};

struct landlock_rule {
        char *path; /* inside the sandbox, after pivot_root */
        enum landlock_access access;
};

struct cgroup_plan {
        uint64_t memory_bytes; /* 0 = none */
        uint64_t pids;         /* 0 = none */
        uint64_t cpus_milli;   /* 0 = none */
        /* a container's (plan_root): written as given when cpus_milli is
         * theirs; shares and cpuset only with a cgroup of cpus_milli or
         * pids or memory; path: where the directories go (NULL: reins') */
        uint64_t cpu_shares, cpu_period_us, cpu_quota_us;
        const char *cpuset_cpus, *cpuset_mems;
        const char *path;
        bool freezer; /* the risk engine may freeze the sandbox: a freezer cgroup */
};

struct plan_deny_job; /* plan_deny.c */

struct reins_plan {
        /* what to run */
        char **argv; /* verbatim from after `--` (borrowed from main's argv) */
        /* when reins rewrote the command (isolation wasm: the module's
         * engine, wasm/run.c), argv points here */
        struct reins_strv argv_owned;
        struct reins_strv env; /* NAME=VALUE, the whole environment of the command */
        /* names the plan itself set after the caller's (the proxy's, git's
         * settings): a caller's --env never overrides them */
        struct reins_strv env_owned;
        char *workspace; /* absolute, symlink-free host path; bound at the same path */
        char *cwd;       /* inside the sandbox: the workspace */
        bool overlay;    /* copy-on-write workspace (needs plan_set_overlay) */
        bool workspace_readonly;
        char *hostname;

        /* filesystem */
        struct mount_op *mounts;
        size_t mount_count;
        struct landlock_rule *landlock;
        size_t landlock_count;

        /* limits */
        struct policy_limits limits;
        struct cgroup_plan cgroup;

        /* seccomp adjustments on top of the default profile */
        struct reins_strv syscall_allow;
        struct reins_strv syscall_deny;

        /* network */
        bool host_network;           /* --net host: no network namespace at all (loud) */
        bool proxy;                  /* network mode proxy: the egress proxy serves on 127.0.0.1 */
        struct reins_strv net_allow; /* policy network.allow + --allow-net */
        struct reins_strv net_deny;
        struct reins_strv net_ask;   /* network.ask: a human decides */
        bool agent_channel;          /* the agent's request channel on 127.0.0.1:3129 */
        struct reins_strv net_hosts; /* "name=address" */
        uint64_t egress_budget_bytes;

        /* switches */
        bool use_pty;        /* stdin is a terminal: give the sandbox its own pty */
        bool strict;         /* refuse rather than fall back (cgroups) */
        bool allow_degraded; /* run without a protection the kernel lacks, loudly */
        int verbosity;       /* -1 quiet, 0 normal, 1+ verbose */

        /* deny globs made absolute (workspace-relative ones anchored at the
         * workspace), used while planning and for -v */
        struct reins_strv missing_paths; /* filesystem.read/write entries absent here */
        struct reins_strv deny_patterns;
        /* the relative deny patterns as written: they also apply below
         * every --ro/--rw and filesystem.write path (not below system reads) */
        struct reins_strv deny_relative;
        const char *home; /* borrowed from the options, for ~ */
        /* reins' private directory of deny caches (sandbox/deny_cache.h), or
         * NULL to walk the trees; borrowed from the options */
        const char *deny_cache_dir;
        /* the deny matches being collected in the background, and where
         * their HIDE ops go (plan_finish_deny) */
        struct plan_deny_job *deny_job;
        size_t deny_insert_at;

        /* direct mode (plan_protect.c): the host's .git behind MOUNT_OP_GITDIR,
         * or NULL; and the empty directories reins created on the host so
         * that a missing protected directory can be bound read-only (removed
         * when the session ends, if still empty) */
        char *gitdir;
        struct reins_strv placeholders;
        const char *spare_dir; /* borrowed from the options */

        /* a container's own root (reins oci): NULL for reins run */
        const struct plan_root *root;
        /* a declared environment as the system's root: NULL for the host's */
        const struct plan_environment *environment;

        char policy_sha256[65];
        char *policy_name;
        char *agent; /* the policy's agent name, NULL when unset */
};

/* A container's own root (reins oci, src/oci/): the sandbox's root is a
 * bind of `dir` (the bundle's rootfs) instead of a tmpfs holding the
 * policy's host binds, and the process runs as the container says. Every
 * pointer is borrowed and must outlive the plan. */
struct plan_root_mount {
        enum mount_op_kind kind; /* BIND_RO, BIND_RW, TMPFS, PROC, DEV */
        const char *source;      /* binds: host path; others: the fs source name */
        const char *target;      /* inside the container */
        uint64_t size_bytes;     /* tmpfs: 0 = default */
        bool noexec;
        size_t index; /* its place in config.json's mounts, for errors */
};

struct plan_rlimit {
        int resource;
        uint64_t soft, hard;
};

struct plan_root {
        const char *dir; /* absolute, symlink-free host directory */
        bool readonly;
        const char *hostname; /* NULL: "reins" */
        const char *cwd;      /* inside the container: absolute */
        /* the container's console (--console-socket): pid 1 makes a pty in
         * the sandbox's own devpts, sends its master over console_socket (a
         * connected unix socket, SCM_RIGHTS) and gives the slave to the
         * command as stdio and controlling terminal */
        bool console;
        int console_socket;
        bool set_ids;
        uint32_t uid, gid;
        const uint32_t *groups;
        size_t group_count;
        const char *uid_map, *gid_map; /* the user namespace's maps as written to
                                          /proc/PID/uid_map; NULL: reins' own */
        const struct plan_root_mount *mounts;
        size_t mount_count;
        /* config.json's sources of the mounts reins makes in /dev (NULL:
         * "devpts", "shm"); mqueue: a POSIX message queue fs at /dev/mqueue
         * when config.json lists one, NULL: none */
        const char *pts_source, *shm_source, *mqueue_source;
        /* linux.namespaces paths to join (a pod's ipc and uts namespaces):
         * the container's supervisor enters them before clone (oci/), the
         * sandbox then makes no ipc or uts namespace of its own. NULL: its
         * own */
        const char *join_ipc, *join_uts;
        /* with a joined ipc namespace, the supervisor makes /dev/mqueue's
         * filesystem (the sandbox's user namespace does not own that ipc
         * namespace): a detached mount the sandbox attaches. */
        bool mqueue_premade;
        int mqueue_fd;
        /* process.capabilities, already narrowed to what reins grants a
         * container (OCI_CAPS_GRANTABLE): bit N = capability N. Without
         * caps_given the command keeps none, as under `reins run`. */
        bool caps_given;
        uint64_t cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
        char *const *masked; /* paths made unusable (MOUNT_OP_HIDE) */
        size_t masked_count;
        char *const *readonly_paths; /* re-bound read-only (MOUNT_OP_PROTECT) */
        size_t readonly_count;
        const struct plan_rlimit *rlimits; /* only ever lower what reins set */
        size_t rlimit_count;
        /* an extra seccomp filter (struct sock_filter[]), installed last
         * before execve on top of reins' own: the kernel applies the
         * stricter answer of the two */
        const void *filter;
        size_t filter_len; /* in instructions */
        bool set_oom_score;
        int oom_score_adj; /* only ever raised */
        /* linux.sysctl "name=value", namespaced ones only (checked by the
         * caller), written into the fresh /proc before it is sealed */
        char *const *sysctl;
        size_t sysctl_count;
        /* linux.resources: each only ever lowers the policy's limit (0: none) */
        uint64_t memory_bytes, pids, cpus_milli;
        /* and as config.json wrote them, for the cgroup files (0/NULL: none):
         * cpu.shares (a weight, no limit), the quota and period behind
         * cpus_milli, cpuset cpus and mems (they only narrow) */
        uint64_t cpu_shares, cpu_period_us, cpu_quota_us;
        const char *cpuset_cpus, *cpuset_mems;
        /* linux.cgroupsPath: absolute, from each hierarchy's root; relative,
         * below the runtime's own cgroup. NULL: reins-PID-N below its own */
        const char *cgroups_path;
};

/* A declared environment (src/env/) as the sandbox's system root instead of
 * the host's /usr, /etc ...: each top-level directory of `rootfs` bound
 * read-only at its place (or, with `upper`, an overlay whose upper layer is
 * upper/NAME/upper), its top-level symlinks recreated; the workspace, /tmp,
 * /proc, /dev, caches and write paths as for the host's root. Every pointer
 * is borrowed. */
struct plan_environment {
        const char *rootfs;         /* absolute, symlink-free */
        const char *passwd, *group; /* bound over /etc/passwd and /etc/group, or NULL */
        const char *upper;          /* writable: session; NULL: read-only */
        const char *key;            /* the cache entry's key, for session.start */
};

/* writable: session kept with an overlay session: the environment's
 * overlays take their layers from `to` instead of `from`. 0 or -ENOMEM. */
int plan_environment_move_layers(struct reins_plan *plan, const char *from, const char *to);

/* Is the top-level entry `name` of an environment part of the sandbox's
 * root? Not the pseudo filesystems, /tmp, homes or boot files. */
bool plan_environment_uses(const char *name);

/* Inputs from the command line that shape a plan on top of the policy. */
/* Workspace paths that may be written (a delegation token's `path` sets):
 * a relative path is writable when it matches a glob of every set. */
struct plan_write_limit {
        const struct reins_strv *sets;
        size_t count;
};

/* Canary files to bind read-only: sources[i] (host) at targets[i] ("~/..."). */
struct plan_canaries {
        char *const *sources;
        const char *const *targets;
        size_t count;
};

/* credentials: (session/credentials.h): what the sandbox gets of them. */
struct plan_credentials {
        char *const *env; /* NAME=VALUE: placeholders, the CA variables */
        size_t env_count;
        const char *bundle;        /* PEM text of the CA bundle; NULL: none */
        const char *bundle_target; /* where it is inside */
        char *const *drop_env;     /* names removed from the command's environment (env sources) */
        size_t drop_env_count;
        char *const *file_targets; /* credential files: text file_texts[i] at file_targets[i] */
        char *const *file_texts;
        size_t file_count;
};

struct plan_options {
        const char *workspace;            /* -w; NULL = current directory */
        const char *workspace_mode;       /* --workspace-mode; NULL = policy's */
        struct reins_strv extra_ro;       /* --ro */
        struct reins_strv extra_rw;       /* --rw */
        struct reins_strv extra_env;      /* --env NAME or NAME=VALUE */
        const char *memory, *pids, *cpus; /* overrides, parsed like the policy */
        const char *timeout;
        const char *net;             /* --net none|proxy|host; NULL = policy's */
        const char *isolation;       /* --isolation container|vm; NULL = policy's */
        struct reins_strv allow_net; /* --allow-net HOST[:PORT] (implies proxy) */
        bool strict, allow_degraded;
        int verbosity;
        char **argv; /* the command */
        char **host_environ;
        const char *home;           /* $HOME of the caller, for ~ */
        const char *deny_cache_dir; /* NULL: walk every tree a deny glob needs */
        /* reins' private directory of spare empty directories for the
         * placeholders (plan_protect.c); NULL: made and removed each run */
        const char *spare_dir;
        bool stdin_is_tty;
        struct plan_write_limit write_limit; /* count 0: the workspace as the mode says */
        struct plan_canaries canaries;       /* count 0: none */
        struct plan_credentials credentials; /* env_count 0 and no bundle: none */
        /* directories never visible inside, whatever the policy binds, as
         * reins' own state is not: the state of the daemon that started the
         * session (its signing key; reins run --daemon-state) */
        struct reins_strv hide;
        /* a container's root instead of the host's binds (reins oci) */
        const struct plan_root *root;
        /* a declared environment instead of the host's system directories */
        const struct plan_environment *environment;
};

int plan_build(const struct reins_policy *policy, const struct plan_options *options,
               struct reins_plan **out, struct reins_error *err);

/* The size of the tmpfs that /tmp and /dev/shm share: limits.tmp_size, at
 * most what the memory limit leaves beside a capped overlay copy (0 = none). */
uint64_t plan_scratch_size(const struct policy_limits *limits, bool overlay);

/* Before the sandbox is spawned: the deny matches plan_build left being
 * collected in the background (with options->deny_cache_dir) become HIDE
 * ops, and git's settings for the hidden files are added. Until then the
 * plan hides nothing matched by a glob: never spawn without it. 0 when
 * nothing was pending. */
int plan_finish_deny(struct reins_plan *plan, struct reins_error *err);

/* Overlay mode: point the workspace's overlay at a session's upper/work. */
int plan_set_overlay(struct reins_plan *plan, const char *upper, const char *work);
/* Direct mode with a .git directory: the private upper/work of its overlay. */
int plan_set_gitdir(struct reins_plan *plan, const char *upper, const char *work);
/* Remove the placeholder directories that are still empty (end of session,
 * or a failed start). */
void plan_remove_placeholders(struct reins_plan *plan);
void plan_free(struct reins_plan *plan);

/* Add a mount operation (exported for tests and plan_root.c). */
int plan_add_mount(struct reins_plan *plan, enum mount_op_kind kind, const char *source,
                   const char *target, uint64_t size_bytes);

/* A name at the workspace's top that a session may create there empty as a
 * placeholder and remove again at its end (.claude, .vscode ...). */
bool plan_is_placeholder_name(const char *name);

/* A pool member's command arrives after the plan was built (serve/pool.c):
 * the caller's NAME=VALUE pairs enter the environment as --env would (a name
 * the plan set itself keeps the plan's value). -EINVAL for a bad name. */
int plan_env_add_caller(struct reins_plan *plan, char *const *pairs, size_t count,
                        struct reins_error *err);

#endif

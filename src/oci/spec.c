/* config.json -> struct oci_spec (see spec.h). Every error names its key. */
#include "oci/spec.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/path.h"

#define SPEC_ERR(err, ...) reins_error_set(err, EINVAL, "config.json: " __VA_ARGS__)

static int spec_string(const json_t *obj, const char *key, const char *where, bool required,
                       const char **out, struct reins_error *err)
{
        json_t *v = json_object_get(obj, key);
        *out = NULL;
        if (!v) {
                if (required)
                        return SPEC_ERR(err, "%s%s is missing", where, key);
                return 0;
        }
        if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
                return SPEC_ERR(err, "%s%s: expected a string", where, key);
        *out = json_string_value(v);
        return 0;
}

/* A NULL-terminated copy of an array of strings (the strings borrowed). */
static int spec_string_array(const json_t *v, const char *what, size_t max, char ***out,
                             size_t *count, struct reins_error *err)
{
        *out = NULL;
        if (count)
                *count = 0;
        if (!v)
                return 0;
        if (!json_is_array(v))
                return SPEC_ERR(err, "%s: expected an array of strings", what);
        size_t n = json_array_size(v);
        if (n > max)
                return SPEC_ERR(err, "%s: more than %zu entries", what, max);
        char **list = calloc(n + 1, sizeof(*list));
        if (!list)
                return reins_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                json_t *s = json_array_get(v, i);
                if (!json_is_string(s) || strlen(json_string_value(s)) != json_string_length(s)) {
                        free(list);
                        return SPEC_ERR(err, "%s[%zu]: expected a string", what, i);
                }
                list[i] = (char *)json_string_value(s);
        }
        *out = list;
        if (count)
                *count = n;
        return 0;
}

static int spec_u32(const json_t *obj, const char *key, const char *where, uint32_t *out,
                    struct reins_error *err)
{
        json_t *v = json_object_get(obj, key);
        if (!v)
                return 0;
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > (json_int_t)UINT32_MAX)
                return SPEC_ERR(err, "%s%s: expected an integer from 0 to 4294967295", where, key);
        *out = (uint32_t)json_integer_value(v);
        return 0;
}

static int spec_process_user(struct oci_spec *spec, const json_t *process, struct reins_error *err)
{
        json_t *user = json_object_get(process, "user");
        spec->root.set_ids = true;
        if (!user)
                return 0;
        if (!json_is_object(user))
                return SPEC_ERR(err, "process.user: expected an object");
        int r;
        if ((r = spec_u32(user, "uid", "process.user.", &spec->root.uid, err)) < 0 ||
            (r = spec_u32(user, "gid", "process.user.", &spec->root.gid, err)) < 0)
                return r;
        json_t *groups = json_object_get(user, "additionalGids");
        if (!groups)
                return 0;
        if (!json_is_array(groups) || json_array_size(groups) > OCI_SPEC_MAX_GROUPS)
                return SPEC_ERR(err,
                                "process.user.additionalGids: expected an array of at most "
                                "%d gids",
                                OCI_SPEC_MAX_GROUPS);
        size_t n = json_array_size(groups);
        spec->groups = calloc(n + 1, sizeof(*spec->groups));
        if (!spec->groups)
                return reins_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                json_t *g = json_array_get(groups, i);
                if (!json_is_integer(g) || json_integer_value(g) < 0 ||
                    json_integer_value(g) > (json_int_t)UINT32_MAX)
                        return SPEC_ERR(err, "process.user.additionalGids[%zu]: expected a gid", i);
                spec->groups[i] = (uint32_t)json_integer_value(g);
        }
        spec->root.groups = spec->groups;
        spec->root.group_count = n;
        return 0;
}

static const struct {
        const char *name;
        int resource;
} spec_rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

static int spec_rlimits(struct oci_spec *spec, const json_t *process, struct reins_error *err)
{
        json_t *list = json_object_get(process, "rlimits");
        if (!list)
                return 0;
        size_t max = sizeof(spec_rlimit_names) / sizeof(spec_rlimit_names[0]);
        if (!json_is_array(list) || json_array_size(list) > max)
                return SPEC_ERR(err, "process.rlimits: expected an array of at most %zu entries",
                                max);
        size_t n = json_array_size(list);
        spec->rlimits = calloc(n + 1, sizeof(*spec->rlimits));
        if (!spec->rlimits)
                return reins_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                json_t *e = json_array_get(list, i);
                const char *type = NULL;
                int r = json_is_object(e)
                            ? spec_string(e, "type", "process.rlimits[].", true, &type, err)
                            : SPEC_ERR(err,
                                       "process.rlimits[%zu]: expected an "
                                       "object",
                                       i);
                if (r < 0)
                        return r;
                size_t k = 0;
                while (k < max && strcmp(spec_rlimit_names[k].name, type) != 0)
                        k++;
                if (k == max)
                        return SPEC_ERR(err, "process.rlimits[%zu].type '%.32s' is unknown", i,
                                        type);
                json_t *hard = json_object_get(e, "hard"), *soft = json_object_get(e, "soft");
                if (!json_is_integer(hard) || !json_is_integer(soft) ||
                    json_integer_value(hard) < 0 || json_integer_value(soft) < 0)
                        return SPEC_ERR(err,
                                        "process.rlimits[%zu]: hard and soft must be "
                                        "integers",
                                        i);
                spec->rlimits[i] = (struct plan_rlimit){
                    .resource = spec_rlimit_names[k].resource,
                    .hard = (uint64_t)json_integer_value(hard),
                    .soft = (uint64_t)json_integer_value(soft),
                };
        }
        spec->root.rlimits = spec->rlimits;
        spec->root.rlimit_count = n;
        return 0;
}

/* What reins grants a container of process.capabilities: runc's default
 * set, each of which acts only inside the container's own namespaces (its
 * user namespace owns its files' ids there, its network namespace has only
 * loopback and reins' proxy, device nodes are void under nodev), less
 * CAP_DAC_OVERRIDE: the stand-ins of the files the policy hides have no
 * permission bit, and must stay unreadable. The rest (SYS_ADMIN,
 * NET_ADMIN, SYS_PTRACE...) is withheld too, and the log says so. */
#define CAPBIT(c) (1ULL << (c))
static const uint64_t OCI_CAPS_GRANTABLE =
    CAPBIT(CAP_CHOWN) | CAPBIT(CAP_FSETID) | CAPBIT(CAP_FOWNER) | CAPBIT(CAP_MKNOD) |
    CAPBIT(CAP_NET_RAW) | CAPBIT(CAP_SETGID) | CAPBIT(CAP_SETUID) | CAPBIT(CAP_SETFCAP) |
    CAPBIT(CAP_SETPCAP) | CAPBIT(CAP_NET_BIND_SERVICE) | CAPBIT(CAP_SYS_CHROOT) | CAPBIT(CAP_KILL) |
    CAPBIT(CAP_AUDIT_WRITE);

static int spec_cap_set(const json_t *list, const char *set, uint64_t *bits,
                        struct reins_error *err)
{
        *bits = 0;
        if (!list)
                return 0;
        if (!json_is_array(list) || json_array_size(list) > 64)
                return SPEC_ERR(err, "process.capabilities.%s: expected an array of names", set);
        for (size_t i = 0; i < json_array_size(list); i++) {
                const char *name = json_string_value(json_array_get(list, i));
                char lower[32];
                size_t n = name ? strlen(name) : 0;
                if (n < 5 || n >= sizeof(lower) || strncasecmp(name, "CAP_", 4) != 0)
                        return SPEC_ERR(err, "process.capabilities.%s[%zu]: expected CAP_NAME", set,
                                        i);
                for (size_t j = 0; j <= n; j++)
                        lower[j] = (char)tolower((unsigned char)name[j]);
                cap_value_t cap;
                if (cap_from_name(lower, &cap) < 0 || cap < 0 || cap >= 64)
                        return SPEC_ERR(err,
                                        "process.capabilities.%s[%zu] '%.31s': unknown to this "
                                        "system",
                                        set, i, name);
                *bits |= 1ULL << cap;
        }
        return 0;
}

static int spec_capabilities(struct oci_spec *spec, const json_t *caps, struct reins_error *err)
{
        if (!caps)
                return 0;
        if (!json_is_object(caps))
                return SPEC_ERR(err, "process.capabilities: expected an object");
        struct plan_root *root = &spec->root;
        uint64_t asked[5];
        static const char *const sets[] = {"bounding", "effective", "permitted", "inheritable",
                                           "ambient"};
        for (size_t i = 0; i < 5; i++) {
                int r = spec_cap_set(json_object_get(caps, sets[i]), sets[i], &asked[i], err);
                if (r < 0)
                        return r;
        }
        uint64_t any = asked[0] | asked[1] | asked[2] | asked[3] | asked[4];
        spec->caps_withheld = any & ~OCI_CAPS_GRANTABLE;
        /* the kernel's rules, as runc applies them: nothing beyond the
         * bounding set is permitted; effective and ambient need permitted */
        root->cap_bounding = asked[0] & OCI_CAPS_GRANTABLE;
        root->cap_permitted = asked[2] & root->cap_bounding;
        root->cap_effective = asked[1] & root->cap_permitted;
        root->cap_inheritable = asked[3] & root->cap_bounding;
        root->cap_ambient = asked[4] & root->cap_permitted & root->cap_inheritable;
        root->caps_given = true;
        return 0;
}

static int spec_process(struct oci_spec *spec, const json_t *doc, struct reins_error *err)
{
        json_t *process = json_object_get(doc, "process");
        if (!json_is_object(process))
                return SPEC_ERR(err, "process: expected an object");
        size_t argc = 0;
        int r = spec_string_array(json_object_get(process, "args"), "process.args",
                                  OCI_SPEC_MAX_ARGS, &spec->args, &argc, err);
        if (r < 0)
                return r;
        if (argc == 0 || spec->args[0][0] == '\0')
                return SPEC_ERR(err, "process.args: the command is missing");
        if ((r = spec_string_array(json_object_get(process, "env"), "process.env", OCI_SPEC_MAX_ENV,
                                   &spec->env, &spec->env_count, err)) < 0)
                return r;
        for (size_t i = 0; i < spec->env_count; i++)
                if (!strchr(spec->env[i], '=') || spec->env[i][0] == '=')
                        return SPEC_ERR(err, "process.env[%zu]: expected NAME=VALUE", i);
        if (!spec->env && !(spec->env = calloc(1, sizeof(*spec->env))))
                return reins_error_set(err, ENOMEM, "out of memory");
        const char *cwd = NULL;
        if ((r = spec_string(process, "cwd", "process.", true, &cwd, err)) < 0)
                return r;
        if (cwd[0] != '/')
                return SPEC_ERR(err, "process.cwd: expected an absolute path");
        spec->root.cwd = cwd;
        json_t *terminal = json_object_get(process, "terminal");
        if (terminal && !json_is_boolean(terminal))
                return SPEC_ERR(err, "process.terminal: expected true or false");
        spec->terminal = json_is_true(terminal);
        json_t *oom = json_object_get(process, "oomScoreAdj");
        if (oom) {
                if (!json_is_integer(oom) || json_integer_value(oom) < -1000 ||
                    json_integer_value(oom) > 1000)
                        return SPEC_ERR(err, "process.oomScoreAdj: expected -1000 to 1000");
                spec->root.set_oom_score = true;
                spec->root.oom_score_adj = (int)json_integer_value(oom);
        }
        json_t *nnp = json_object_get(process, "noNewPrivileges");
        if (nnp && !json_is_boolean(nnp))
                return SPEC_ERR(err, "process.noNewPrivileges: expected true or false");
        /* apparmorProfile, selinuxLabel: not on this kernel's path */
        if ((r = spec_capabilities(spec, json_object_get(process, "capabilities"), err)) < 0 ||
            (r = spec_process_user(spec, process, err)) < 0)
                return r;
        return spec_rlimits(spec, process, err);
}

static int spec_root(struct oci_spec *spec, const json_t *doc, bool check_root,
                     struct reins_error *err)
{
        json_t *root = json_object_get(doc, "root");
        if (!json_is_object(root))
                return SPEC_ERR(err, "root: expected an object");
        const char *path = NULL;
        int r = spec_string(root, "path", "root.", true, &path, err);
        if (r < 0)
                return r;
        json_t *ro = json_object_get(root, "readonly");
        if (ro && !json_is_boolean(ro))
                return SPEC_ERR(err, "root.readonly: expected true or false");
        spec->root.readonly = json_is_true(ro);
        cleanup_free char *joined =
            path[0] == '/' ? strdup(path) : path_join(spec->bundle ? spec->bundle : ".", path);
        if (!joined)
                return reins_error_set(err, ENOMEM, "out of memory");
        spec->rootfs = realpath(joined, NULL);
        if (!spec->rootfs) {
                if (check_root)
                        return reins_error_errno(err, errno, "config.json: root.path %s", path);
                spec->rootfs = strdup("/nonexistent");
                if (!spec->rootfs)
                        return reins_error_set(err, ENOMEM, "out of memory");
        }
        if (strcmp(spec->rootfs, "/") == 0)
                return SPEC_ERR(err, "root.path: the host's / cannot be a container's root");
        spec->root.dir = spec->rootfs;
        return 0;
}

static bool spec_has_option(const json_t *options, const char *name)
{
        size_t i;
        json_t *o;
        json_array_foreach(options, i, o) if (json_is_string(o) &&
                                              strcmp(json_string_value(o), name) == 0) return true;
        return false;
}

/* tmpfs's size= option: a number with an optional k/m/g suffix. */
static uint64_t spec_tmpfs_size(const json_t *options)
{
        size_t i;
        json_t *o;
        json_array_foreach(options, i, o)
        {
                const char *text = json_string_value(o);
                if (!text || strncmp(text, "size=", 5) != 0)
                        continue;
                char *end = NULL;
                errno = 0;
                unsigned long long n = strtoull(text + 5, &end, 10);
                if (errno || end == text + 5)
                        return 0;
                unsigned shift = *end == 'k' || *end == 'K'   ? 10
                                 : *end == 'm' || *end == 'M' ? 20
                                 : *end == 'g' || *end == 'G' ? 30
                                                              : 0;
                if (n > (UINT64_MAX >> 30))
                        return 0;
                return (uint64_t)n << shift;
        }
        return 0;
}

#define SPEC_FS_SOURCE_MAX 64

/* The source of a filesystem that is not a bind ("proc", "shm"): only a
 * name shown in mountinfo, kept short and printable. */
static bool spec_fs_source_ok(const char *source)
{
        size_t n = strlen(source);
        if (n == 0 || n > SPEC_FS_SOURCE_MAX)
                return n == 0;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)source[i] <= ' ' || (unsigned char)source[i] >= 0x7f)
                        return false;
        return true;
}

/* /dev/pts, /dev/shm, /dev/mqueue: made by reins inside its /dev, of the
 * type config.json names or none. */
static int spec_dev_mount(struct oci_spec *spec, const char *dest, const char *type,
                          const char *source, size_t index, struct reins_error *err)
{
        static const char *const kinds[][2] = {
            {"/dev/pts", "devpts"}, {"/dev/shm", "tmpfs"}, {"/dev/mqueue", "mqueue"}};
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                if (strcmp(dest, kinds[i][0]) != 0)
                        continue;
                if (type && strcmp(type, kinds[i][1]) != 0 && strcmp(type, "bind") != 0)
                        return SPEC_ERR(err, "mounts[%zu]: %s is a %s in reins' /dev, not '%.32s'",
                                        index, dest, kinds[i][1], type);
                const char *name = source && *source && source[0] != '/' ? source : NULL;
                if (i == 0)
                        spec->root.pts_source = name;
                else if (i == 1)
                        spec->root.shm_source = name;
                else
                        spec->root.mqueue_source = name ? name : "mqueue";
        }
        return 1;
}

/* One entry of config.json's mounts: what reins does with it. Returns 1
 * when it is provided otherwise (devpts, /dev/shm are in reins' /dev) or
 * not given (cgroup, mqueue), 0 when added. */
static int spec_mount(struct oci_spec *spec, size_t index, const json_t *m, struct reins_error *err)
{
        char where[40];
        snprintf(where, sizeof(where), "mounts[%zu].", index);
        if (!json_is_object(m))
                return SPEC_ERR(err, "mounts[%zu]: expected an object", index);
        const char *dest = NULL, *type = NULL, *source = NULL;
        int r;
        if ((r = spec_string(m, "destination", where, true, &dest, err)) < 0 ||
            (r = spec_string(m, "type", where, false, &type, err)) < 0 ||
            (r = spec_string(m, "source", where, false, &source, err)) < 0)
                return r;
        if (dest[0] != '/' || strstr(dest, "/../") || strlen(dest) >= PATH_MAX)
                return SPEC_ERR(err,
                                "mounts[%zu].destination '%.64s': expected an absolute "
                                "path without ..",
                                index, dest);
        json_t *options = json_object_get(m, "options");
        if (options && !json_is_array(options))
                return SPEC_ERR(err, "mounts[%zu].options: expected an array", index);
        bool bind = (type && (strcmp(type, "bind") == 0 || strcmp(type, "none") == 0)) ||
                    spec_has_option(options, "bind") || spec_has_option(options, "rbind");
        struct plan_root_mount *out = &spec->mounts[spec->root.mount_count];
        *out = (struct plan_root_mount){
            .target = dest, .noexec = spec_has_option(options, "noexec"), .index = index};
        if (!bind && source && !spec_fs_source_ok(source))
                return SPEC_ERR(err,
                                "mounts[%zu].source: expected at most %d printable characters "
                                "without spaces",
                                index, SPEC_FS_SOURCE_MAX);
        /* reins' /dev holds its own pts, shm and (when asked) mqueue:
         * nothing else over them; their sources are shown as written */
        if (strcmp(dest, "/dev/pts") == 0 || strcmp(dest, "/dev/shm") == 0 ||
            strcmp(dest, "/dev/mqueue") == 0)
                return spec_dev_mount(spec, dest, type, source, index, err);
        if (bind) {
                if (!source || source[0] != '/')
                        return SPEC_ERR(err,
                                        "mounts[%zu].source: a bind needs an absolute host "
                                        "path",
                                        index);
                out->kind = spec_has_option(options, "ro") ? MOUNT_OP_BIND_RO : MOUNT_OP_BIND_RW;
                out->source = source;
        } else if (!type) {
                return SPEC_ERR(err, "mounts[%zu].type is missing", index);
        } else if (strcmp(type, "proc") == 0) {
                out->kind = MOUNT_OP_PROC;
                out->source = source;
        } else if (strcmp(type, "tmpfs") == 0) {
                out->kind = strcmp(dest, "/dev") == 0 ? MOUNT_OP_DEV : MOUNT_OP_TMPFS;
                out->size_bytes = spec_tmpfs_size(options);
                out->source = source;
        } else if (strcmp(type, "sysfs") == 0) {
                /* the host's /sys, read-only whatever the options say: a
                 * writable one reaches the cgroup files */
                out->kind = MOUNT_OP_BIND_RO;
                out->source = "/sys";
        } else if (strcmp(type, "cgroup") == 0 || strcmp(type, "cgroup2") == 0) {
                return 1; /* not given: the container sees no cgroupfs */
        } else if (strcmp(type, "mqueue") == 0 || strcmp(type, "devpts") == 0) {
                return SPEC_ERR(err, "mounts[%zu]: a %s is only given at /dev/%s", index, type,
                                strcmp(type, "mqueue") == 0 ? "mqueue" : "pts");
        } else {
                return SPEC_ERR(err, "mounts[%zu].type '%.32s' is not supported by reins", index,
                                type);
        }
        spec->root.mount_count++;
        return 0;
}

static int spec_mounts(struct oci_spec *spec, const json_t *doc, struct reins_error *err)
{
        json_t *mounts = json_object_get(doc, "mounts");
        if (!mounts)
                return 0;
        if (!json_is_array(mounts) || json_array_size(mounts) > OCI_SPEC_MAX_MOUNTS)
                return SPEC_ERR(err, "mounts: expected an array of at most %d entries",
                                OCI_SPEC_MAX_MOUNTS);
        spec->mounts = calloc(json_array_size(mounts) + 1, sizeof(*spec->mounts));
        if (!spec->mounts)
                return reins_error_set(err, ENOMEM, "out of memory");
        spec->root.mounts = spec->mounts;
        for (size_t i = 0; i < json_array_size(mounts); i++) {
                int r = spec_mount(spec, i, json_array_get(mounts, i), err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int spec_paths(const json_t *linux_, const char *key, char ***out, size_t *count,
                      struct reins_error *err)
{
        char what[40];
        snprintf(what, sizeof(what), "linux.%s", key);
        int r = spec_string_array(json_object_get(linux_, key), what, OCI_SPEC_MAX_PATHS, out,
                                  count, err);
        for (size_t i = 0; r == 0 && i < *count; i++)
                if ((*out)[i][0] != '/' || strstr((*out)[i], "/../"))
                        return SPEC_ERR(err, "%s[%zu]: expected an absolute path", what, i);
        return r;
}

/* "containerID hostID size" lines for /proc/PID/uid_map. */
static int spec_id_map(const json_t *linux_, const char *key, char **out, struct reins_error *err)
{
        json_t *list = json_object_get(linux_, key);
        *out = NULL;
        if (!list)
                return 0;
        if (!json_is_array(list) || json_array_size(list) == 0 ||
            json_array_size(list) > OCI_SPEC_MAX_MAPS)
                return SPEC_ERR(err, "linux.%s: expected 1 to %d entries", key, OCI_SPEC_MAX_MAPS);
        char text[OCI_SPEC_MAX_MAPS * 40] = "";
        size_t used = 0;
        for (size_t i = 0; i < json_array_size(list); i++) {
                json_t *e = json_array_get(list, i);
                uint32_t inside = 0, outside = 0, size = 0;
                char where[48];
                snprintf(where, sizeof(where), "linux.%s[%zu].", key, i);
                int r;
                if (!json_is_object(e))
                        return SPEC_ERR(err, "linux.%s[%zu]: expected an object", key, i);
                if ((r = spec_u32(e, "containerID", where, &inside, err)) < 0 ||
                    (r = spec_u32(e, "hostID", where, &outside, err)) < 0 ||
                    (r = spec_u32(e, "size", where, &size, err)) < 0)
                        return r;
                if (size == 0)
                        return SPEC_ERR(err, "linux.%s[%zu].size: expected at least 1", key, i);
                used += (size_t)snprintf(text + used, sizeof(text) - used, "%u %u %u\n", inside,
                                         outside, size);
        }
        *out = strdup(text);
        return *out ? 0 : reins_error_set(err, ENOMEM, "out of memory");
}

/* Names of the namespaces the sandbox owns (its net, ipc and uts). */
static bool spec_sysctl_namespaced(const char *name)
{
        return strncmp(name, "net.", 4) == 0 || strncmp(name, "kernel.shm", 10) == 0 ||
               strncmp(name, "kernel.msg", 10) == 0 || strcmp(name, "kernel.sem") == 0 ||
               strncmp(name, "fs.mqueue.", 10) == 0;
}

static int spec_sysctl(struct oci_spec *spec, const json_t *linux_, struct reins_error *err)
{
        json_t *map = json_object_get(linux_, "sysctl");
        if (!map)
                return 0;
        if (!json_is_object(map) || json_object_size(map) > OCI_SPEC_MAX_PATHS)
                return SPEC_ERR(err, "linux.sysctl: expected an object of at most %d entries",
                                OCI_SPEC_MAX_PATHS);
        spec->sysctl = calloc(json_object_size(map) + 1, sizeof(*spec->sysctl));
        if (!spec->sysctl)
                return reins_error_set(err, ENOMEM, "out of memory");
        const char *name;
        json_t *value;
        size_t n = 0;
        json_object_foreach(map, name, value)
        {
                if (!json_is_string(value) || strlen(json_string_value(value)) > 256)
                        return SPEC_ERR(err, "linux.sysctl.%.64s: expected a string", name);
                if (!spec_sysctl_namespaced(name) || strstr(name, "..") || strchr(name, '/') ||
                    strlen(name) > 128)
                        return SPEC_ERR(err,
                                        "linux.sysctl.%.64s: not a sysctl of the "
                                        "container's own namespaces (refused: it would "
                                        "change the host)",
                                        name);
                if (asprintf(&spec->sysctl[n], "%s=%s", name, json_string_value(value)) < 0) {
                        spec->sysctl[n] = NULL;
                        return reins_error_set(err, ENOMEM, "out of memory");
                }
                n++;
        }
        spec->root.sysctl = spec->sysctl;
        spec->root.sysctl_count = n;
        return 0;
}

static int spec_resources(struct oci_spec *spec, const json_t *linux_, struct reins_error *err)
{
        json_t *res = json_object_get(linux_, "resources");
        if (!res)
                return 0;
        if (!json_is_object(res))
                return SPEC_ERR(err, "linux.resources: expected an object");
        json_t *limit = json_object_get(json_object_get(res, "memory"), "limit");
        if (json_is_integer(limit) && json_integer_value(limit) > 0)
                spec->root.memory_bytes = (uint64_t)json_integer_value(limit);
        limit = json_object_get(json_object_get(res, "pids"), "limit");
        if (json_is_integer(limit) && json_integer_value(limit) > 0)
                spec->root.pids = (uint64_t)json_integer_value(limit);
        json_t *cpu = json_object_get(res, "cpu");
        json_t *quota = json_object_get(cpu, "quota"), *period = json_object_get(cpu, "period");
        json_int_t q = json_integer_value(quota), p = json_integer_value(period);
        if (!json_is_integer(period) || p == 0)
                p = 100000; /* the kernel's default period, as runc takes it */
        /* the kernel's bounds: period 1 ms to 1 s, quota at least 1 ms */
        if (json_is_integer(quota) && q > 0 &&
            (p < 1000 || p > 1000000 || q < 1000 || q > (1LL << 40)))
                return SPEC_ERR(err, "linux.resources.cpu: quota needs a period of 1000 to "
                                     "1000000 microseconds and at least 1000 of quota");
        if (json_is_integer(quota) && q > 0) {
                uint64_t milli = (uint64_t)q * 1000 / (uint64_t)p;
                spec->root.cpus_milli = milli > 0 ? milli : 1;
                spec->root.cpu_quota_us = (uint64_t)q;
                spec->root.cpu_period_us = (uint64_t)p;
        }
        json_int_t shares = json_integer_value(json_object_get(cpu, "shares"));
        if (shares < 0 || shares > 262144)
                return SPEC_ERR(err, "linux.resources.cpu.shares: expected 2 to 262144");
        spec->root.cpu_shares = (uint64_t)shares;
        static const char *const sets[] = {"cpus", "mems"};
        for (size_t i = 0; i < 2; i++) {
                const char *text = json_string_value(json_object_get(cpu, sets[i]));
                if (text && (strlen(text) > 256 || strspn(text, "0123456789,-") != strlen(text)))
                        return SPEC_ERR(err, "linux.resources.cpu.%s: expected a list like 0-3,5",
                                        sets[i]);
                if (text && *text)
                        *(i == 0 ? &spec->root.cpuset_cpus : &spec->root.cpuset_mems) = text;
        }
        return 0;
}

/* linux.namespaces. A listed namespace without a path is the sandbox's
 * own, as every namespace of a reins sandbox is (one not listed too:
 * reins never shares the host's). With a path: an ipc or uts namespace is
 * joined (a pod's); a network one is not, the policy's network (none, or
 * reins' proxy) stays the container's, and the supervisor says so in the
 * log; joining the others would undo what the sandbox is built on, and is
 * refused. */
static int spec_namespace_path(struct oci_spec *spec, size_t i, const char *type, const char *path,
                               struct reins_error *err)
{
        if (path[0] != '/' || strlen(path) >= PATH_MAX)
                return SPEC_ERR(err, "linux.namespaces[%zu].path: expected an absolute path", i);
        if (strcmp(type, "ipc") == 0)
                spec->root.join_ipc = path;
        else if (strcmp(type, "uts") == 0)
                spec->root.join_uts = path;
        else if (strcmp(type, "network") == 0)
                spec->net_path = path;
        else
                return SPEC_ERR(err,
                                "linux.namespaces[%zu]: joining an existing %s namespace (%.200s) "
                                "is not supported by reins: the sandbox's %s namespace is its own "
                                "(only ipc and uts namespaces can be joined)",
                                i, type, path, type);
        return 0;
}

static int spec_namespaces(struct oci_spec *spec, const json_t *list, struct reins_error *err)
{
        static const char *const types[] = {"pid", "network", "mount",  "ipc",
                                            "uts", "user",    "cgroup", "time"};
        if (!list)
                return 0;
        if (!json_is_array(list) || json_array_size(list) > 16)
                return SPEC_ERR(err, "linux.namespaces: expected an array of at most 16 entries");
        unsigned seen = 0;
        for (size_t i = 0; i < json_array_size(list); i++) {
                json_t *e = json_array_get(list, i);
                char where[40];
                snprintf(where, sizeof(where), "linux.namespaces[%zu].", i);
                const char *type = NULL, *path = NULL;
                int r;
                if (!json_is_object(e))
                        return SPEC_ERR(err, "linux.namespaces[%zu]: expected an object", i);
                if ((r = spec_string(e, "type", where, true, &type, err)) < 0 ||
                    (r = spec_string(e, "path", where, false, &path, err)) < 0)
                        return r;
                size_t t = 0;
                while (t < sizeof(types) / sizeof(types[0]) && strcmp(types[t], type) != 0)
                        t++;
                if (t == sizeof(types) / sizeof(types[0]))
                        return SPEC_ERR(err, "linux.namespaces[%zu].type '%.32s': unknown", i,
                                        type);
                if (seen & (1u << t))
                        return SPEC_ERR(err, "linux.namespaces: %s is listed twice", type);
                seen |= 1u << t;
                if (path && *path && (r = spec_namespace_path(spec, i, type, path, err)) < 0)
                        return r;
        }
        return 0;
}

/* linux.cgroupsPath, for cgroupfs (a systemd "slice:prefix:name" needs
 * --systemd-cgroup, which is refused): no "..", no empty component. */
static int spec_cgroups_path(struct oci_spec *spec, const json_t *linux_, struct reins_error *err)
{
        json_t *value = json_object_get(linux_, "cgroupsPath");
        if (!value)
                return 0;
        const char *path = json_string_value(value);
        if (!path || strlen(path) > 1024 || strchr(path, ':') || strstr(path, "//") ||
            strcmp(path, "..") == 0 || strncmp(path, "../", 3) == 0 || strstr(path, "/../") ||
            (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0))
                return SPEC_ERR(err, "linux.cgroupsPath: expected a cgroupfs path without '..' "
                                     "(a systemd slice:prefix:name needs a systemd host)");
        if (*path && strcmp(path, "/") != 0)
                spec->root.cgroups_path = path;
        return 0;
}

static int spec_linux(struct oci_spec *spec, const json_t *doc, struct reins_error *err)
{
        json_t *linux_ = json_object_get(doc, "linux");
        if (!linux_)
                return 0;
        if (!json_is_object(linux_))
                return SPEC_ERR(err, "linux: expected an object");
        size_t masked = 0, readonly = 0;
        int r;
        if ((r = spec_paths(linux_, "maskedPaths", &spec->masked, &masked, err)) < 0 ||
            (r = spec_paths(linux_, "readonlyPaths", &spec->readonly_paths, &readonly, err)) < 0 ||
            (r = spec_id_map(linux_, "uidMappings", &spec->uid_map, err)) < 0 ||
            (r = spec_id_map(linux_, "gidMappings", &spec->gid_map, err)) < 0 ||
            (r = spec_sysctl(spec, linux_, err)) < 0 ||
            (r = spec_resources(spec, linux_, err)) < 0 ||
            (r = spec_cgroups_path(spec, linux_, err)) < 0)
                return r;
        spec->root.masked = spec->masked;
        spec->root.masked_count = masked;
        spec->root.readonly_paths = spec->readonly_paths;
        spec->root.readonly_count = readonly;
        if (!spec->uid_map != !spec->gid_map)
                return SPEC_ERR(err, "linux.uidMappings and linux.gidMappings go together");
        spec->root.uid_map = spec->uid_map;
        spec->root.gid_map = spec->gid_map;
        if ((r = spec_namespaces(spec, json_object_get(linux_, "namespaces"), err)) < 0)
                return r;
        /* a device node of the host in the container would be a way past
         * every rule reins applies to files: none is passed through */
        json_t *devices = json_object_get(linux_, "devices");
        if (devices && (!json_is_array(devices) || json_array_size(devices) > 0))
                return SPEC_ERR(err,
                                "linux.devices: reins passes no device into a container (it "
                                "gets reins' /dev: null, zero, full, random, urandom, tty, its "
                                "own pts, shm and mqueue); remove --device");
        json_t *seccomp = json_object_get(linux_, "seccomp");
        if (seccomp && !json_is_object(seccomp))
                return SPEC_ERR(err, "linux.seccomp: expected an object");
        spec->seccomp = seccomp;
        return 0;
}

int oci_spec_parse(const char *bytes, size_t len, const char *bundle, bool check_root,
                   struct oci_spec **out, struct reins_error *err)
{
        *out = NULL;
        if (len > OCI_SPEC_MAX_BYTES)
                return SPEC_ERR(err, "larger than %u bytes", OCI_SPEC_MAX_BYTES);
        struct oci_spec *spec = calloc(1, sizeof(*spec));
        if (!spec)
                return reins_error_set(err, ENOMEM, "out of memory");
        json_error_t jerr;
        spec->doc = json_loadb(bytes, len, JSON_REJECT_DUPLICATES, &jerr);
        int r;
        if (!spec->doc || !json_is_object(spec->doc)) {
                r = spec->doc ? SPEC_ERR(err, "expected a JSON object")
                              : SPEC_ERR(err, "line %d: %s", jerr.line, jerr.text);
                goto fail;
        }
        if (bundle && !(spec->bundle = strdup(bundle))) {
                r = reins_error_set(err, ENOMEM, "out of memory");
                goto fail;
        }
        const char *version = NULL, *hostname = NULL;
        if ((r = spec_string(spec->doc, "ociVersion", "", true, &version, err)) < 0)
                goto fail;
        if (strncmp(version, "1.", 2) != 0) {
                r = SPEC_ERR(err, "ociVersion '%.32s': reins reads version 1.x", version);
                goto fail;
        }
        if ((r = spec_string(spec->doc, "hostname", "", false, &hostname, err)) < 0)
                goto fail;
        if (hostname && strlen(hostname) > 64) {
                r = SPEC_ERR(err, "hostname: longer than 64 bytes");
                goto fail;
        }
        spec->root.hostname = hostname && hostname[0] ? hostname : NULL;
        if ((r = spec_process(spec, spec->doc, err)) < 0 ||
            (r = spec_root(spec, spec->doc, check_root, err)) < 0 ||
            (r = spec_mounts(spec, spec->doc, err)) < 0 ||
            (r = spec_linux(spec, spec->doc, err)) < 0)
                goto fail;
        json_t *annotations = json_object_get(spec->doc, "annotations");
        if (annotations && !json_is_object(annotations)) {
                r = SPEC_ERR(err, "annotations: expected an object");
                goto fail;
        }
        spec->annotations = annotations; /* NULL: none */
        json_t *hooks = json_object_get(spec->doc, "hooks");
        if (hooks && !json_is_object(hooks)) {
                r = SPEC_ERR(err, "hooks: expected an object");
                goto fail;
        }
        spec->hooks = hooks && json_object_size(hooks) > 0 ? hooks : NULL;
        if (spec->seccomp) {
                size_t filter_len = 0;
                if ((r = oci_seccomp_compile(spec->seccomp, &spec->filter, &filter_len, err)) < 0)
                        goto fail;
                spec->root.filter = spec->filter;
                spec->root.filter_len = filter_len;
        }
        *out = spec;
        return 0;
fail:
        oci_spec_free(spec);
        return r;
}

int oci_spec_load(const char *bundle, struct oci_spec **out, struct reins_error *err)
{
        *out = NULL;
        cleanup_free char *real = realpath(bundle, NULL);
        if (!real)
                return reins_error_errno(err, errno, "bundle %s", bundle);
        cleanup_free char *path = path_join(real, "config.json");
        if (!path)
                return reins_error_set(err, ENOMEM, "out of memory");
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return reins_error_errno(err, errno, "%s", path);
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return reins_error_set(err, EINVAL, "%s: not a regular file", path);
        if ((uint64_t)st.st_size > OCI_SPEC_MAX_BYTES)
                return SPEC_ERR(err, "larger than %u bytes", OCI_SPEC_MAX_BYTES);
        cleanup_free char *bytes = malloc((size_t)st.st_size + 1);
        if (!bytes)
                return reins_error_set(err, ENOMEM, "out of memory");
        size_t done = 0;
        while (done < (size_t)st.st_size) {
                ssize_t n = read(fd, bytes + done, (size_t)st.st_size - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return reins_error_errno(err, n < 0 ? errno : EIO, "reading %s", path);
                done += (size_t)n;
        }
        return oci_spec_parse(bytes, done, real, true, out, err);
}

void oci_spec_free(struct oci_spec *spec)
{
        if (!spec)
                return;
        for (char **s = spec->sysctl; s && *s; s++)
                free(*s);
        free(spec->sysctl);
        free(spec->args);
        free(spec->env);
        free(spec->mounts);
        free(spec->groups);
        free(spec->masked);
        free(spec->readonly_paths);
        free(spec->rlimits);
        free(spec->uid_map);
        free(spec->gid_map);
        free(spec->filter);
        free(spec->rootfs);
        free(spec->bundle);
        json_decref(spec->doc);
        free(spec);
}

/* cgroup placement for the sandbox's limits. v2 when our own cgroup is a
 * delegated, writable subtree with the controllers we need; v1 memory, pids
 * and cpu hierarchies when we are root; otherwise -ENOTSUP and the caller
 * announces the rlimit fallback (or refuses with --strict). The risk
 * engine's freezer cgroup is placed here too (cgroup_add_freezer). */
#include "sandbox/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/freeze.h"
#include "util/weaken.h"
#include "util/cleanup.h"

static const char *unavailable_reason = "no cgroup limits requested";

uint64_t cgroup_tcp_limit(uint64_t memory_bytes)
{
        uint64_t tcp = memory_bytes / 4;
        /* at least a few sockets' worth, so a tiny limit still has a network */
        return tcp < 4 * 1024 * 1024 ? 4 * 1024 * 1024 : tcp;
}

const char *cgroup_unavailable_reason(void)
{
        return unavailable_reason;
}

int cgroup_file_write(const char *dir, const char *file, const char *value)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        cleanup_fd int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t len = strlen(value);
        if (write(fd, value, len) != (ssize_t)len)
                return -errno;
        return 0;
}

int cgroup_file_read(const char *dir, const char *file, char *buf, size_t size)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, file);
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, size - 1);
        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return 0;
}

int cgroup_own_path(const char *controller, char *out, size_t size)
{
        cleanup_fclose FILE *f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return -errno;
        char line[PATH_MAX + 128];
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                char *first = strchr(line, ':');
                char *second = first ? strchr(first + 1, ':') : NULL;
                if (!second)
                        continue;
                *second = '\0';
                const char *list = first + 1;
                bool match = !controller || !controller[0] ? list[0] == '\0' : false;
                for (char *save = NULL, *c = strtok_r((char *)list, ",", &save);
                     controller && controller[0] && c; c = strtok_r(NULL, ",", &save))
                        if (strcmp(c, controller) == 0)
                                match = true;
                if (match)
                        return snprintf(out, size, "%s", second + 1) >= (int)size ? -ENAMETOOLONG
                                                                                  : 0;
        }
        return -ENOENT;
}

static int cg_session_pid(const char *name)
{
        int pid = 0;
        return sscanf(name, "reins-%d-", &pid) == 1 && pid > 0 ? pid : 0;
}

/* How many subdirectories `d` has: a cgroup directory's link count is 2
 * plus its subdirectories (kernfs), so no listing is read to count them;
 * elsewhere (a link count of 1), a pass over the listing. */
static size_t cg_count_children(DIR *d)
{
        struct stat st;
        if (fstat(dirfd(d), &st) == 0 && st.st_nlink >= 2)
                return (size_t)st.st_nlink - 2;
        size_t count = 0;
        struct dirent *e;
        while ((e = readdir(d)))
                count += cg_session_pid(e->d_name) > 0;
        rewinddir(d);
        return count;
}

/* The empty cgroup `parent`/`name` of a supervisor that is gone. */
static void cg_remove_dead(const char *parent, const char *name)
{
        char path[4096], freezer_state[4200];
        snprintf(path, sizeof(path), "%s/%s", parent, name);
        /* its pid 1 got SIGKILL when the supervisor died (PDEATHSIG),
         * but a task frozen in a v1 freezer cgroup acts on it only
         * once thawed: kill what is left, then thaw. Nothing there
         * may go on anyway, its supervisor is gone. */
        snprintf(freezer_state, sizeof(freezer_state), "%s/freezer.state", path);
        int killed = access(freezer_state, F_OK) == 0 && !weaken("pdeathsig")
                         ? freeze_kill_cgroup_v1(path)
                         : 0;
        /* fails harmlessly while a sandbox still lives in it; the
         * ones just killed get a moment to exit */
        for (int attempt = 0; rmdir(path) < 0 && errno == EBUSY && killed > 0 && attempt < 50;
             attempt++)
                usleep(2000);
}

/* The names in `parent` whose supervisor is gone, among a window of
 * CGROUP_STALE_CHECKS of them at a varying place: one partial pass over
 * the listing (beside 1 000 sessions it used to be read whole, twice). */
static void cg_find_stale(const char *parent, struct cgroup_handle *h)
{
        DIR *d = opendir(parent);
        if (!d)
                return;
        struct dirent *e;
        size_t count = cg_count_children(d), index = 0, first = 0;
        if (count > CGROUP_STALE_CHECKS) {
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                first = ((size_t)now.tv_nsec ^ (size_t)getpid()) % count;
        }
        /* the window [first, first + CGROUP_STALE_CHECKS) of the sessions'
         * names, wrapping around; without a wrap, the rest is not read */
        size_t end = first + CGROUP_STALE_CHECKS;
        while (h->stale_count < CGROUP_STALE_CHECKS && (end > count || index < end) &&
               (e = readdir(d))) {
                int pid = cg_session_pid(e->d_name);
                if (pid == 0 || strlen(e->d_name) >= sizeof(h->stale[0]))
                        continue;
                if (count > 0 && (index++ + count - first) % count >= CGROUP_STALE_CHECKS)
                        continue;
                if (kill(pid, 0) == 0 || errno != ESRCH)
                        continue;
                snprintf(h->stale[h->stale_count++], sizeof(h->stale[0]), "%s", e->d_name);
        }
        closedir(d);
}

/* A supervisor killed with SIGKILL cannot remove its cgroups: remove the
 * empty ones whose supervisor is gone, so they never pile up. The names
 * are found in the first hierarchy a start uses (a session's cgroups share
 * one name in every hierarchy) and removed from each. */
static void cg_remove_stale(struct cgroup_handle *h, const char *parent)
{
        if (!h->stale_listed) {
                h->stale_listed = true;
                cg_find_stale(parent, h);
        }
        for (int i = 0; i < h->stale_count; i++)
                cg_remove_dead(parent, h->stale[i]);
}

/* Create `dir` and, unless `join_file` is NULL, open the file the sandbox
 * joins it through. The opening is ours, so the child's later write is
 * checked against our credentials, not its own. */
static int cg_add_dir(struct cgroup_handle *h, const char *dir, const char *join_file)
{
        if (h->count >= CGROUP_MAX_DIRS)
                return -E2BIG;
        /* a container's cgroupsPath may name a cgroup the engine made (or a
         * sibling shares), as runc joins it */
        if (mkdir(dir, 0755) < 0 && !(errno == EEXIST && h->path))
                return -errno;
        h->dirs[h->count] = strdup(dir);
        if (!h->dirs[h->count]) {
                rmdir(dir);
                return -ENOMEM;
        }
        h->count++;
        if (!join_file)
                return 0;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, join_file);
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        h->join_fds[h->join_count++] = fd;
        return 0;
}

static void cg_unique_name(char *out, size_t size)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        snprintf(out, size, "reins-%d-%lx", getpid(), (unsigned long)ts.tv_nsec);
}

/* The sandbox's directories share one name (per hierarchy, for v1). */
static const char *cg_name(struct cgroup_handle *h)
{
        if (!h->name[0])
                cg_unique_name(h->name, sizeof(h->name));
        return h->name;
}

/* A new cpuset cgroup has no cpus and no mems: nothing could join it.
 * Its parent's, unless the container names its own. */
static int cg_cpuset_fill(const char *dir, const char *cpus, const char *mems)
{
        char parent[4096], value[1024];
        snprintf(parent, sizeof(parent), "%s", dir);
        char *slash = strrchr(parent, '/');
        if (slash)
                *slash = '\0';
        const char *files[] = {"cpuset.cpus", "cpuset.mems"};
        const char *given[] = {cpus, mems};
        for (size_t i = 0; i < 2; i++) {
                int r = given[i] ? 0 : cgroup_file_read(parent, files[i], value, sizeof(value));
                if (r < 0)
                        return r;
                if (!given[i])
                        value[strcspn(value, "\n")] = '\0';
                if ((r = cgroup_file_write(dir, files[i], given[i] ? given[i] : value)) < 0)
                        return r;
        }
        return 0;
}

/* The parents of a container's cgroupsPath below `top` (made as needed,
 * and left when it goes, as runc leaves them). */
static int cg_make_parents(const char *dir, size_t top_len, bool cpuset)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s", dir);
        for (char *p = path + top_len + 1; (p = strchr(p, '/')) != NULL; p++) {
                *p = '\0';
                if (mkdir(path, 0755) == 0 && cpuset && cg_cpuset_fill(path, NULL, NULL) < 0)
                        return -errno ? -errno : -EIO;
                else if (errno != EEXIST && errno != 0)
                        return -errno;
                *p = '/';
                errno = 0;
        }
        return 0;
}

/* v1: one directory per hierarchy, each under our own cgroup there (or
 * where a container's cgroupsPath says); joined through `tasks`, which
 * moves one thread (ours: pid 1 of the sandbox is single threaded) without
 * the global threadgroup lock. */
static int cg_v1_dir(struct cgroup_handle *h, const char *controller, const char *name, char *dir,
                     size_t size)
{
        char own[2048];
        int r = cgroup_own_path(controller, own, sizeof(own));
        if (r < 0)
                return r;
        int top = snprintf(dir, size, "/sys/fs/cgroup/%s", controller);
        if (h->path) {
                const char *path = h->path;
                if (path[0] == '/')
                        snprintf(dir + top, size - (size_t)top, "%s", path);
                else
                        snprintf(dir + top, size - (size_t)top, "%s/%s",
                                 strcmp(own, "/") == 0 ? "" : own, path);
                size_t len = strlen(dir);
                while (len > (size_t)top + 1 && dir[len - 1] == '/')
                        dir[--len] = '\0';
                errno = 0;
                if ((r = cg_make_parents(dir, (size_t)top, strcmp(controller, "cpuset") == 0)) < 0)
                        return r;
                return cg_add_dir(h, dir, "tasks");
        }
        snprintf(dir, size, "/sys/fs/cgroup/%s%s", controller, own);
        cg_remove_stale(h, dir);
        snprintf(dir, size, "/sys/fs/cgroup/%s%s/%s", controller, own, name);
        return cg_add_dir(h, dir, "tasks");
}

/* cpu: the limit as quota over a 100 ms period, or a container's own
 * quota and period as written; its shares (a weight) */
static int cg_v1_cpu(const char *dir, const struct cgroup_plan *limits)
{
        char period[32], quota[32];
        int r = 0;
        if (limits->cpu_shares > 0) {
                snprintf(quota, sizeof(quota), "%llu", (unsigned long long)limits->cpu_shares);
                if ((r = cgroup_file_write(dir, "cpu.shares", quota)) < 0)
                        return r;
        }
        if (limits->cpus_milli == 0)
                return 0;
        bool own = limits->cpu_quota_us > 0 && limits->cpu_period_us > 0;
        snprintf(period, sizeof(period), "%llu",
                 (unsigned long long)(own ? limits->cpu_period_us : 100000));
        snprintf(quota, sizeof(quota), "%llu",
                 (unsigned long long)(own ? limits->cpu_quota_us : limits->cpus_milli * 100));
        /* a period shorter than the current one would first make the old
         * quota exceed it: quota -1, period, then quota */
        if ((r = cgroup_file_write(dir, "cpu.cfs_quota_us", "-1")) < 0 ||
            (r = cgroup_file_write(dir, "cpu.cfs_period_us", period)) < 0 ||
            (r = cgroup_file_write(dir, "cpu.cfs_quota_us", quota)) < 0)
                return r;
        return 0;
}

static int cg_create_v1(const struct cgroup_plan *limits, struct cgroup_handle *h)
{
        char dir[4096], value[64];
        const char *name = cg_name(h);
        int r = 0;
        if (limits->memory_bytes > 0) {
                if ((r = cg_v1_dir(h, "memory", name, dir, sizeof(dir))) < 0)
                        return r;
                snprintf(value, sizeof(value), "%llu", (unsigned long long)limits->memory_bytes);
                if ((r = cgroup_file_write(dir, "memory.limit_in_bytes", value)) < 0)
                        return r;
                /* swap must not become a way around the limit */
                cgroup_file_write(dir, "memory.memsw.limit_in_bytes", value);
                h->memory_dir = strdup(dir);
                /* v1 counts kernel TCP buffers apart from memory.usage, and
                 * only once this limit is written: without it, sockets that
                 * never read held 1.47 GiB of host memory while the sandbox
                 * showed 9 MB. A quarter of the memory limit, on top of it. */
                snprintf(value, sizeof(value), "%llu",
                         (unsigned long long)cgroup_tcp_limit(limits->memory_bytes));
                if (cgroup_file_write(dir, "memory.kmem.tcp.limit_in_bytes", value) < 0)
                        h->tcp_uncounted = true;
        }
        if (limits->pids > 0) {
                if ((r = cg_v1_dir(h, "pids", name, dir, sizeof(dir))) < 0)
                        return r;
                snprintf(value, sizeof(value), "%llu", (unsigned long long)limits->pids);
                if ((r = cgroup_file_write(dir, "pids.max", value)) < 0)
                        return r;
        }
        if (limits->cpus_milli > 0 || limits->cpu_shares > 0) {
                if ((r = cg_v1_dir(h, "cpu", name, dir, sizeof(dir))) < 0)
                        return r;
                if ((r = cg_v1_cpu(dir, limits)) < 0)
                        return r;
        }
        if (limits->cpuset_cpus || limits->cpuset_mems) {
                if ((r = cg_v1_dir(h, "cpuset", name, dir, sizeof(dir))) < 0 ||
                    (r = cg_cpuset_fill(dir, limits->cpuset_cpus, limits->cpuset_mems)) < 0)
                        return r;
        }
        h->mode = CGROUP_V1;
        return 0;
}

static const char *cg_v2_root(void)
{
        struct stat st;
        if (stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0)
                return "/sys/fs/cgroup";
        if (stat("/sys/fs/cgroup/unified/cgroup.controllers", &st) == 0)
                return "/sys/fs/cgroup/unified";
        return NULL;
}

static bool cg_has_controller(const char *list, const char *name)
{
        size_t len = strlen(name);
        for (const char *p = list; (p = strstr(p, name)); p += len)
                if ((p == list || p[-1] == ' ') && (p[len] == ' ' || p[len] == '\n' || !p[len]))
                        return true;
        return false;
}

/* v2: a delegated subtree (e.g. a systemd scope with Delegate=yes). Our own
 * process moves into a leaf of its own, so the controllers can be enabled
 * for the sandbox's sibling leaf ("no internal processes" rule). */
static int cg_create_v2(const struct cgroup_plan *limits, struct cgroup_handle *h)
{
        const char *root = cg_v2_root();
        char own[2048], base[4096], controllers[512], dir[4096], name[64], value[64];
        if (!root || cgroup_own_path("", own, sizeof(own)) < 0)
                return -ENOTSUP;
        snprintf(base, sizeof(base), "%s%s", root, own);
        if (access(base, W_OK) < 0 ||
            cgroup_file_read(base, "cgroup.controllers", controllers, sizeof(controllers)) < 0)
                return -ENOTSUP;
        if ((limits->memory_bytes && !cg_has_controller(controllers, "memory")) ||
            (limits->pids && !cg_has_controller(controllers, "pids")) ||
            (limits->cpus_milli && !cg_has_controller(controllers, "cpu")))
                return -ENOTSUP;
        char enable[64] = "";
        if (limits->memory_bytes)
                strcat(enable, "+memory ");
        if (limits->pids)
                strcat(enable, "+pids ");
        if (limits->cpus_milli)
                strcat(enable, "+cpu ");
        int r = cgroup_file_write(base, "cgroup.subtree_control", enable);
        if (r == -EBUSY) {
                cg_unique_name(name, sizeof(name));
                snprintf(dir, sizeof(dir), "%s/%s-supervisor", base, name);
                if ((r = cg_add_dir(h, dir, NULL)) < 0 ||
                    (r = cgroup_file_write(dir, "cgroup.procs", "0")) < 0)
                        return r;
                r = cgroup_file_write(base, "cgroup.subtree_control", enable);
        }
        if (r < 0)
                return r;
        snprintf(dir, sizeof(dir), "%s/%s", base, cg_name(h));
        if ((r = cg_add_dir(h, dir, "cgroup.procs")) < 0)
                return r;
        h->v2_dir = h->dirs[h->count - 1];
        if (limits->memory_bytes) {
                snprintf(value, sizeof(value), "%llu", (unsigned long long)limits->memory_bytes);
                if ((r = cgroup_file_write(dir, "memory.max", value)) < 0)
                        return r;
                cgroup_file_write(dir, "memory.swap.max", "0");
                h->memory_dir = strdup(dir);
        }
        if (limits->pids) {
                snprintf(value, sizeof(value), "%llu", (unsigned long long)limits->pids);
                if ((r = cgroup_file_write(dir, "pids.max", value)) < 0)
                        return r;
        }
        if (limits->cpus_milli) {
                snprintf(value, sizeof(value), "%llu 100000",
                         (unsigned long long)(limits->cpus_milli * 100));
                if ((r = cgroup_file_write(dir, "cpu.max", value)) < 0)
                        return r;
        }
        h->mode = CGROUP_V2;
        return 0;
}

int cgroup_create(const struct cgroup_plan *limits, struct cgroup_handle *handle,
                  struct reins_error *err)
{
        memset(handle, 0, sizeof(*handle));
        handle->path = limits->path;
        if (!limits->memory_bytes && !limits->pids && !limits->cpus_milli && !limits->cpu_shares &&
            !limits->cpuset_cpus && !limits->cpuset_mems)
                return 0;
        if (weaken("limits"))
                return 0;
        int r = cg_create_v2(limits, handle);
        if (r == 0)
                return 0;
        cgroup_destroy(handle);
        handle->path = limits->path;
        if (geteuid() == 0) {
                r = cg_create_v1(limits, handle);
                if (r == 0)
                        return 0;
                cgroup_destroy(handle);
                unavailable_reason = "cgroup v1 hierarchies are not writable";
                return reins_error_errno(err, ENOTSUP, "cgroup v1 limits");
        }
        unavailable_reason = "no delegated cgroup v2 subtree with memory/pids/cpu controllers";
        return reins_error_set(err, ENOTSUP, "%s", unavailable_reason);
}

/* cgroup.freeze is part of every non-root v2 cgroup since Linux 5.2: no
 * controller to enable, so neither a delegated controller nor moving
 * ourselves out of the way ("no internal processes") is needed. */
static bool cg_v2_freezable(const char *dir)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/cgroup.freeze", dir);
        return access(path, W_OK) == 0;
}

static int cg_use_freezer(struct cgroup_handle *h, enum cgroup_mode mode, const char *dir)
{
        h->freezer = mode;
        h->freezer_dir = dir;
        return 0;
}

/* Root: a directory in the v1 freezer hierarchy, next to the limits' ones. */
static int cg_add_v1_freezer(struct cgroup_handle *h)
{
        char dir[4096];
        int r = cg_v1_dir(h, "freezer", cg_name(h), dir, sizeof(dir));
        if (r < 0)
                return r;
        return cg_use_freezer(h, CGROUP_V1, h->dirs[h->count - 1]);
}

/* A leaf of our own v2 cgroup, when we may write there. */
static int cg_add_v2_freezer(struct cgroup_handle *h)
{
        const char *root = cg_v2_root();
        char own[2048], base[4096], dir[4096];
        if (!root || cgroup_own_path("", own, sizeof(own)) < 0)
                return -ENOTSUP;
        snprintf(base, sizeof(base), "%s%s", root, own);
        if (access(base, W_OK) < 0)
                return -ENOTSUP;
        cg_remove_stale(h, base);
        snprintf(dir, sizeof(dir), "%s/%s", base, cg_name(h));
        int r = cg_add_dir(h, dir, "cgroup.procs");
        if (r < 0)
                return r;
        const char *added = h->dirs[h->count - 1];
        return cg_v2_freezable(added) ? cg_use_freezer(h, CGROUP_V2, added) : -ENOTSUP;
}

int cgroup_add_freezer(struct cgroup_handle *handle)
{
        if (weaken("freezer"))
                return -ENOTSUP;
        /* the limits' v2 cgroup already holds the whole sandbox */
        if (handle->v2_dir && cg_v2_freezable(handle->v2_dir))
                return cg_use_freezer(handle, CGROUP_V2, handle->v2_dir);
        /* on a v1 or hybrid host the freezer controller is bound to its v1
         * hierarchy (where the limits are too); the unified tree there is
         * the init system's bookkeeping */
        if (geteuid() == 0 && cg_add_v1_freezer(handle) == 0)
                return 0;
        return cg_add_v2_freezer(handle);
}

int cgroup_join_self(const int *join_fds, int count)
{
        for (int i = 0; i < count; i++)
                if (write(join_fds[i], "0", 1) != 1)
                        return -errno;
        return 0;
}

long cgroup_oom_kills(const struct cgroup_handle *handle)
{
        char buf[1024];
        if (!handle->memory_dir)
                return 0;
        const char *file = handle->mode == CGROUP_V2 ? "memory.events" : "memory.oom_control";
        if (cgroup_file_read(handle->memory_dir, file, buf, sizeof(buf)) < 0)
                return 0;
        const char *p = strstr(buf, "oom_kill ");
        return p ? strtol(p + 9, NULL, 10) : 0;
}

long cgroup_memory_peak(const struct cgroup_handle *handle)
{
        char buf[64];
        if (!handle->memory_dir)
                return 0;
        const char *file = handle->mode == CGROUP_V2 ? "memory.peak" : "memory.max_usage_in_bytes";
        if (cgroup_file_read(handle->memory_dir, file, buf, sizeof(buf)) < 0)
                return 0;
        return strtol(buf, NULL, 10);
}

void cgroup_destroy(struct cgroup_handle *handle)
{
        /* children first: the sandbox leaf, then our own supervisor leaf */
        for (int i = handle->count - 1; i >= 0; i--) {
                for (int attempt = 0; attempt < 50 && rmdir(handle->dirs[i]) < 0 && errno == EBUSY;
                     attempt++)
                        usleep(2000);
                free(handle->dirs[i]);
        }
        for (int i = 0; i < handle->join_count; i++)
                close(handle->join_fds[i]);
        free(handle->memory_dir);
        memset(handle, 0, sizeof(*handle));
}

/* The host side of isolation: vm, before the sandbox is planned: find the
 * guest kernel, build (once) the initramfs, write the policy the guest
 * enforces, and turn the session's command into `reins vm-host ... --
 * COMMAND` with the files QEMU needs bound read-only (vm/vm.h). */
#include "vm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/digest.h"
#include "util/fileio.h"
#include "util/notice.h"
#include "util/path.h"

int vm_cache_dir(char **out, struct reins_error *err)
{
        const char *base = getenv("XDG_CACHE_HOME");
        char *dir = NULL;
        if (base && base[0] == '/') {
                if (asprintf(&dir, "%s/reins/vm", base) < 0)
                        dir = NULL;
        } else {
                const char *home = getenv("HOME");
                if (!home || home[0] != '/')
                        return reins_error_set(err, ENOENT,
                                               "isolation: vm: no cache directory (set "
                                               "XDG_CACHE_HOME or HOME)");
                if (asprintf(&dir, "%s/.cache/reins/vm", home) < 0)
                        dir = NULL;
        }
        if (!dir)
                return reins_error_set(err, ENOMEM, "out of memory");
        /* each level private to its user: another user cannot plant a
         * kernel or an initramfs there */
        for (char *p = dir + 1; *p; p++)
                if (*p == '/') {
                        *p = '\0';
                        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                                *p = '/';
                                break;
                        }
                        *p = '/';
                }
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                int e = errno;
                reins_error_errno(err, e, "isolation: vm: cache directory %s", dir);
                free(dir);
                return -e;
        }
        *out = dir;
        return 0;
}

int vm_kernel_path(char **out, struct reins_error *err)
{
        const char *given = getenv("REINS_VM_KERNEL");
        char *path = NULL;
        if (given && given[0]) {
                path = strdup(given);
                if (!path)
                        return reins_error_set(err, ENOMEM, "out of memory");
        } else {
                char *dir = NULL;
                int r = vm_cache_dir(&dir, err);
                if (r < 0)
                        return r;
                path = path_join(dir, "bzImage");
                free(dir);
                if (!path)
                        return reins_error_set(err, ENOMEM, "out of memory");
        }
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
                reins_error_set(err, ENOENT,
                                "isolation: vm: no guest kernel at %s (build it with `make "
                                "vm-kernel`, or set REINS_VM_KERNEL)",
                                path);
                free(path);
                return -ENOENT;
        }
        *out = path;
        return 0;
}

/* Write `text` to DIR/NAME unless a file of that name is there (the name
 * says what is in it), through a temporary file renamed into place. */
static int vm_write_once(const char *dir, const char *name, const void *bytes, size_t length,
                         char **out, struct reins_error *err)
{
        char *path = path_join(dir, name);
        if (!path)
                return reins_error_set(err, ENOMEM, "out of memory");
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == length) {
                *out = path;
                return 0;
        }
        char *temporary = NULL;
        if (asprintf(&temporary, "%s.%d.new", path, (int)getpid()) < 0) {
                free(path);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        int r = fd < 0 ? -errno : fileio_write_all(fd, bytes, length);
        if (fd >= 0 && close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(temporary, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(temporary);
                reins_error_errno(err, -r, "isolation: vm: %s", path);
                free(temporary);
                free(path);
                return r;
        }
        free(temporary);
        *out = path;
        return 0;
}

/* ---- the initramfs (cpio "newc", the format the kernel unpacks) ---------- */

struct vm_cpio {
        char *data;
        size_t length, capacity;
        unsigned inode;
};

static int vm_cpio_append(struct vm_cpio *c, const void *bytes, size_t length)
{
        if (c->length + length + 4 > c->capacity) {
                size_t want = (c->length + length + 4) * 2;
                char *grown = realloc(c->data, want);
                if (!grown)
                        return -ENOMEM;
                c->data = grown;
                c->capacity = want;
        }
        memcpy(c->data + c->length, bytes, length);
        c->length += length;
        while (c->length % 4) /* every header and body is 4-byte aligned */
                c->data[c->length++] = '\0';
        return 0;
}

static int vm_cpio_entry(struct vm_cpio *c, const char *name, unsigned mode, unsigned rdev_major,
                         unsigned rdev_minor, const void *body, size_t length)
{
        char header[111];
        size_t name_size = strlen(name) + 1;
        snprintf(header, sizeof(header),
                 "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08zX%08X", ++c->inode, mode,
                 0u, 0u, 1u, 0u, (unsigned)length, 0u, 0u, rdev_major, rdev_minor, name_size, 0u);
        /* the name follows the header directly; padding comes after both */
        size_t start = c->length;
        int r = vm_cpio_append(c, header, 110);
        if (r < 0)
                return r;
        c->length = start + 110;
        if ((r = vm_cpio_append(c, name, name_size)) < 0)
                return r;
        return length ? vm_cpio_append(c, body, length) : 0;
}

/* Directories leading to `path` (relative, without its last component),
 * once each. */
static int vm_cpio_parents(struct vm_cpio *c, struct reins_strv *made, const char *path)
{
        char buf[PATH_MAX];
        snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = buf; (p = strchr(p, '/')); p++) {
                *p = '\0';
                if (!strv_contains(made, buf)) {
                        int r = strv_push(made, buf);
                        if (r < 0 || (r = vm_cpio_entry(c, buf, S_IFDIR | 0755, 0, 0, NULL, 0)) < 0)
                                return r;
                }
                *p = '/';
        }
        return 0;
}

static int vm_cpio_file(struct vm_cpio *c, struct reins_strv *made, const char *name,
                        const char *source, unsigned mode)
{
        int fd = open(source, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        char *data = NULL;
        size_t length = 0;
        bool truncated = false;
        int r = fileio_read_fd(fd, 256u << 20, &data, &length, &truncated);
        close(fd);
        if (r >= 0 && truncated)
                r = -EFBIG;
        if (r >= 0 && (r = vm_cpio_parents(c, made, name)) >= 0)
                r = vm_cpio_entry(c, name, S_IFREG | mode, 0, 0, data, length);
        free(data);
        return r < 0 ? r : 0;
}

/* The shared objects this process was loaded with: what /init needs. */
#include <link.h>
static int vm_collect_object(struct dl_phdr_info *info, size_t size, void *data)
{
        (void)size;
        struct reins_strv *objects = data;
        if (info->dlpi_name && info->dlpi_name[0] == '/')
                strv_push_unique(objects, info->dlpi_name);
        return 0;
}

/* The key of the initramfs: this binary and its libraries (size, time,
 * inode), hashed. */
static int vm_initramfs_key(const struct reins_strv *objects, char key[17])
{
        char *text = NULL;
        size_t length = 0;
        FILE *out = open_memstream(&text, &length);
        if (!out)
                return -ENOMEM;
        struct stat st;
        if (stat("/proc/self/exe", &st) == 0)
                fprintf(out, "exe %llu %lld %llu\n", (unsigned long long)st.st_size,
                        (long long)st.st_mtime, (unsigned long long)st.st_ino);
        for (size_t i = 0; i < objects->count; i++)
                if (stat(objects->items[i], &st) == 0)
                        fprintf(out, "%s %llu %lld\n", objects->items[i],
                                (unsigned long long)st.st_size, (long long)st.st_mtime);
        if (fclose(out) != 0) {
                free(text);
                return -ENOMEM;
        }
        unsigned char digest[DIGEST_SHA256_BYTES];
        digest_sha256(text, length, digest);
        free(text);
        for (size_t i = 0; i < 8; i++)
                snprintf(key + 2 * i, 3, "%02x", digest[i]);
        return 0;
}

int vm_initramfs_path(char **out, struct reins_error *err)
{
        struct reins_strv objects = {0};
        dl_iterate_phdr(vm_collect_object, &objects);
        char key[17], name[64];
        int r = vm_initramfs_key(&objects, key);
        if (r < 0) {
                strv_free(&objects);
                return reins_error_set(err, -r, "out of memory");
        }
        char *dir = NULL;
        if ((r = vm_cache_dir(&dir, err)) < 0) {
                strv_free(&objects);
                return r;
        }
        snprintf(name, sizeof(name), "initramfs-%s.cpio", key);
        char *path = path_join(dir, name);
        struct stat st;
        if (path && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                free(dir);
                strv_free(&objects);
                *out = path;
                return 0;
        }
        free(path);
        /* reins is linked against glibc dynamically (its other libraries
         * statically): /init is this binary, with the loader and the
         * libraries at the paths it was loaded from */
        struct vm_cpio cpio = {0};
        struct reins_strv made = {0};
        static const char *const dirs[] = {"dev", "proc",     "sys",     "run",
                                           "mnt", "mnt/root", "mnt/ctl", "newroot"};
        r = 0;
        for (size_t i = 0; r >= 0 && i < sizeof(dirs) / sizeof(dirs[0]); i++)
                if ((r = strv_push(&made, dirs[i])) >= 0)
                        r = vm_cpio_entry(&cpio, dirs[i], S_IFDIR | 0755, 0, 0, NULL, 0);
        /* the kernel opens /dev/console for init's stdio before anything
         * is mounted */
        if (r >= 0)
                r = vm_cpio_entry(&cpio, "dev/console", S_IFCHR | 0600, 5, 1, NULL, 0);
        if (r >= 0)
                r = vm_cpio_file(&cpio, &made, "init", "/proc/self/exe", 0755);
        for (size_t i = 0; r >= 0 && i < objects.count; i++)
                r = vm_cpio_file(&cpio, &made, objects.items[i] + 1, objects.items[i], 0755);
        if (r >= 0)
                r = vm_cpio_entry(&cpio, "TRAILER!!!", 0, 0, 0, NULL, 0);
        strv_free(&made);
        strv_free(&objects);
        if (r < 0) {
                free(cpio.data);
                free(dir);
                return reins_error_errno(err, -r, "isolation: vm: building the initramfs");
        }
        r = vm_write_once(dir, name, cpio.data, cpio.length, out, err);
        free(cpio.data);
        free(dir);
        return r;
}

/* ---- the command ----------------------------------------------------------- */

static int vm_push_number(struct reins_strv *v, const char *option, unsigned long long value)
{
        char text[32];
        snprintf(text, sizeof(text), "%llu", value);
        int r = strv_push(v, option);
        return r < 0 ? r : strv_push(v, text);
}

int vm_prepare(const struct reins_policy *policy, struct plan_options *options,
               struct vm_prepared *out, struct reins_error *err)
{
        char *kernel = NULL, *initrd = NULL, *dir = NULL, *policy_file = NULL, *text = NULL;
        char exe[PATH_MAX], sha[65], name[96];
        int r;
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        if (n <= 0)
                return reins_error_errno(err, errno, "isolation: vm: cannot find reins itself");
        exe[n] = '\0';
        if ((r = vm_kernel_path(&kernel, err)) < 0 || (r = vm_initramfs_path(&initrd, err)) < 0 ||
            (r = vm_cache_dir(&dir, err)) < 0)
                goto out;
        /* the guest enforces the same policy, normalized; its file is named
         * by its hash */
        text = policy_to_yaml(policy);
        if (!text || policy_sha256_hex(policy, sha) < 0) {
                r = reins_error_set(err, ENOMEM, "out of memory");
                goto out;
        }
        snprintf(name, sizeof(name), "policy-%s.yaml", sha);
        if ((r = vm_write_once(dir, name, text, strlen(text), &policy_file, err)) < 0)
                goto out;

        /* guest RAM is the memory limit; the host-side limit adds QEMU's own */
        uint64_t memory = policy->limits.memory_bytes;
        if (options->memory) {
                /* --memory was given: the plan parses it; here only MiB matter */
                char *end = NULL;
                unsigned long long v = strtoull(options->memory, &end, 10);
                if (end && (strcmp(end, "MiB") == 0 || strcmp(end, "M") == 0))
                        memory = v << 20;
                else if (end && (strcmp(end, "GiB") == 0 || strcmp(end, "G") == 0))
                        memory = v << 30;
        }
        unsigned long long ram_mib = memory ? memory >> 20 : VM_DEFAULT_RAM_MIB;
        if (ram_mib < 128)
                ram_mib = 128;
        snprintf(out->memory, sizeof(out->memory), "%lluMiB", ram_mib + VM_QEMU_RESERVE_MIB);
        unsigned long long cpus =
            policy->limits.cpus_milli ? (policy->limits.cpus_milli + 999) / 1000 : 1;
        if (options->cpus)
                cpus = strtoull(options->cpus, NULL, 10) ?: 1;
        if (cpus > 8)
                cpus = 8;

        out->tcg = !vm_accel_is_kvm(out->accel_why, sizeof(out->accel_why));
        struct reins_strv *v = &out->argv;
        if ((r = strv_push(v, exe)) < 0 || (r = strv_push(v, "vm-host")) < 0 ||
            (r = strv_push(v, "--kernel")) < 0 || (r = strv_push(v, kernel)) < 0 ||
            (r = strv_push(v, "--initrd")) < 0 || (r = strv_push(v, initrd)) < 0 ||
            (r = strv_push(v, "--policy")) < 0 || (r = strv_push(v, policy_file)) < 0 ||
            (r = vm_push_number(v, "--ram-mib", ram_mib)) < 0 ||
            (r = vm_push_number(v, "--cpus", cpus)) < 0 || (r = strv_push(v, "--accel")) < 0 ||
            (r = strv_push(v, out->tcg ? "tcg" : "kvm")) < 0)
                goto nomem;
        /* the workspace as the plan resolves it: -w, else the current
         * directory; its mode: --workspace-mode, else the policy's */
        char cwd[PATH_MAX];
        const char *wanted = options->workspace ? options->workspace : getcwd(cwd, sizeof(cwd));
        char *workspace = wanted ? realpath(wanted, NULL) : NULL;
        if (!workspace) {
                r = reins_error_errno(err, errno, "workspace %s", wanted ? wanted : ".");
                goto out;
        }
        r = strv_push(v, "--workspace");
        if (r >= 0)
                r = strv_push(v, workspace);
        free(workspace);
        const char *mode = options->workspace_mode;
        if (!mode)
                mode = policy->filesystem.workspace_mode == POLICY_WORKSPACE_READONLY  ? "readonly"
                       : policy->filesystem.workspace_mode == POLICY_WORKSPACE_OVERLAY ? "overlay"
                                                                                       : "direct";
        if (r < 0 || (r = strv_push(v, "--workspace-mode")) < 0 || (r = strv_push(v, mode)) < 0)
                goto nomem;
#ifdef REINS_WEAKEN_BUILD
        /* a weakened build (escape probes seen failing) weakens the guest's
         * sandbox the same way; other builds have no such switch */
        const char *weakened = getenv("REINS_WEAKEN");
        if (weakened && ((r = strv_push(v, "--weaken")) < 0 || (r = strv_push(v, weakened)) < 0))
                goto nomem;
#endif
        const char *debug = getenv("REINS_VM_DEBUG");
        if (debug && debug[0] == '1' && (r = strv_push(v, "--debug")) < 0)
                goto nomem;
        /* the caller's additions hold in the guest's sandbox too (the host's
         * sandbox binds them for QEMU's view; the guest's reins binds them
         * for the agent); --env NAME=VALUE reaches the guest by its name */
        for (size_t i = 0; i < options->extra_ro.count; i++)
                if ((r = strv_push(v, "--ro")) < 0 ||
                    (r = strv_push(v, options->extra_ro.items[i])) < 0)
                        goto nomem;
        for (size_t i = 0; i < options->extra_rw.count; i++)
                if ((r = strv_push(v, "--rw")) < 0 ||
                    (r = strv_push(v, options->extra_rw.items[i])) < 0)
                        goto nomem;
        for (size_t i = 0; i < options->extra_env.count; i++) {
                const char *pair = options->extra_env.items[i];
                char *env_name = strndup(pair, strcspn(pair, "="));
                if (!env_name || (r = strv_push(v, "--env")) < 0 ||
                    (r = strv_push_take(v, env_name)) < 0)
                        goto nomem;
        }
        if (options->timeout &&
            ((r = strv_push(v, "--timeout")) < 0 || (r = strv_push(v, options->timeout)) < 0))
                goto nomem;
        if ((r = strv_push(v, "--")) < 0)
                goto nomem;
        for (char **a = options->argv; a && *a; a++)
                if ((r = strv_push(v, *a)) < 0)
                        goto nomem;
        if ((r = strv_copy(&out->extra_ro, &options->extra_ro)) < 0 ||
            (r = strv_push(&out->extra_ro, exe)) < 0 ||
            (r = strv_push(&out->extra_ro, kernel)) < 0 ||
            (r = strv_push(&out->extra_ro, initrd)) < 0 ||
            (r = strv_push(&out->extra_ro, policy_file)) < 0)
                goto nomem;
        if (!out->tcg && (r = strv_push(&out->extra_ro, "/dev/kvm")) < 0)
                goto nomem;
        options->argv = out->argv.items;
        options->extra_ro = out->extra_ro;
        options->memory = out->memory;
        /* the guest's cpus: the host-side limit stays the policy's */
        r = 0;
        goto out;
nomem:
        r = reins_error_set(err, ENOMEM, "out of memory");
out:
        free(kernel);
        free(initrd);
        free(dir);
        free(policy_file);
        free(text);
        return r;
}

void vm_prepared_free(struct vm_prepared *prepared)
{
        strv_free(&prepared->argv);
        /* extra_ro's strings are copies, but the array was the options' */
        strv_free(&prepared->extra_ro);
}

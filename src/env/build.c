/* Building an environment into a private temporary directory of the cache
 * (cache.c renames it into place when it is whole).
 *
 * OCI: every blob the manifest names is copied out of the layout into the
 * build directory while it is hashed, and the copy is used only when its
 * SHA-256 and size are what the descriptor says: a layout altered on disk
 * (or between the check and umoci's read) cannot reach the root. umoci then
 * unpacks the private copy (--rootless for a user: every file becomes the
 * user's, so a writable session can change them).
 *
 * Debian: mmdebstrap --mode=unshare (a user needs subordinate ids) writes a
 * tarball from the host apt's own mirror; tar unpacks it. The installed
 * packages' versions go to the lock.
 *
 * Tools run with an argv (never a shell), their output read line by line
 * into the progress callback, and PR_SET_PDEATHSIG: an interrupted build
 * leaves no tool running. */
#include "env/env.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fileio.h"
#include "util/path.h"
#include "workspace/fsops.h"

/* ---- running a tool ------------------------------------------------------- */

static int env_run_tool(char *const argv[], const struct env_progress *progress,
                        struct reins_error *err)
{
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return reins_error_errno(err, errno, "pipe");
        pid_t pid = fork();
        if (pid < 0) {
                close(fds[0]);
                close(fds[1]);
                return reins_error_errno(err, errno, "fork");
        }
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                int null = open("/dev/null", O_RDONLY);
                if (null >= 0)
                        dup2(null, 0);
                dup2(fds[1], 1);
                dup2(fds[1], 2);
                execvp(argv[0], argv);
                dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        close(fds[1]);
        char buf[4096], line[512] = "", last[512] = "";
        size_t used = 0;
        ssize_t n;
        while ((n = read(fds[0], buf, sizeof(buf))) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                for (ssize_t i = 0; i < n; i++) {
                        char c = buf[i];
                        if (c == '\n' || c == '\r') {
                                line[used] = '\0';
                                if (used) {
                                        memcpy(last, line, used + 1);
                                        env_progress_say(progress, 0, 0, "%s: %s", argv[0], line);
                                }
                                used = 0;
                        } else if (used < sizeof(line) - 1) {
                                /* a tool's text reaches a terminal: printable only */
                                line[used++] = (c >= 0x20 && c < 0x7f) ? c : '?';
                        }
                }
        }
        close(fds[0]);
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return reins_error_errno(err, errno, "waiting for %s", argv[0]);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFEXITED(status))
                return reins_error_set(err, EIO, "%s failed (exit %d)%s%s", argv[0],
                                       WEXITSTATUS(status), last[0] ? ": " : "", last);
        return reins_error_set(err, EINTR, "%s ended by signal %d", argv[0], WTERMSIG(status));
}

/* ---- OCI ---------------------------------------------------------------- */

static void hex_of(const unsigned char *digest, char out[65])
{
        for (size_t i = 0; i < DIGEST_SHA256_BYTES; i++)
                snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

/* Copy blob `d` from the layout into blobs (a directory fd), hashing; the
 * copy stays only when digest and size match. With `keep`, the bytes are
 * also returned (manifest: bounded by ENV_OCI_JSON_MAX). */
static int env_copy_blob(int layout, int blobs, const struct env_oci_descriptor *d,
                         const char *what, const char *layout_path, char **keep, size_t *kept,
                         const struct env_progress *progress, uint64_t *done, uint64_t total,
                         struct reins_error *err)
{
        const char *hex = d->digest + 7;
        char path[96];
        snprintf(path, sizeof(path), "blobs/sha256/%s", hex);
        cleanup_fd int in = ws_open_beneath(layout, path, O_RDONLY | O_CLOEXEC, 0);
        if (in < 0)
                return reins_error_errno(err, -in, "OCI layout %s: %s %s", layout_path, what,
                                         d->digest);
        cleanup_fd int out = openat(blobs, hex, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (out < 0)
                return reins_error_errno(err, errno, "copying %s", d->digest);
        if (keep && d->size > ENV_OCI_JSON_MAX)
                return reins_error_set(err, EFBIG, "OCI layout %s: %s larger than %u bytes",
                                       layout_path, what, ENV_OCI_JSON_MAX);
        cleanup_free char *bytes = keep ? malloc(d->size + 1) : NULL;
        if (keep && !bytes)
                return reins_error_set(err, ENOMEM, "out of memory");
        struct digest_sha256 ctx;
        digest_sha256_init(&ctx);
        uint64_t seen = 0;
        char buf[1 << 16];
        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return reins_error_errno(err, errno, "reading %s", d->digest);
                if (n == 0)
                        break;
                /* never more than the descriptor's size: a blob grown on
                 * disk cannot make us copy (or hold) without bound */
                if (seen + (uint64_t)n > d->size)
                        return reins_error_set(err, EINVAL,
                                               "OCI layout %s: %s %s is larger than its "
                                               "descriptor's %llu bytes: refused",
                                               layout_path, what, d->digest,
                                               (unsigned long long)d->size);
                digest_sha256_update(&ctx, buf, (size_t)n);
                if (bytes)
                        memcpy(bytes + seen, buf, (size_t)n);
                int r = fileio_write_all(out, buf, (size_t)n);
                if (r < 0)
                        return reins_error_errno(err, -r, "copying %s", d->digest);
                seen += (uint64_t)n;
                *done += (uint64_t)n;
                env_progress_say(progress, *done, total, "verifying %s", what);
        }
        unsigned char digest[DIGEST_SHA256_BYTES];
        char got[65];
        digest_sha256_final(&ctx, digest);
        hex_of(digest, got);
        if (seen != d->size || strcmp(got, hex) != 0) {
                unlinkat(blobs, hex, 0);
                return reins_error_set(err, EBADMSG,
                                       "OCI layout %s: %s %s does not match its digest (the blob "
                                       "is corrupt or was altered; got sha256:%s, %llu bytes): "
                                       "refused, nothing runs",
                                       layout_path, what, d->digest, got, (unsigned long long)seen);
        }
        if (keep) {
                bytes[seen] = '\0';
                *keep = steal_ptr(&bytes);
                *kept = (size_t)seen;
        }
        return 0;
}

static int env_write_text(int dirfd, const char *name, const char *text)
{
        cleanup_fd int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        return fd < 0 ? -errno : fileio_write_all(fd, text, strlen(text));
}

int env_build_oci(const char *dir, const char *layout_path, const char *tag,
                  const struct env_progress *progress, struct env_lock *lock,
                  struct reins_error *err)
{
        struct env_oci_descriptor manifest, config;
        char digest[72];
        int r = env_oci_resolve(layout_path, tag, digest, err);
        if (r < 0)
                return r;
        cleanup_fd int layout = open(layout_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (layout < 0)
                return reins_error_errno(err, errno, "OCI layout %s", layout_path);
        /* the manifest's size comes from index.json, read again for it */
        {
                cleanup_fd int fd = ws_open_beneath(layout, "index.json", O_RDONLY | O_CLOEXEC, 0);
                cleanup_free char *data = NULL;
                size_t len = 0;
                bool truncated = false;
                if (fd < 0 || fileio_read_fd(fd, ENV_OCI_JSON_MAX, &data, &len, &truncated) < 0)
                        return reins_error_set(err, EIO, "OCI layout %s: index.json", layout_path);
                if ((r = env_oci_parse_index(data, len, tag, &manifest, err)) < 0)
                        return r;
        }
        cleanup_free char *copy = path_join(dir, "layout");
        if (!copy || mkdir(copy, 0700) < 0)
                return reins_error_errno(err, copy ? errno : ENOMEM, "build directory");
        cleanup_fd int copyfd = open(copy, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (copyfd < 0 || mkdirat(copyfd, "blobs", 0700) < 0)
                return reins_error_errno(err, errno, "build directory");
        cleanup_fd int blobs_parent = openat(copyfd, "blobs", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (blobs_parent < 0 || mkdirat(blobs_parent, "sha256", 0700) < 0)
                return reins_error_errno(err, errno, "build directory");
        cleanup_fd int blobs = openat(blobs_parent, "sha256", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (blobs < 0)
                return reins_error_errno(err, errno, "build directory");
        cleanup_free char *manifest_bytes = NULL;
        size_t manifest_len = 0;
        uint64_t done = 0;
        if ((r = env_copy_blob(layout, blobs, &manifest, "manifest", layout_path, &manifest_bytes,
                               &manifest_len, progress, &done, 0, err)) < 0)
                return r;
        cleanup_free struct env_oci_descriptor *layers = NULL;
        size_t count = 0;
        if ((r = env_oci_parse_manifest(manifest_bytes, manifest_len, &config, &layers, &count,
                                        err)) < 0)
                return reins_error_prefix(err, "OCI layout %s", layout_path), r;
        uint64_t total = config.size;
        for (size_t i = 0; i < count; i++)
                total += layers[i].size;
        done = 0;
        if ((r = env_copy_blob(layout, blobs, &config, "config", layout_path, NULL, NULL, progress,
                               &done, total, err)) < 0)
                return r;
        if ((r = strv_push(&lock->digests, manifest.digest)) < 0 ||
            (r = strv_push(&lock->digests, config.digest)) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < count; i++) {
                char what[32];
                snprintf(what, sizeof(what), "layer %zu/%zu", i + 1, count);
                /* one blob may serve twice; its copy is already verified */
                struct stat st;
                if (fstatat(blobs, layers[i].digest + 7, &st, 0) == 0)
                        continue;
                if ((r = env_copy_blob(layout, blobs, &layers[i], what, layout_path, NULL, NULL,
                                       progress, &done, total, err)) < 0)
                        return r;
                if ((r = strv_push(&lock->digests, layers[i].digest)) < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
        }
        char index[512];
        snprintf(index, sizeof(index),
                 "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/"
                 "vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%llu,"
                 "\"annotations\":{\"org.opencontainers.image.ref.name\":\"reins\"}}]}",
                 manifest.digest, (unsigned long long)manifest.size);
        if ((r = env_write_text(copyfd, "index.json", index)) < 0 ||
            (r = env_write_text(copyfd, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}")) < 0)
                return reins_error_errno(err, -r, "writing the verified layout");
        cleanup_free char *image = NULL, *bundle = path_join(dir, "bundle");
        if (!bundle || asprintf(&image, "%s:reins", copy) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        env_progress_say(progress, total, total, "unpacking %zu layer%s with umoci", count,
                         count == 1 ? "" : "s");
        /* root keeps the image's ownership; a user gets every file as its
         * own (--rootless) */
        char *as_root[] = {"umoci", "unpack", "--image", image, bundle, NULL};
        char *as_user[] = {"umoci", "unpack", "--rootless", "--image", image, bundle, NULL};
        if ((r = env_run_tool(geteuid() == 0 ? as_root : as_user, progress, err)) < 0)
                return r;
        cleanup_free char *from = path_join(bundle, "rootfs"), *to = path_join(dir, "rootfs");
        if (!from || !to || rename(from, to) < 0)
                return reins_error_errno(err, from && to ? errno : ENOMEM, "moving the rootfs");
        /* the blobs and umoci's bundle files are not needed any more */
        cleanup_fd int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd >= 0) {
                ws_remove_tree_at(dirfd, "bundle");
                ws_remove_tree_at(dirfd, "layout");
        }
        return 0;
}

int env_build_skopeo(const char *dir, const struct env_spec *spec,
                     const struct env_progress *progress, struct env_lock *lock,
                     struct reins_error *err)
{
        cleanup_free char *layout = path_join(dir, "source"), *from = NULL, *to = NULL;
        if (!layout ||
            asprintf(&from, "%s:%s",
                     spec->kind == ENV_KIND_DOCKER_ARCHIVE ? "docker-archive"
                                                           : "containers-storage",
                     spec->reference) < 0 ||
            asprintf(&to, "oci:%s:reins", layout) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        env_progress_say(progress, 0, 0, "copying %s with skopeo", from);
        char *argv[] = {"skopeo", "copy", "--quiet", from, to, NULL};
        int r = env_run_tool(argv, progress, err);
        if (r < 0)
                return reins_error_prefix(err, "environment.image %s", spec->source), r;
        /* skopeo's layout is ours, but is verified like any other */
        if ((r = env_build_oci(dir, layout, "reins", progress, lock, err)) < 0)
                return r;
        cleanup_fd int dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd >= 0)
                ws_remove_tree_at(dirfd, "source");
        return 0;
}

/* ---- Debian ------------------------------------------------------------- */

/* The first Debian archive URI the host's apt uses (deb822 .sources or
 * one-line sources.list), security archives aside. */
static char *env_host_mirror(void)
{
        static const char *const files[] = {"/etc/apt/sources.list.d/debian.sources",
                                            "/etc/apt/sources.list", NULL};
        for (size_t f = 0; files[f]; f++) {
                cleanup_fclose FILE *in = fopen(files[f], "re");
                char line[1024];
                while (in && fgets(line, sizeof(line), in)) {
                        char *uri = NULL;
                        if (strncmp(line, "URIs:", 5) == 0)
                                uri = line + 5;
                        else if (strncmp(line, "deb ", 4) == 0)
                                uri = line + 4;
                        if (!uri)
                                continue;
                        uri += strspn(uri, " \t");
                        if (*uri == '[') /* deb [options] URI */
                                uri = strchr(uri, ']') ? strchr(uri, ']') + 1 : uri;
                        uri += strspn(uri, " \t");
                        uri[strcspn(uri, " \t\n")] = '\0';
                        if ((strncmp(uri, "http://", 7) == 0 || strncmp(uri, "https://", 8) == 0) &&
                            !strstr(uri, "security"))
                                return strdup(uri);
                }
        }
        return strdup("http://deb.debian.org/debian");
}

/* mmdebstrap --mode=unshare as a user maps the root's ids through
 * subordinate ranges: without them it cannot build. */
static int env_check_subids(struct reins_error *err)
{
        if (geteuid() == 0)
                return 0;
        struct passwd *pw = getpwuid(geteuid());
        static const char *const files[] = {"/etc/subuid", "/etc/subgid"};
        for (size_t i = 0; i < 2; i++) {
                cleanup_fclose FILE *in = fopen(files[i], "re");
                char line[512];
                bool found = false;
                while (in && !found && fgets(line, sizeof(line), in)) {
                        char *colon = strchr(line, ':');
                        if (!colon)
                                continue;
                        *colon = '\0';
                        char uid[16];
                        snprintf(uid, sizeof(uid), "%u", (unsigned)geteuid());
                        found = strcmp(line, uid) == 0 || (pw && strcmp(line, pw->pw_name) == 0);
                }
                if (!found)
                        return reins_error_set(err, EPERM,
                                               "environment.debian: building a Debian root as "
                                               "uid %u needs subordinate ids in %s (usermod "
                                               "--add-subuids/--add-subgids), or build it as root",
                                               (unsigned)geteuid(), files[i]);
        }
        return 0;
}

/* Installed packages from the new root's dpkg status, as NAME=VERSION. */
static int env_read_packages(const char *rootfs, struct env_lock *lock)
{
        cleanup_free char *path = path_join(rootfs, "var/lib/dpkg/status");
        cleanup_fclose FILE *in = path ? fopen(path, "re") : NULL;
        if (!in)
                return -errno;
        char line[1024], name[256] = "", version[256] = "";
        bool installed = false;
        for (;;) {
                bool end = !fgets(line, sizeof(line), in);
                if (end || line[0] == '\n') {
                        if (name[0] && version[0] && installed) {
                                cleanup_free char *item = NULL;
                                if (asprintf(&item, "%s=%s", name, version) < 0 ||
                                    strv_push(&lock->packages, item) < 0)
                                        return -ENOMEM;
                        }
                        name[0] = version[0] = '\0';
                        installed = false;
                        if (end)
                                break;
                        continue;
                }
                line[strcspn(line, "\n")] = '\0';
                if (strncmp(line, "Package: ", 9) == 0)
                        snprintf(name, sizeof(name), "%s", line + 9);
                else if (strncmp(line, "Version: ", 9) == 0)
                        snprintf(version, sizeof(version), "%s", line + 9);
                else if (strncmp(line, "Status: ", 8) == 0)
                        installed = strstr(line, " installed") != NULL;
        }
        return 0;
}

/* The locked version of `name` ("NAME=VERSION" in pins), or NULL. */
static const char *env_pinned_version(const struct env_lock *pins, const char *name)
{
        size_t len = strlen(name);
        for (size_t i = 0; pins && i < pins->packages.count; i++) {
                const char *item = pins->packages.items[i];
                if (strncmp(item, name, len) == 0 && item[len] == '=')
                        return item + len + 1;
        }
        return NULL;
}

/* A root whose packages are not the lock's is not the locked root: name
 * the first difference (the mirror moved on; --refresh re-locks). */
static int env_check_pins(const struct env_lock *pins, const struct env_lock *built,
                          struct reins_error *err)
{
        for (size_t i = 0; i < pins->packages.count; i++) {
                const char *item = pins->packages.items[i];
                if (strv_contains(&built->packages, item))
                        continue;
                return reins_error_set(err, ESTALE,
                                       "environment.debian: reins.lock pins %s, which the mirror "
                                       "did not give (reins env build --refresh resolves anew "
                                       "and rewrites the lock)",
                                       item);
        }
        for (size_t i = 0; i < built->packages.count; i++)
                if (!strv_contains(&pins->packages, built->packages.items[i]))
                        return reins_error_set(err, ESTALE,
                                               "environment.debian: %s is not in reins.lock "
                                               "(reins env build --refresh re-locks)",
                                               built->packages.items[i]);
        return 0;
}

int env_build_debian(const char *dir, const struct env_spec *spec, const struct env_lock *pins,
                     const struct env_progress *progress, struct env_lock *lock,
                     struct reins_error *err)
{
        int r = env_check_subids(err);
        if (r < 0)
                return r;
        cleanup_free char *mirror = env_host_mirror(), *tarball = path_join(dir, "root.tar"),
                          *rootfs = path_join(dir, "rootfs"), *include = NULL;
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        if (out) {
                fputs("--include=", out);
                for (size_t i = 0; i < spec->packages.count; i++) {
                        /* the lock's version of each named package (a policy's
                         * own NAME=VERSION stays as written) */
                        const char *name = spec->packages.items[i];
                        const char *version =
                            strchr(name, '=') ? NULL : env_pinned_version(pins, name);
                        fprintf(out, "%s%s%s%s", i ? "," : "", name, version ? "=" : "",
                                version ? version : "");
                }
                if (fclose(out) != 0) {
                        free(text);
                        text = NULL;
                }
        }
        include = text;
        if (!mirror || !tarball || !rootfs || !include)
                return reins_error_set(err, ENOMEM, "out of memory");
        env_progress_say(progress, 0, 0, "mmdebstrap %s from %s", spec->suite, mirror);
        char *with[] = {"mmdebstrap", "--mode=unshare", "--variant=apt", include,
                        spec->suite,  tarball,          mirror,          NULL};
        char *without[] = {
            "mmdebstrap", "--mode=unshare", "--variant=apt", spec->suite, tarball, mirror, NULL};
        if ((r = env_run_tool(spec->packages.count ? with : without, progress, err)) < 0)
                return reins_error_prefix(err, "environment.debian"), r;
        if (mkdir(rootfs, 0755) < 0)
                return reins_error_errno(err, errno, "%s", rootfs);
        env_progress_say(progress, 0, 0, "unpacking the root");
        char *tar[] = {"tar",
                       "--numeric-owner",
                       geteuid() == 0 ? "--same-owner" : "--no-same-owner",
                       "-xf",
                       tarball,
                       "-C",
                       rootfs,
                       "--exclude=./dev/*",
                       NULL};
        if ((r = env_run_tool(tar, progress, err)) < 0)
                return r;
        unlink(tarball);
        if ((r = env_read_packages(rootfs, lock)) < 0)
                return reins_error_errno(err, -r, "reading the new root's dpkg status");
        if (pins && pins->packages.count)
                return env_check_pins(pins, lock, err);
        return 0;
}

/* The state directory (state.h). */
#include "oci/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "audit/dirs.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/path.h"

#define STATE_MAX_BYTES (1u << 20)

int oci_state_check_id(const char *id, struct reins_error *err)
{
        size_t len = strlen(id);
        bool ok = len > 0 && len <= OCI_ID_MAX && id[0] != '.';
        for (size_t i = 0; ok && i < len; i++) {
                char c = id[i];
                ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '-' || c == '.';
        }
        if (!ok)
                return reins_error_set(err, EINVAL,
                                       "container id '%.40s': expected 1 to %d of A-Z a-z 0-9 _ - "
                                       ". (not starting with .)",
                                       id, OCI_ID_MAX);
        return 0;
}

/* Ours, a directory, and nobody else's to write or read. */
static int oci_state_check_owned(const char *path, struct reins_error *err)
{
        struct stat st;
        if (lstat(path, &st) < 0)
                return reins_error_errno(err, errno, "%s", path);
        if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0077))
                return reins_error_set(err, EPERM,
                                       "%s: not a directory of this user's with mode 0700 "
                                       "(refused: another user could reach the containers' "
                                       "state)",
                                       path);
        return 0;
}

/* The state directory and its missing parents, 0700 as runc makes them
 * (the containerd shim passes Root/NAMESPACE, never made before on a node
 * that has not run runc); what exists is left as it is. */
static int oci_state_mkdirs(const char *root)
{
        char path[PATH_MAX];
        if (snprintf(path, sizeof(path), "%s", root) >= (int)sizeof(path)) {
                errno = ENAMETOOLONG;
                return -1;
        }
        for (char *p = path + 1;; p++) {
                if (*p != '/' && *p != '\0')
                        continue;
                char c = *p;
                *p = '\0';
                if (mkdir(path, 0700) < 0 && errno != EEXIST)
                        return -1;
                *p = c;
                if (c == '\0')
                        return 0;
        }
}

int oci_state_root(const char *flag, char **out, struct reins_error *err)
{
        char *root = NULL;
        if (flag) {
                root = flag[0] == '/' ? strdup(flag) : NULL;
                if (!root && flag[0] != '/')
                        return reins_error_set(err, EINVAL, "--root %s: expected an absolute path",
                                               flag);
        } else if (geteuid() == 0) {
                root = strdup("/run/reins-oci");
        } else {
                const char *runtime = audit_xdg_dir("XDG_RUNTIME_DIR");
                if (!runtime)
                        return reins_error_set(err, ENOENT,
                                               "no state directory: set XDG_RUNTIME_DIR or pass "
                                               "--root");
                root = path_join(runtime, "reins-oci");
        }
        if (!root)
                return reins_error_set(err, ENOMEM, "out of memory");
        /* uid 0 of a user namespace of its own (rootless podman runs the
         * runtime so) can neither write the host's /run nor own what is
         * there: its runtime directory then */
        if (!flag && geteuid() == 0 && audit_xdg_dir("XDG_RUNTIME_DIR") &&
            ((mkdir(root, 0700) < 0 && errno != EEXIST) || oci_state_check_owned(root, NULL) < 0)) {
                free(root);
                root = path_join(audit_xdg_dir("XDG_RUNTIME_DIR"), "reins-oci");
                if (!root)
                        return reins_error_set(err, ENOMEM, "out of memory");
        }
        if (oci_state_mkdirs(root) < 0) {
                int r = reins_error_errno(err, errno, "state directory %s", root);
                free(root);
                return r;
        }
        int r = oci_state_check_owned(root, err);
        if (r < 0) {
                free(root);
                return r;
        }
        *out = root;
        return 0;
}

char *oci_state_dir(const char *root, const char *id)
{
        return path_join(root, id);
}

int oci_state_create_dir(const char *root, const char *id, struct reins_error *err)
{
        cleanup_free char *dir = oci_state_dir(root, id);
        if (!dir)
                return reins_error_set(err, ENOMEM, "out of memory");
        if (mkdir(dir, 0700) < 0) {
                if (errno == EEXIST)
                        return reins_error_set(err, EEXIST, "container %s exists already", id);
                return reins_error_errno(err, errno, "%s", dir);
        }
        return 0;
}

/* The state's pid is the container's process as the host sees it (the
 * runtime-spec's word): the sandbox's pid 1, whose /proc/PID/ns are the
 * container's namespaces. The supervisor's pid, the one engines wait for,
 * is the pid file's and this directory's own (oci_state_write). */
json_t *oci_state_json(const struct oci_state *st)
{
        json_t *annotations = st->annotations ? json_incref(st->annotations) : json_object();
        pid_t shown = st->init_pid > 0 ? st->init_pid : st->pid;
        json_t *out = json_pack("{s:s, s:s, s:s, s:i, s:s, s:o}", "ociVersion", "1.0.2", "id",
                                st->id, "status", st->status, "pid",
                                strcmp(st->status, "stopped") == 0 ? 0 : (int)shown, "bundle",
                                st->bundle ? st->bundle : "", "annotations", annotations);
        return out;
}

int oci_state_write(const char *root, const struct oci_state *st, struct reins_error *err)
{
        json_t *doc = oci_state_json(st);
        json_t *own =
            json_pack("{s:I, s:i, s:s, s:i, s:s}", "start_time", (json_int_t)st->start_time,
                      "init_pid", (int)st->init_pid, "session", st->session, "exit_status",
                      st->exit_status, "policy", st->policy ? st->policy : "");
        if (!doc || !own) {
                json_decref(doc);
                json_decref(own);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        json_object_set_new(doc, "pid", json_integer(st->pid));
        json_object_set_new(doc, "reins", own);
        cleanup_free char *text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        cleanup_free char *dir = oci_state_dir(root, st->id);
        char tmp[4096], final[4096];
        if (!text || !dir)
                return reins_error_set(err, ENOMEM, "out of memory");
        snprintf(tmp, sizeof(tmp), "%s/state.json.%d", dir, (int)getpid());
        snprintf(final, sizeof(final), "%s/state.json", dir);
        cleanup_fd int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return reins_error_errno(err, errno, "%s", tmp);
        size_t len = strlen(text);
        if (write(fd, text, len) != (ssize_t)len || rename(tmp, final) < 0) {
                int r = reins_error_errno(err, errno, "writing %s", final);
                unlink(tmp);
                return r;
        }
        return 0;
}

unsigned long long oci_state_start_time(pid_t pid)
{
        char path[64], buf[1024];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        /* after the command name, which may hold spaces and parentheses */
        char *at = strrchr(buf, ')');
        if (!at)
                return 0;
        at += 2; /* field 3, the state */
        if (*at == 'Z' || *at == 'X')
                return 0; /* a zombie has ended */
        for (int field = 3; field < 22 && at; field++) {
                at = strchr(at, ' ');
                if (at)
                        at++;
        }
        return at ? strtoull(at, NULL, 10) : 0;
}

int oci_state_pidfd(const struct oci_state *st)
{
        if (st->pid <= 0)
                return -ESRCH;
        int fd = (int)syscall(SYS_pidfd_open, st->pid, 0);
        if (fd < 0)
                return -errno;
        /* checked after the pidfd is held: the pid cannot be reused now */
        if (oci_state_start_time(st->pid) != st->start_time) {
                close(fd);
                return -ESRCH;
        }
        return fd;
}

int oci_state_read(const char *root, const char *id, struct oci_state *st, struct reins_error *err)
{
        memset(st, 0, sizeof(*st));
        st->exit_status = -1;
        int r = oci_state_check_id(id, err);
        if (r < 0)
                return r;
        cleanup_free char *dir = oci_state_dir(root, id);
        cleanup_free char *path = dir ? path_join(dir, "state.json") : NULL;
        if (!path)
                return reins_error_set(err, ENOMEM, "out of memory");
        json_error_t jerr;
        json_t *doc = json_load_file(path, 0, &jerr);
        if (!doc) {
                struct stat s;
                if (stat(dir, &s) < 0)
                        return reins_error_set(err, ENOENT, "container %s does not exist", id);
                return reins_error_set(err, EIO, "container %s: %s: %s", id, path, jerr.text);
        }
        const char *status = json_string_value(json_object_get(doc, "status"));
        const char *bundle = json_string_value(json_object_get(doc, "bundle"));
        json_t *own = json_object_get(doc, "reins");
        const char *session = json_string_value(json_object_get(own, "session"));
        snprintf(st->id, sizeof(st->id), "%s", id);
        snprintf(st->status, sizeof(st->status), "%s", status ? status : "stopped");
        snprintf(st->session, sizeof(st->session), "%s", session ? session : "");
        st->pid = (pid_t)json_integer_value(json_object_get(doc, "pid"));
        st->start_time = (unsigned long long)json_integer_value(json_object_get(own, "start_time"));
        st->init_pid = (pid_t)json_integer_value(json_object_get(own, "init_pid"));
        json_t *exit_status = json_object_get(own, "exit_status");
        st->exit_status = exit_status ? (int)json_integer_value(exit_status) : -1;
        st->bundle = strdup(bundle ? bundle : "");
        const char *policy = json_string_value(json_object_get(own, "policy"));
        st->policy = policy && policy[0] ? strdup(policy) : NULL;
        json_t *annotations = json_object_get(doc, "annotations");
        st->annotations = json_is_object(annotations) ? json_incref(annotations) : NULL;
        json_decref(doc);
        if (!st->bundle)
                return reins_error_set(err, ENOMEM, "out of memory");
        /* the supervisor is the container: gone means stopped */
        if (strcmp(st->status, "stopped") != 0 &&
            (st->pid <= 0 || oci_state_start_time(st->pid) != st->start_time))
                snprintf(st->status, sizeof(st->status), "stopped");
        return 0;
}

void oci_state_clear(struct oci_state *st)
{
        free(st->bundle);
        st->bundle = NULL;
        free(st->policy);
        st->policy = NULL;
        json_decref(st->annotations);
        st->annotations = NULL;
}

int oci_state_remove(const char *root, const char *id, struct reins_error *err)
{
        cleanup_free char *dir = oci_state_dir(root, id);
        if (!dir)
                return reins_error_set(err, ENOMEM, "out of memory");
        cleanup_fd int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : reins_error_errno(err, errno, "%s", dir);
        static const char *const names[] = {"state.json", "control", "lock"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                unlinkat(fd, names[i], 0);
        if (rmdir(dir) < 0 && errno != ENOENT)
                return reins_error_errno(err, errno, "removing %s", dir);
        return 0;
}

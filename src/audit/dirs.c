#include "audit/dirs.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/path.h"

int audit_mkdir_parents(const char *path)
{
        cleanup_free char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        for (char *p = copy + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                int r = mkdir(copy, 0700);
                *p = '/';
                if (r < 0 && errno != EEXIST)
                        return -errno;
        }
        return 0;
}

int audit_dir_check(const char *path, bool create, enum audit_dir_mode mode,
                    struct reins_error *err)
{
        if (create) {
                int r = audit_mkdir_parents(path);
                if (r < 0)
                        return reins_error_errno(err, -r, "creating the parents of %s", path);
                if (mkdir(path, 0700) < 0 && errno != EEXIST)
                        return reins_error_errno(err, errno, "creating %s", path);
        }
        /* O_NOFOLLOW: a symlink planted at our path would redirect every
         * file we create into a directory of the attacker's choosing */
        cleanup_fd int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ELOOP || errno == ENOTDIR)
                        return reins_error_set(err, EPERM,
                                               "%s is not a directory (a symlink?): refusing to "
                                               "use it",
                                               path);
                return reins_error_errno(err, errno, "opening %s", path);
        }
        struct stat st;
        if (fstat(fd, &st) < 0)
                return reins_error_errno(err, errno, "stat %s", path);
        if (st.st_uid != geteuid())
                return reins_error_set(err, EPERM,
                                       "%s is owned by uid %u, not by you (uid %u): refusing to "
                                       "use it",
                                       path, (unsigned)st.st_uid, (unsigned)geteuid());
        mode_t forbidden = mode == AUDIT_DIR_PRIVATE ? 077 : 022;
        if (st.st_mode & forbidden)
                return reins_error_set(
                    err, EPERM, "%s has mode %04o (%s): refusing to use it (chmod 700 it)", path,
                    (unsigned)(st.st_mode & 07777),
                    mode == AUDIT_DIR_PRIVATE ? "must be private" : "writable by group or others");
        return 0;
}

/* Ours, or not there yet (it will be created under our own parent). An
 * inherited variable that names another user's directory (setpriv and sudo
 * keep root's HOME) must not be used: we could not write there, and must not. */
static bool dir_usable(const char *path)
{
        struct stat st;
        if (stat(path, &st) < 0)
                return errno == ENOENT;
        return S_ISDIR(st.st_mode) && st.st_uid == geteuid();
}

static bool dir_ours(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid();
}

const char *audit_home(void)
{
        static char fallback[64];
        const char *home = getenv("HOME");
        if (home && home[0] == '/' && dir_ours(home))
                return home;
        struct passwd *pw = getpwuid(geteuid());
        if (pw && pw->pw_dir && pw->pw_dir[0] == '/' && dir_ours(pw->pw_dir))
                return pw->pw_dir;
        /* no home of our own (nobody's is /nonexistent): a private directory
         * under /var/tmp, created 0700 and owner-checked, never trusted as is */
        snprintf(fallback, sizeof(fallback), "/var/tmp/reins-%u", (unsigned)geteuid());
        struct reins_error ignored = {0};
        if (audit_dir_check(fallback, true, AUDIT_DIR_PRIVATE, &ignored) < 0)
                return NULL;
        return fallback;
}

const char *audit_xdg_dir(const char *variable)
{
        const char *value = getenv(variable);
        return value && value[0] == '/' && dir_usable(value) ? value : NULL;
}

int audit_config_dir(char **out, bool create, struct reins_error *err)
{
        const char *config = audit_xdg_dir("XDG_CONFIG_HOME");
        cleanup_free char *base = NULL;
        if (config && config[0] == '/') {
                base = strdup(config);
        } else {
                const char *home = audit_home();
                if (!home)
                        return reins_error_set(err, ENOENT,
                                               "no config directory: set XDG_CONFIG_HOME or HOME");
                base = path_join(home, ".config");
        }
        cleanup_free char *dir = base ? path_join(base, "reins") : NULL;
        if (!dir)
                return reins_error_set(err, ENOMEM, "out of memory");
        int r = audit_dir_check(dir, create, AUDIT_DIR_NOT_WRITABLE_BY_OTHERS, err);
        if (r < 0)
                return r;
        *out = steal_ptr(&dir);
        return 0;
}

int audit_state_dir(char **out, struct reins_error *err)
{
        const char *state = audit_xdg_dir("XDG_STATE_HOME");
        cleanup_free char *base = NULL;
        if (state) {
                base = strdup(state);
        } else {
                const char *home = audit_home();
                if (!home)
                        return reins_error_set(err, ENOENT,
                                               "no state directory: set XDG_STATE_HOME or HOME");
                base = path_join(home, ".local/state");
        }
        cleanup_free char *dir = base ? path_join(base, "reins") : NULL;
        if (!dir)
                return reins_error_set(err, ENOMEM, "out of memory");
        int r = audit_dir_check(dir, true, AUDIT_DIR_NOT_WRITABLE_BY_OTHERS, err);
        if (r < 0)
                return r;
        *out = steal_ptr(&dir);
        return 0;
}

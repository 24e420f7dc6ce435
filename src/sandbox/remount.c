/* Remount a path of a running sandbox read-only (remount.h). */
#include "sandbox/remount.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/mount.h>

static int open_ns(pid_t pid, const char *name)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, name);
        return open(path, O_RDONLY | O_CLOEXEC);
}

/* In the child: join, set, report through the exit status (an errno). */
static int remount_in_child(int user_ns, int mnt_ns, const char *path)
{
        if (user_ns >= 0 && setns(user_ns, CLONE_NEWUSER) < 0)
                return errno;
        if (setns(mnt_ns, CLONE_NEWNS) < 0)
                return errno;
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
        if (syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE | AT_SYMLINK_NOFOLLOW, &attr,
                    sizeof(attr)) < 0)
                return errno;
        return 0;
}

int remount_readonly(pid_t init, const char *path, struct reins_error *err)
{
        int mnt_ns = open_ns(init, "mnt");
        int user_ns = open_ns(init, "user");
        if (mnt_ns < 0 || user_ns < 0) {
                int e = errno;
                if (mnt_ns >= 0)
                        close(mnt_ns);
                if (user_ns >= 0)
                        close(user_ns);
                return reins_error_errno(err, e, "the sandbox's namespaces");
        }
        /* joining our own user namespace again is refused (EINVAL): root's
         * sandbox has its own, but check rather than assume */
        char self[64] = "", other[64] = "", link[64];
        snprintf(link, sizeof(link), "/proc/%d/ns/user", (int)init);
        bool same_user_ns = readlink("/proc/self/ns/user", self, sizeof(self) - 1) > 0 &&
                            readlink(link, other, sizeof(other) - 1) > 0 &&
                            strcmp(self, other) == 0;
        pid_t child = fork();
        if (child == 0)
                _exit(remount_in_child(same_user_ns ? -1 : user_ns, mnt_ns, path));
        int e = errno;
        close(mnt_ns);
        close(user_ns);
        if (child < 0)
                return reins_error_errno(err, e, "fork");
        int status = 0;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status))
                return reins_error_set(err, EIO, "remounting %s read-only: the helper died", path);
        if (WEXITSTATUS(status))
                return reins_error_errno(err, WEXITSTATUS(status), "remounting %s read-only", path);
        return 0;
}

/* A size-capped copy-on-write workspace (limits.workspace_size): the
 * overlay's upper and work directories live in a tmpfs of that size, so an
 * agent that writes too much gets ENOSPC inside its copy and the host's disk
 * never fills. The session's copy on disk is loaded into it first (resume),
 * and the supervisor gets a directory fd of the tmpfs to watch how full it
 * is and to write the copy back to disk when the session ends. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/mounts_internal.h"
#include "util/cleanup.h"
#include "workspace/upper_copy.h"

/* In the staging root (a private tmpfs): where the capped tmpfs is attached
 * while overlayfs is set up. overlayfs keeps its own reference to it, so it
 * stays when the staging root is detached. */
#define COPY_DIR "/wscopy"

/* Inodes are capped too, one per KiB of the cap (at least 1024): empty files
 * use no blocks, and a million of them would cost kernel memory and a long
 * copy back to disk. */
static int memory_mount(uint64_t size, struct reins_error *err)
{
        char bytes[32], inodes[32];
        snprintf(bytes, sizeof(bytes), "%llu", (unsigned long long)size);
        snprintf(inodes, sizeof(inodes), "%llu",
                 (unsigned long long)(size / 1024 > 1024 ? size / 1024 : 1024));
        cleanup_fd int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
        if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "size", bytes, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "nr_inodes", inodes, 0) < 0 ||
            fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0700", 0) < 0 ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return reins_error_errno(err, errno, "limits.workspace_size: creating the tmpfs");
        cleanup_fd int mnt = fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
        if (mnt < 0)
                return reins_error_errno(err, errno, "limits.workspace_size: mounting the tmpfs");
        if (mkdir(COPY_DIR, 0700) < 0 ||
            move_mount(mnt, "", AT_FDCWD, COPY_DIR, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return reins_error_errno(err, errno, "limits.workspace_size: attaching the tmpfs");
        return 0;
}

/* upper (with the disk copy's mode and contents) and work in the tmpfs. */
static int memory_fill(int copy, const char *disk_upper, struct reins_error *err)
{
        cleanup_fd int from = open(disk_upper, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (from < 0 || fstat(from, &st) < 0)
                return reins_error_errno(err, errno, "the session's copy %s", disk_upper);
        if (mkdirat(copy, "upper", 0700) < 0 || mkdirat(copy, "work", 0700) < 0)
                return reins_error_errno(err, errno, "limits.workspace_size: upper and work");
        cleanup_fd int to = openat(copy, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (to < 0 || fchmod(to, st.st_mode & 07777) < 0)
                return reins_error_errno(err, errno, "limits.workspace_size: upper");
        int r = upper_copy_tree(from, to);
        if (r == -ENOSPC)
                return reins_error_set(err, ENOSPC,
                                       "limits.workspace_size: the session's copy is already "
                                       "larger than the limit (raise it to resume)");
        if (r < 0)
                return reins_error_errno(err, -r, "loading the session's copy into memory");
        return 0;
}

int mounts_overlay_in_memory(const struct mounts_ctx *ctx, const struct mount_op *op,
                             const char *disk_upper, char *upper, char *work, size_t size,
                             struct reins_error *err)
{
        int r = memory_mount(op->size_bytes, err);
        if (r < 0)
                return r;
        int copy = open(COPY_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (copy < 0)
                return reins_error_errno(err, errno, "limits.workspace_size: the tmpfs");
        if ((r = memory_fill(copy, disk_upper, err)) < 0) {
                close(copy);
                return r;
        }
        *ctx->workspace_copy = copy; /* for the supervisor */
        snprintf(upper, size, "%s/upper", COPY_DIR);
        snprintf(work, size, "%s/work", COPY_DIR);
        return 0;
}

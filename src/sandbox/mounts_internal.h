/* Shared by mounts.c, mounts_special.c (/proc and /dev) and mounts_overlay.c. */
#ifndef REINS_SANDBOX_MOUNTS_INTERNAL_H
#define REINS_SANDBOX_MOUNTS_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox/plan.h"
#include "util/error.h"

struct mounts_ctx {
        int oldroot;         /* O_PATH fd of the host tree, during setup only */
        int newroot;         /* O_PATH fd of the sandbox root being built */
        int denied_link;     /* O_PATH fd of a dangling symlink, mounted over hidden files */
        int *workspace_copy; /* out: the capped copy's tmpfs (directory fd), or -1 */
        int scratch;         /* O_PATH fd of the tmpfs /tmp and /dev/shm share, or -1 */
        const struct plan_root *root; /* a container's own root (reins oci), or NULL */
};

/* A detached bind of the directory `name` ("tmp" or "shm") of the shared
 * scratch tmpfs, for mounts_attach; -errno. */
int mounts_scratch_clone(const struct mounts_ctx *ctx, const char *name);

/* limits.workspace_size: a tmpfs of op->size_bytes holding upper and work,
 * filled from the session's copy at `disk_upper`; their paths (valid until
 * pivot_root) in upper/work. Sets *ctx->workspace_copy. */
int mounts_overlay_in_memory(const struct mounts_ctx *ctx, const struct mount_op *op,
                             const char *disk_upper, char *upper, char *work, size_t size,
                             struct reins_error *err);

/* openat2 below dirfd with no symlinks at all (and no magic links). */
int mounts_open_beneath(int dirfd, const char *path, int flags);
/* Create missing directories (and the leaf: a directory when `type` is
 * S_IFDIR, else an empty file) below rootfd; O_PATH fd of the leaf. */
int mounts_open_target(int rootfd, const char *path, mode_t type);
int mounts_attach(int tree, int target_fd);
int mounts_set_attr(int tree, uint64_t set, bool recursive);
int mounts_new_tmpfs(const char *source, const char *mode, uint64_t size_bytes, uint64_t attrs);
int mounts_hide_fd(const struct mounts_ctx *ctx, int target, const char *what,
                   struct reins_error *err);

int mounts_proc(const struct mounts_ctx *ctx, const struct mount_op *op, struct reins_error *err);
int mounts_dev(const struct mounts_ctx *ctx, const struct mount_op *op, struct reins_error *err);

#endif

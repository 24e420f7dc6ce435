/* isolation: vm -- the agent behind a kernel of its own.
 *
 * Three parts, one binary:
 *
 *   host side (vm_prepare, session_new): the session is an ordinary
 *     container session whose command is `reins vm-host`: QEMU runs inside
 *     reins' own sandbox (as Firecracker's jailer runs Firecracker), so the
 *     workspace's binding (direct, readonly, overlay), the deny globs, the
 *     egress proxy, the cgroup limits, the timeout, stop, freeze (the
 *     cgroup freezer stops QEMU: the VM pauses) and death with the
 *     supervisor all hold for QEMU as they hold for any command.
 *   vm-host (vm_host_main, inside that sandbox): starts QEMU (microvm, no
 *     NIC, no PCI) with the guest kernel and reins' initramfs, exports the
 *     sandbox's view read-only and the workspace over virtio-9p, carries
 *     stdio and the exit status over virtio-serial ports, and joins the
 *     guest's network port to the session's egress proxy (vm/mux.h).
 *   guest init (vm_guest_main, pid 1 in the guest): builds the guest's
 *     root from those shares and runs `reins run` there, with the same
 *     policy: the agent is in reins' container sandbox inside the VM.
 */
#ifndef REINS_VM_VM_H
#define REINS_VM_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "policy/policy.h"
#include "sandbox/plan.h"
#include "util/error.h"
#include "util/strv.h"

/* What vm_prepare made for the session: the options it rewrote point into
 * it, so it lives as long as the session. */
struct vm_prepared {
        struct reins_strv argv;     /* reins vm-host ... -- COMMAND */
        struct reins_strv extra_ro; /* the caller's --ro, the kernel, initramfs, policy, reins */
        char memory[32];            /* the host-side limit: guest RAM + QEMU's own */
        bool tcg;                   /* no usable KVM: software emulation */
        char accel_why[160];        /* why that accelerator */
};

/* QEMU's own memory beside the guest's RAM (its code, the TCG translation
 * cache of VM_TB_SIZE_MIB, the 9p server's buffers). */
#define VM_QEMU_RESERVE_MIB 320
#define VM_TB_SIZE_MIB      64
/* guest RAM when the policy sets no memory limit */
#define VM_DEFAULT_RAM_MIB 512

/* Rewrite `options` (argv, extra_ro, memory) so that the session runs the
 * command in a VM. The policy file the guest enforces is the normalized
 * policy, written content-addressed under the cache directory. */
int vm_prepare(const struct reins_policy *policy, struct plan_options *options,
               struct vm_prepared *out, struct reins_error *err);
void vm_prepared_free(struct vm_prepared *prepared);

/* The guest kernel (REINS_VM_KERNEL, else $XDG_CACHE_HOME/reins/vm/bzImage
 * as `make vm-kernel` leaves it). Caller frees. */
int vm_kernel_path(char **out, struct reins_error *err);
/* reins' initramfs: this binary as /init with the shared libraries it was
 * loaded with, built once per binary under the cache directory. */
int vm_initramfs_path(char **out, struct reins_error *err);
/* The cache directory of the VM's files ($XDG_CACHE_HOME/reins/vm). */
int vm_cache_dir(char **out, struct reins_error *err);

/* Which accelerator QEMU would use and why (reins doctor; vm_prepare's
 * note). KVM only when /dev/kvm can boot the guest: a probe boot under a
 * deadline, its answer cached per host. */
bool vm_accel_is_kvm(char *why, size_t why_size);

/* `reins vm-host ...` inside the host sandbox; returns the guest command's
 * exit status. */
int vm_host_main(int argc, char **argv);
/* pid 1 of the guest (the initramfs's /init); never returns. */
int vm_guest_main(int argc, char **argv);
/* True when this process is the guest's init. */
bool vm_is_guest_init(int argc, char **argv);

#endif

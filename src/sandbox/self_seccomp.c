#include "sandbox/self_seccomp.h"

#include <errno.h>
#include <seccomp.h>
#include <stdbool.h>
#include <unistd.h>

int seccomp_forbid_keyring_self(struct reins_error *err)
{
        scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
        if (!ctx)
                return reins_error_set(err, ENOMEM, "supervisor seccomp filter: out of memory");
        static const char *const names[] = {"keyctl", "add_key", "request_key"};
        int r = 0;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && r == 0; i++)
                r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
                                     seccomp_syscall_resolve_name(names[i]), 0);
        /* every thread, should a library have started one */
        if (r == 0)
                r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
        /* root may filter itself without no_new_privs; for everyone else the
         * kernel requires it (the supervisor never execs: nothing changes) */
        if (r == 0 && geteuid() == 0)
                r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
        if (r == 0)
                r = seccomp_load(ctx);
        seccomp_release(ctx);
        if (r < 0)
                return reins_error_errno(err, -r, "supervisor seccomp filter");
        return 0;
}

/* A seccomp filter on the supervisor itself. Once the session key is
 * certified (audit/session_key.h) the supervisor parses what the sandbox
 * sends; code that took it over could still ask the kernel keyring for the
 * user's unlocked key (audit/key_lock.h), as any process of the uid may.
 * This filter takes that away for good: keyctl, add_key and request_key
 * fail with EPERM in the supervisor and everything it forks later. Installed
 * after the sandbox is forked, so the sandbox's own filter (and the probes
 * of a weakened build) are not affected. */
#ifndef REINS_SANDBOX_SELF_SECCOMP_H
#define REINS_SANDBOX_SELF_SECCOMP_H

#include "util/error.h"

int seccomp_forbid_keyring_self(struct reins_error *err);

#endif

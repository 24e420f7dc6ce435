/* Who is at the other end of a Unix socket: a process outside every reins
 * sandbox, or one inside some sandbox?
 *
 * The control socket of a session may only be driven from the host. The uid
 * alone cannot say so: an unprivileged sandbox runs as its caller's uid, and
 * a Unix socket accepts connections through a read-only bind. A sandboxed
 * process always lives in a pid and a user namespace of its own, and as root
 * in a cgroup named reins-PID-…; a peer in another pid or user namespace
 * than the supervisor's, or in such a cgroup, is refused. */
#ifndef REINS_SANDBOX_PEER_H
#define REINS_SANDBOX_PEER_H

#include "util/error.h"

/* 0 when the peer of the connected socket `fd` runs as our uid (or root), in
 * our pid and user namespaces and in no reins cgroup; -EPERM (or -errno)
 * with err otherwise; -EMFILE when we ran out of fds to tell (refused too). */
int sandbox_peer_check(int fd, struct reins_error *err);

#endif

/* The sandbox's terminal. The pty is created inside the sandbox's own devpts
 * (so `tty` inside names a /dev/pts it can see), its master is handed to the
 * supervisor, which relays between it and the caller's terminal. TIOCSTI
 * inside can only ever reach this private pty (CVE-2017-5226). */
#ifndef REINS_SANDBOX_PTY_H
#define REINS_SANDBOX_PTY_H

#include <stdbool.h>
#include <termios.h>

#include "sandbox/spawn.h"
#include "util/error.h"

/* Child side: open /dev/ptmx of the sandbox, apply the caller's termios and
 * window size, send the master over status_fd; returns the slave fd. */
int pty_create_in_sandbox(const struct spawn_inputs *in, int status_fd, struct reins_error *err);

/* Child side, a container's console (reins oci): a pty of the sandbox's
 * devpts, its master sent over `sock` as runc sends it; returns the slave. */
int pty_create_console(int sock, struct reins_error *err);
/* Send a console's master over a --console-socket connection, as runc
 * does (the name "/dev/ptmx", the fd as SCM_RIGHTS). */
int pty_console_send(int sock, int master, struct reins_error *err);

#define REPORT_MAX_FDS 6

/* Send a report of `kind` (and `code`) carrying fds (SCM_RIGHTS) on the
 * status socket, in either direction. */
int report_send_fds(int socket_fd, int kind, int code, const int *fds, int count);
int report_send_fd(int socket_fd, int kind, int fd);
/* Receive one report and up to max_fds passed fds (extra ones are closed). */
int report_receive(int socket_fd, struct spawn_report *report, int *fds, int max_fds, int *count);

/* Supervisor side: receive one report, and a passed fd if any (else -1). */
int pty_receive_report(int status_fd, struct spawn_report *report, int *passed_fd);

/* Supervisor side: the caller's terminal in raw mode while the sandbox runs. */
struct terminal_state {
        bool raw;
        int fd;
        struct termios saved;
};
int terminal_make_raw(struct terminal_state *state, int fd);
void terminal_restore(struct terminal_state *state);
/* Copy the caller's window size to the pty master. */
void terminal_copy_winsize(int from_fd, int master_fd);

#endif

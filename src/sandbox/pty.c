#include "sandbox/pty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sandbox/child.h"
#include "util/cleanup.h"

int report_send_fds(int socket_fd, int kind, int code, const int *fds, int count)
{
        struct spawn_report report = {.kind = kind, .code = code};
        struct iovec iov = {.iov_base = &report, .iov_len = sizeof(report)};
        union {
                char buf[CMSG_SPACE(sizeof(int) * REPORT_MAX_FDS)];
                struct cmsghdr align;
        } control;
        memset(&control, 0, sizeof(control));
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        if (count > REPORT_MAX_FDS)
                return -E2BIG;
        if (count > 0) {
                msg.msg_control = control.buf;
                msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count);
                struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
                cmsg->cmsg_level = SOL_SOCKET;
                cmsg->cmsg_type = SCM_RIGHTS;
                cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
                memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)count);
        }
        return sendmsg(socket_fd, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int report_send_fd(int socket_fd, int kind, int fd)
{
        return report_send_fds(socket_fd, kind, 0, &fd, 1);
}

int pty_create_in_sandbox(const struct spawn_inputs *in, int status_fd, struct reins_error *err)
{
        cleanup_fd int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return reins_error_errno(err, errno, "opening /dev/ptmx in the sandbox");
        char name[64];
        if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0)
                return reins_error_errno(err, errno, "unlocking the sandbox pty");
        int slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return reins_error_errno(err, errno, "opening %s", name);
        /* the command sees the caller's terminal settings and size */
        tcsetattr(slave, TCSANOW, &in->termios);
        ioctl(slave, TIOCSWINSZ, &in->winsize);
        int r = report_send_fd(status_fd, SPAWN_REPORT_PTY, master);
        if (r < 0) {
                close(slave);
                return reins_error_errno(err, -r, "handing the pty to the supervisor");
        }
        return slave;
}

int report_receive(int socket_fd, struct spawn_report *report, int *fds, int max_fds, int *count)
{
        union {
                char buf[CMSG_SPACE(sizeof(int) * REPORT_MAX_FDS)];
                struct cmsghdr align;
        } control;
        struct iovec iov = {.iov_base = report, .iov_len = sizeof(*report)};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control.buf,
                             .msg_controllen = sizeof(control.buf)};
        *count = 0;
        memset(report, 0, sizeof(*report));
        /* ECONNRESET: the peer exited leaving something we sent unread (a
         * child that failed before reading its limits). The error is
         * reported once; what the peer sent before it left is still queued,
         * and that is the report explaining why. */
        ssize_t n = -1;
        for (int tries = 0; tries < 3; tries++) {
                n = recvmsg(socket_fd, &msg, MSG_CMSG_CLOEXEC);
                if (n >= 0 || (errno != ECONNRESET && errno != EINTR))
                        break;
        }
        if (n <= 0)
                return n == 0 ? 0 : -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                int got = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                for (int i = 0; i < got; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(c) + sizeof(int) * (size_t)i, sizeof(int));
                        if (*count < max_fds)
                                fds[(*count)++] = fd;
                        else
                                close(fd); /* more than asked for: never leak */
                }
        }
        report->message[sizeof(report->message) - 1] = '\0';
        return (int)n;
}

int pty_receive_report(int status_fd, struct spawn_report *report, int *passed_fd)
{
        int count = 0;
        *passed_fd = -1;
        int n = report_receive(status_fd, report, passed_fd, 1, &count);
        if (count == 0)
                *passed_fd = -1;
        return n;
}

int terminal_make_raw(struct terminal_state *state, int fd)
{
        state->raw = false;
        state->fd = fd;
        if (tcgetattr(fd, &state->saved) < 0)
                return -errno;
        struct termios raw = state->saved;
        cfmakeraw(&raw);
        if (tcsetattr(fd, TCSANOW, &raw) < 0)
                return -errno;
        state->raw = true;
        return 0;
}

void terminal_restore(struct terminal_state *state)
{
        if (state->raw) {
                tcsetattr(state->fd, TCSANOW, &state->saved);
                state->raw = false;
        }
}

void terminal_copy_winsize(int from_fd, int master_fd)
{
        struct winsize ws;
        if (ioctl(from_fd, TIOCGWINSZ, &ws) == 0)
                ioctl(master_fd, TIOCSWINSZ, &ws);
}

int pty_console_send(int sock, int master, struct reins_error *err)
{
        /* runc's message: the name "/dev/ptmx" and the master as SCM_RIGHTS */
        char name[] = "/dev/ptmx";
        struct iovec iov = {.iov_base = name, .iov_len = sizeof(name) - 1};
        char control[CMSG_SPACE(sizeof(int))] = {0};
        struct msghdr msg = {.msg_iov = &iov,
                             .msg_iovlen = 1,
                             .msg_control = control,
                             .msg_controllen = sizeof(control)};
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &master, sizeof(int));
        if (sendmsg(sock, &msg, 0) < 0)
                return reins_error_errno(err, errno, "sending the console to --console-socket");
        return 0;
}

int pty_create_console(int sock, struct reins_error *err)
{
        int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        int unlock = 0;
        if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0) {
                int r = reins_error_errno(err, errno, "creating the container's console");
                if (master >= 0)
                        close(master);
                return r;
        }
        int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0) {
                int r = reins_error_errno(err, errno, "opening the console's slave");
                close(master);
                return r;
        }
        int r = pty_console_send(sock, master, err);
        close(master);
        if (r < 0) {
                close(slave);
                return r;
        }
        return slave;
}

/* The sandbox's pid 1: builds the root, applies limits, closes inherited
 * fds, starts the command and then reaps and relays signals for it. Runs
 * between clone and exec, so errors go to the status pipe, never stderr. */
#include "sandbox/child.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sandbox/caps.h"
#include "sandbox/cgroup.h"
#include "sandbox/seccomp.h"
#include "sandbox/mounts.h"
#include "sandbox/netns.h"
#include "sandbox/pty.h"
#include "sandbox/rlimits.h"
#include "util/weaken.h"

#define CHILD_STATUS_FD 3
#define CHILD_PTY_FD    4

void child_report(int status_fd, int kind, int code, const char *message)
{
        struct spawn_report report = {.kind = kind, .code = code};
        size_t len = strlen(message);
        if (len >= sizeof(report.message))
                len = sizeof(report.message) - 1;
        memcpy(report.message, message, len);
        ssize_t ignored = write(status_fd, &report, sizeof(report));
        (void)ignored;
}

__attribute__((noreturn)) static void child_fail(int status_fd, const struct reins_error *err)
{
        child_report(status_fd, SPAWN_REPORT_SETUP_FAILED, err->code, err->message);
        _exit(125);
}

const int child_relayed_signals[CHILD_RELAYED_SIGNALS] = {
    SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT, SIGALRM};

static void child_relay_noop(int sig)
{
        (void)sig;
}

/* pid 1 of a pid namespace only receives signals it has a handler for;
 * block them too so sigwaitinfo() picks them up in order. */
static void child_block_signals(sigset_t *set)
{
        sigemptyset(set);
        sigaddset(set, SIGCHLD);
        for (size_t i = 0; i < CHILD_RELAYED_SIGNALS; i++) {
                struct sigaction sa = {.sa_handler = child_relay_noop};
                sigaction(child_relayed_signals[i], &sa, NULL);
                sigaddset(set, child_relayed_signals[i]);
        }
        sigprocmask(SIG_BLOCK, set, NULL);
}

/* Keep only the status pipe (fd 3) and the pty (fd 4): every other fd the
 * supervisor held is closed (CVE-2024-21626 "Leaky Vessels"). */
static int child_close_fds(int status_fd, int pty_slave, struct reins_error *err)
{
        int status_high = fcntl(status_fd, F_DUPFD_CLOEXEC, CHILD_PTY_FD + 1);
        int pty_high = pty_slave >= 0 ? fcntl(pty_slave, F_DUPFD_CLOEXEC, CHILD_PTY_FD + 1) : -1;
        if (status_high < 0 || (pty_slave >= 0 && pty_high < 0))
                return reins_error_errno(err, errno, "moving descriptors");
        if (dup3(status_high, CHILD_STATUS_FD, O_CLOEXEC) < 0 ||
            (pty_high >= 0 && dup3(pty_high, CHILD_PTY_FD, O_CLOEXEC) < 0))
                return reins_error_errno(err, errno, "moving descriptors");
        if (weaken("fds")) {
                close(status_high);
                if (pty_high >= 0)
                        close(pty_high);
                return 0;
        }
        unsigned int first = pty_high >= 0 ? CHILD_PTY_FD + 1 : CHILD_STATUS_FD + 1;
        if (close_range(first, ~0U, 0) < 0)
                return reins_error_errno(err, errno, "closing inherited descriptors");
        return 0;
}

/* The supervisor created our cgroups while we built the root: join them
 * (or learn that rlimits stand in), then make them our cgroup namespace's
 * root. Nothing of the command runs before this. */
static int child_join_limits(int status_fd, int *rlimit_fallback, struct reins_error *err)
{
        struct spawn_report report;
        int fds[REPORT_MAX_FDS], count = 0;
        int n = report_receive(status_fd, &report, fds, REPORT_MAX_FDS, &count);
        if (n <= 0 || report.kind != SPAWN_REPORT_LIMITS) {
                for (int i = 0; i < count; i++)
                        close(fds[i]);
                if (n == 0)
                        _exit(125); /* the supervisor gave up on us */
                return reins_error_errno(err, n < 0 ? -n : EPROTO, "waiting for the limits");
        }
        int r = cgroup_join_self(fds, count);
        for (int i = 0; i < count; i++)
                close(fds[i]);
        if (r < 0)
                return reins_error_errno(err, -r, "joining the sandbox cgroups");
        *rlimit_fallback = report.code;
        if (unshare(CLONE_NEWCGROUP) < 0)
                return reins_error_errno(err, errno, "creating the cgroup namespace");
        return 0;
}

/* The proxy listens inside our network namespace (the only address the
 * command can reach); the supervisor accepts on it from outside. */
static int child_hand_over_listener(int status_fd, struct reins_error *err)
{
        int fd = netns_listen(NETNS_PROXY_PORT, err);
        if (fd < 0)
                return fd;
        int r = report_send_fd(status_fd, SPAWN_REPORT_PROXY, fd);
        close(fd);
        return r < 0 ? reins_error_errno(err, -r, "handing the proxy socket over") : 0;
}

/* The capped copy's tmpfs: the supervisor watches how full it is and
 * writes it back to the session directory when the session ends. */
static int child_hand_over_workspace_copy(int status_fd, int fd, struct reins_error *err)
{
        int r = report_send_fd(status_fd, SPAWN_REPORT_WORKSPACE_COPY, fd);
        close(fd);
        return r < 0 ? reins_error_errno(err, -r, "handing the workspace copy over") : 0;
}

/* The agent's request channel: another listener in our network namespace,
 * served by the supervisor (approvals). */
static int child_hand_over_agent_channel(int status_fd, struct reins_error *err)
{
        int fd = netns_listen(NETNS_AGENT_PORT, err);
        if (fd < 0)
                return fd;
        int r = report_send_fd(status_fd, SPAWN_REPORT_AGENT_CHANNEL, fd);
        close(fd);
        return r < 0 ? reins_error_errno(err, -r, "handing the request channel over") : 0;
}

/* The seccomp filter, and its listener to the supervisor: every exec and
 * every escape primitive of the sandbox is reported there (audit trail,
 * risk engine). */
static int child_install_seccomp(const struct seccomp_program *program, struct reins_error *err)
{
        if (weaken("seccomp"))
                return 0; /* a weakened build shows a process with no filter at all */
        int listener = seccomp_program_install(program);
        if (listener < 0)
                return reins_error_errno(err, -listener, "installing the seccomp filter");
        int r = report_send_fd(CHILD_STATUS_FD, SPAWN_REPORT_EXEC_LISTENER, listener);
        close(listener);
        return r < 0 ? reins_error_errno(err, -r, "handing the seccomp listener over") : 0;
}

/* A container's own maps (linux.uidMappings) may leave the caller's uid
 * unmapped: the process then has the overflow id inside, which owns
 * nothing it could create (the staging tmpfs refuses it: EOVERFLOW). Take
 * the container's root, or failing that its process.user, as runc does;
 * the capabilities of the new namespace are still all held. */
static int child_take_mapped_ids(const struct plan_root *root, struct reins_error *err)
{
        if (!root || !root->uid_map || (getuid() == 0 && getgid() == 0))
                return 0;
        if (setresgid(0, 0, 0) < 0 && setresgid(root->gid, root->gid, root->gid) < 0)
                return reins_error_errno(err, errno,
                                         "linux.gidMappings map neither gid 0 nor "
                                         "process.user.gid");
        if (setresuid(0, 0, 0) < 0 && setresuid(root->uid, root->uid, root->uid) < 0)
                return reins_error_errno(err, errno,
                                         "linux.uidMappings map neither uid 0 nor "
                                         "process.user.uid");
        return 0;
}

void child_main(const struct spawn_inputs *in, int maps_fd, int status_fd)
{
        struct reins_error err = {0};
        /* die with the supervisor: killing `reins run` kills pid 1, and with
         * it every process of the pid namespace */
        if (!weaken("pdeathsig"))
                prctl(PR_SET_PDEATHSIG, SIGKILL);
        /* our uid has no meaning until the supervisor wrote the id maps */
        char go;
        if (read(maps_fd, &go, 1) != 1)
                _exit(125); /* the supervisor died or gave up before releasing us */
        close(maps_fd);
        if (child_take_mapped_ids(in->plan->root, &err) < 0)
                child_fail(status_fd, &err);
        int workspace_copy = -1;
        if (mounts_build_root(in->plan, &workspace_copy, &err) < 0)
                child_fail(status_fd, &err);
        if (workspace_copy >= 0 &&
            child_hand_over_workspace_copy(status_fd, workspace_copy, &err) < 0)
                child_fail(status_fd, &err);
        if (!in->plan->host_network && netns_loopback_up(&err) < 0)
                child_fail(status_fd, &err);
        if (in->plan->proxy && child_hand_over_listener(status_fd, &err) < 0)
                child_fail(status_fd, &err);
        if (in->plan->agent_channel && child_hand_over_agent_channel(status_fd, &err) < 0)
                child_fail(status_fd, &err);
        /* a joined uts namespace keeps its owner's name */
        bool own_uts = !in->plan->root || !in->plan->root->join_uts;
        if (own_uts && sethostname(in->plan->hostname, strlen(in->plan->hostname)) < 0) {
                reins_error_errno(&err, errno, "sethostname");
                child_fail(status_fd, &err);
        }
        int rlimit_fallback = 0;
        if (child_join_limits(status_fd, &rlimit_fallback, &err) < 0)
                child_fail(status_fd, &err);
        if (rlimits_apply(in->plan, rlimit_fallback, &err) < 0 ||
            rlimits_apply_container(in->plan->root, &err) < 0)
                child_fail(status_fd, &err);
        int pty_slave = -1;
        if (in->use_pty && (pty_slave = pty_create_in_sandbox(in, status_fd, &err)) < 0)
                child_fail(status_fd, &err);
        /* a container's console: made here, in the sandbox's devpts, and sent
         * before the supervisor is told the sandbox is ready (the engine
         * waits for it while `create` runs); the slave is stdio from now */
        const struct plan_root *root = in->plan->root;
        if (root && root->console) {
                int console = pty_create_console(root->console_socket, &err);
                if (console < 0)
                        child_fail(status_fd, &err);
                for (int fd = 0; fd < 3; fd++)
                        if (dup2(console, fd) < 0) {
                                reins_error_errno(&err, errno, "dup2 of the console");
                                child_fail(status_fd, &err);
                        }
                close(console);
                close(root->console_socket);
        }
        if (child_close_fds(status_fd, pty_slave, &err) < 0)
                child_fail(status_fd, &err);
        /* a new session without a controlling terminal: TIOCSTI has no
         * terminal of the caller's to inject into (CVE-2017-5226) */
        if (!weaken("setsid"))
                setsid();
        /* Drop every capability and install the seccomp filter once, here:
         * pid 1 and the command (forked below, so it inherits both) keep
         * nothing; the command only adds its Landlock domain before exec. */
        if (caps_drop_all(in->plan->root, &err) < 0)
                child_fail(CHILD_STATUS_FD, &err);
        if (child_install_seccomp(in->seccomp, &err) < 0)
                child_fail(CHILD_STATUS_FD, &err);
        sigset_t set;
        child_block_signals(&set);
        pid_t command = fork();
        if (command < 0) {
                reins_error_errno(&err, errno, "fork");
                child_fail(CHILD_STATUS_FD, &err);
        }
        if (command == 0)
                child_exec_command(in, CHILD_STATUS_FD, pty_slave >= 0 ? CHILD_PTY_FD : -1);
        if (pty_slave >= 0)
                close(CHILD_PTY_FD);
        close(CHILD_STATUS_FD);
        child_init_loop(command);
}

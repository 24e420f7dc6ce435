#include "sandbox/supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/vfs.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/proxy.h"
#include "sandbox/child.h"
#include "sandbox/seccomp_notify.h"
#include "sandbox/pty.h"
#include "sandbox/pty_output.h"
#include "util/fileio.h"
#include "util/weaken.h"
#include "util/cleanup.h"
#include "util/loop.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

enum {
        TAG_SIGNAL,
        TAG_EXIT,
        TAG_STATUS,
        TAG_TIMER,
        TAG_PTY,
        TAG_STDIN,
        TAG_PROXY,
        TAG_EXEC,
};

/* The supervisor's own fds on the caller's loop, by tag. */
#define SUPERVISOR_MAX_FDS 8

struct supervisor {
        struct loop *loop; /* the session's (util/loop.h) */
        struct {
                int fd;
                int tag;
        } watched[SUPERVISOR_MAX_FDS];
        int signal_fd;
        int timer_fd;
        int master; /* the sandbox pty, -1 until it arrives */
        bool stdin_open;
        const struct spawn_result *sandbox;
        const struct supervise_config *config;
        struct proxy *proxy;
        int exec_listener; /* seccomp user notifications (execs, denials), -1 until it arrives */
        struct seccomp_notify notify;
        struct supervise_outcome *outcome;
        struct terminal_state terminal;
        bool exited;
        bool status_open;
        bool workspace_full; /* the capped copy was reported full (re-armed below 90 %) */
        struct timespec workspace_checked; /* when it was last looked at */
};

static sigset_t supervise_signal_set(void)
{
        sigset_t set;
        sigemptyset(&set);
        for (size_t i = 0; i < CHILD_RELAYED_SIGNALS; i++)
                sigaddset(&set, child_relayed_signals[i]);
        return set;
}

void supervise_block_signals(void)
{
        sigset_t set = supervise_signal_set();
        sigprocmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN); /* a closed stdout must not kill the supervisor */
}

static void loop_dispatch(struct supervisor *l, int tag, uint32_t events);

static void supervisor_on_fd(void *ctx, int fd, uint32_t events)
{
        struct supervisor *l = ctx;
        for (int i = 0; i < SUPERVISOR_MAX_FDS; i++)
                if (l->watched[i].fd == fd) {
                        loop_dispatch(l, l->watched[i].tag, events);
                        return;
                }
}

static int loop_watch(struct supervisor *l, int fd, int tag)
{
        for (int i = 0; i < SUPERVISOR_MAX_FDS; i++)
                if (l->watched[i].fd < 0) {
                        int r = loop_add_fd(l->loop, fd, supervisor_on_fd, l);
                        if (r == 0) {
                                l->watched[i].fd = fd;
                                l->watched[i].tag = tag;
                        }
                        return r;
                }
        return -ENOSPC;
}

static void loop_unwatch(struct supervisor *l, int fd)
{
        for (int i = 0; i < SUPERVISOR_MAX_FDS; i++)
                if (l->watched[i].fd == fd) {
                        loop_remove_fd(l->loop, fd);
                        l->watched[i].fd = -1;
                }
}

/* Copy what the sandbox's terminal printed to our stdout; false at EOF. */
static bool loop_pump_master(struct supervisor *l)
{
        char buf[65536];
        ssize_t n = read(l->master, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return true;
        if (n <= 0) /* EIO: every slave closed */
                return false;
        pty_output_observe(buf, (size_t)n); /* where reins' notices may go */
        (void)fileio_write_all(STDOUT_FILENO, buf, (size_t)n);
        return true;
}

static void loop_pump_stdin(struct supervisor *l)
{
        char buf[65536];
        ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0 || fileio_write_all(l->master, buf, (size_t)n) < 0) {
                loop_unwatch(l, STDIN_FILENO);
                l->stdin_open = false;
        }
}

static void loop_on_pty(struct supervisor *l, int master)
{
        l->master = master;
        fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
        terminal_copy_winsize(STDIN_FILENO, master);
        terminal_make_raw(&l->terminal, STDIN_FILENO);
        loop_watch(l, master, TAG_PTY);
        if (loop_watch(l, STDIN_FILENO, TAG_STDIN) == 0)
                l->stdin_open = true;
}

static bool loop_frozen(const struct supervisor *l)
{
        return l->config->frozen && *l->config->frozen && l->config->kill_frozen;
}

/* End the sandbox: SIGKILL to pid 1 takes the whole pid namespace with it;
 * a frozen one is ended by whoever froze it. */
static void loop_kill(struct supervisor *l)
{
        if (loop_frozen(l))
                l->config->kill_frozen(l->config->freeze_ctx);
        else
                kill(l->sandbox->pid, SIGKILL);
}

/* The sandbox's listening socket arrived: serve the egress proxy on it. A
 * proxy that cannot start means no network, so the sandbox is stopped. */
static void loop_on_proxy_listener(struct supervisor *l, int listener)
{
        const struct reins_plan *plan = l->config->plan;
        struct proxy_options options = {
            .allow = &plan->net_allow,
            .deny = &plan->net_deny,
            .hosts = &plan->net_hosts,
            .ask = &plan->net_ask,
            .egress_budget_bytes = plan->egress_budget_bytes,
            .events = l->config->events,
            .gate = l->config->gate,
            .inject = l->config->inject,
            .terminator = l->config->terminator,
        };
        struct reins_error err = {0};
        if (proxy_create(&options, listener, &l->proxy, &err) < 0 ||
            loop_watch(l, proxy_poll_fd(l->proxy), TAG_PROXY) < 0) {
                l->outcome->setup_failed = true;
                snprintf(l->outcome->message, sizeof(l->outcome->message), "egress proxy: %s",
                         err.message[0] ? err.message : "cannot watch it");
                loop_kill(l);
                return;
        }
        if (l->config->on_proxy)
                l->config->on_proxy(l->config->hooks_ctx, l->proxy);
}

static void loop_on_status(struct supervisor *l)
{
        struct spawn_report report;
        int passed = -1;
        int n = pty_receive_report(l->sandbox->status_fd, &report, &passed);
        if (n <= 0) {
                loop_unwatch(l, l->sandbox->status_fd);
                l->status_open = false;
                if (l->config->on_running)
                        l->config->on_running(l->config->on_ready_ctx);
                return;
        }
        switch (report.kind) {
        case SPAWN_REPORT_PTY:
                if (passed >= 0)
                        loop_on_pty(l, passed);
                break;
        case SPAWN_REPORT_PROXY:
                if (passed >= 0)
                        loop_on_proxy_listener(l, passed);
                break;
        case SPAWN_REPORT_AGENT_CHANNEL:
                if (passed >= 0 && l->config->on_agent_listener)
                        l->config->on_agent_listener(l->config->hooks_ctx, passed);
                else if (passed >= 0)
                        close(passed);
                break;
        case SPAWN_REPORT_EXEC_LISTENER:
                if (passed >= 0 && l->exec_listener < 0) {
                        l->exec_listener = passed;
                        loop_watch(l, passed, TAG_EXEC);
                        if (l->config->on_ready)
                                l->config->on_ready(l->config->on_ready_ctx);
                } else if (passed >= 0) {
                        close(passed);
                }
                break;
        case SPAWN_REPORT_WORKSPACE_COPY:
                if (passed >= 0 && l->config->workspace_copy && *l->config->workspace_copy < 0)
                        *l->config->workspace_copy = passed;
                else if (passed >= 0)
                        close(passed);
                break;
        case SPAWN_REPORT_SETUP_FAILED:
                l->outcome->setup_failed = true;
                /* fall through */
        case SPAWN_REPORT_EXEC_FAILED:
                snprintf(l->outcome->message, sizeof(l->outcome->message), "%s", report.message);
                if (passed >= 0)
                        close(passed);
                break;
        default:
                if (passed >= 0)
                        close(passed);
        }
}

static void loop_on_signal(struct supervisor *l)
{
        struct signalfd_siginfo info;
        if (read(l->signal_fd, &info, sizeof(info)) != sizeof(info))
                return;
        int sig = (int)info.ssi_signo;
        if (sig == SIGWINCH && l->master >= 0) {
                terminal_copy_winsize(STDIN_FILENO, l->master);
                return; /* the pty sends SIGWINCH to its foreground group itself */
        }
        bool ends = sig == SIGTERM || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT;
        if (ends && loop_frozen(l)) {
                loop_kill(l); /* a frozen pid 1 cannot relay it */
                return;
        }
        /* only `reins thaw` thaws: a relayed SIGCONT would let a pid 1
         * frozen with SIGSTOP go on */
        if (sig == SIGCONT && loop_frozen(l))
                return;
        /* pid 1 of the sandbox relays it to the command */
        kill(l->sandbox->pid, sig);
}

static void loop_on_timer(struct supervisor *l)
{
        uint64_t expirations;
        if (read(l->timer_fd, &expirations, sizeof(expirations)) < 0)
                return;
        if (weaken("timeout"))
                return;
        l->outcome->timed_out = true;
        loop_kill(l);
}

static void loop_on_exit(struct supervisor *l)
{
        siginfo_t info;
        memset(&info, 0, sizeof(info));
        if (waitid((idtype_t)P_PIDFD, (id_t)l->sandbox->pidfd, &info, WEXITED) < 0)
                return;
        l->exited = true;
        if (info.si_code == CLD_EXITED)
                l->outcome->exit_status = info.si_status;
        else
                l->outcome->exit_status = 128 + info.si_status;
}

static int loop_arm_timer(struct supervisor *l, uint64_t wall_time_ms)
{
        l->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (l->timer_fd < 0)
                return -errno;
        struct itimerspec spec = {
            .it_value = {.tv_sec = (time_t)(wall_time_ms / 1000),
                         .tv_nsec = (long)(wall_time_ms % 1000) * 1000000L},
        };
        if (timerfd_settime(l->timer_fd, 0, &spec, NULL) < 0)
                return -errno;
        return loop_watch(l, l->timer_fd, TAG_TIMER);
}

static void loop_dispatch(struct supervisor *l, int tag, uint32_t events)
{
        switch (tag) {
        case TAG_SIGNAL:
                loop_on_signal(l);
                break;
        case TAG_EXIT:
                loop_on_exit(l);
                break;
        case TAG_STATUS:
                loop_on_status(l);
                break;
        case TAG_TIMER:
                loop_on_timer(l);
                break;
        case TAG_PTY:
                if (!loop_pump_master(l) || (events & EPOLLHUP && !(events & EPOLLIN)))
                        loop_unwatch(l, l->master);
                break;
        case TAG_STDIN:
                loop_pump_stdin(l);
                break;
        case TAG_PROXY:
                proxy_dispatch(l->proxy);
                break;
        case TAG_EXEC:
                if (seccomp_notify_handle(l->exec_listener, &l->notify, l->config->events,
                                          l->config->exec_gate) < 0 ||
                    (events & EPOLLHUP))
                        loop_unwatch(l, l->exec_listener);
                break;
        }
}

/* limits.workspace_size: the agent got ENOSPC in its copy (the tmpfs has
 * no block, or no inode, left). One "limit" event per time it fills up;
 * looked at every 100 ms (the loop wakes at least that often) and at the
 * end. The event is recorded between two rounds of the loop: its ticks
 * (the trail's flush) are kicked to run at once. */
static void loop_check_workspace(struct supervisor *l, bool now)
{
        int fd = l->config->workspace_copy ? *l->config->workspace_copy : -1;
        if (fd < 0)
                return;
        /* at most every 100 ms: the loop wakes for every proxy read too */
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
        long elapsed_ms = (t.tv_sec - l->workspace_checked.tv_sec) * 1000 +
                          (t.tv_nsec - l->workspace_checked.tv_nsec) / 1000000;
        if (!now && elapsed_ms < 100)
                return;
        l->workspace_checked = t;
        struct statfs st;
        if (fstatfs(fd, &st) < 0 || st.f_blocks == 0)
                return;
        uint64_t block = (uint64_t)st.f_bsize, total = (uint64_t)st.f_blocks * block;
        uint64_t used = total - (uint64_t)st.f_bfree * block;
        bool full = st.f_bavail == 0 || (st.f_files > 0 && st.f_ffree == 0);
        if (full && !l->workspace_full && l->loop)
                loop_kick(l->loop);
        if (full && !l->workspace_full)
                event_emit(l->config->events, "limit",
                           json_pack("{s:s, s:I, s:I, s:I, s:s}", "limit", "workspace_size",
                                     "bytes",
                                     (json_int_t)l->config->plan->limits.workspace_size_bytes,
                                     "used", (json_int_t)used, "files_used",
                                     (json_int_t)(st.f_files - st.f_ffree), "result", "ENOSPC"));
        if (full)
                l->workspace_full = true;
        else if (used * 10 < total * 9)
                l->workspace_full = false;
}

/* After the sandbox exited: the rest of its output and reports. */
static void loop_drain(struct supervisor *l)
{
        while (l->status_open)
                loop_on_status(l);
        if (l->master >= 0)
                while (loop_pump_master(l))
                        ;
}

int supervise(const struct spawn_result *sandbox, const struct supervise_config *config,
              struct supervise_outcome *outcome, struct reins_error *err)
{
        uint64_t wall_time_ms = config->plan->limits.wall_time_ms;
        struct supervisor l = {.config = config,
                               .loop = config->loop,
                               .exec_listener = -1,
                               .signal_fd = -1,
                               .timer_fd = -1,
                               .master = -1,
                               .sandbox = sandbox,
                               .outcome = outcome,
                               .status_open = true};
        for (int i = 0; i < SUPERVISOR_MAX_FDS; i++)
                l.watched[i].fd = -1;
        memset(outcome, 0, sizeof(*outcome));
        sigset_t set = supervise_signal_set();
        int r = seccomp_notify_init(&l.notify, config->plan);
        struct loop *own = NULL; /* a caller without a loop of its own */
        if (r == 0 && !l.loop && (r = loop_new(&own)) == 0)
                l.loop = own;
        l.signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (r == 0 && l.signal_fd < 0)
                r = -errno;
        if (r == 0)
                r = loop_watch(&l, l.signal_fd, TAG_SIGNAL);
        if (r == 0)
                r = loop_watch(&l, sandbox->pidfd, TAG_EXIT);
        if (r == 0)
                r = loop_watch(&l, sandbox->status_fd, TAG_STATUS);
        bool timer_held = config->parked && *config->parked;
        if (r == 0 && wall_time_ms > 0 && !timer_held)
                r = loop_arm_timer(&l, wall_time_ms);
        if (r < 0) {
                kill(sandbox->pid, SIGKILL);
                reins_error_errno(err, -r, "supervisor event loop");
        }
        /* a capped copy is looked at every 100 ms (loop_check_workspace) */
        int wait_ms = config->workspace_copy ? 100 : -1;
        while (!l.exited) {
                int n = l.loop ? loop_run_once(l.loop, wait_ms) : -EINVAL;
                loop_check_workspace(&l, false);
                /* a pool member's command was released: its time starts */
                if (timer_held && !*config->parked) {
                        timer_held = false;
                        if (wall_time_ms > 0 && loop_arm_timer(&l, wall_time_ms) < 0)
                                n = -errno;
                }
                if (n < 0) {
                        r = reins_error_errno(err, -n, "waiting for the sandbox");
                        loop_kill(&l);
                        loop_on_exit(&l);
                        break;
                }
        }
        loop_drain(&l);
        loop_check_workspace(&l, true); /* filled up just before the end */
        seccomp_notify_finish(&l.notify, config->events);
        terminal_restore(&l.terminal);
        for (int i = 0; i < SUPERVISOR_MAX_FDS; i++) /* the loop outlives these fds */
                if (l.watched[i].fd >= 0)
                        loop_unwatch(&l, l.watched[i].fd);
        if (l.proxy && config->on_proxy)
                config->on_proxy(config->hooks_ctx, NULL);
        if (l.proxy)
                proxy_free(l.proxy);
        if (l.exec_listener >= 0)
                close(l.exec_listener);
        if (l.master >= 0)
                close(l.master);
        if (l.timer_fd >= 0)
                close(l.timer_fd);
        if (l.signal_fd >= 0)
                close(l.signal_fd);
        loop_free(own);
        return r;
}

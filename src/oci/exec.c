/* reins oci exec: a process joins a running container with every
 * protection its first process has.
 *
 * The plan is built again from the bundle and the container's policy (the
 * same Landlock rules, seccomp program, limits and environment), then:
 *
 *   this process (a child subreaper)
 *     └─ A  joins the container's cgroups, then setns() into all of the
 *           sandbox's namespaces at once (a pidfd of its pid 1), forks B,
 *           says B's pid and exits
 *          └─ B  (pid namespace of the container) rlimits, its terminal, cwd,
 *                closes every fd but its two channels, drops every capability
 *                (taking the process's uid/gid), installs reins' seccomp
 *                filter and hands its listener to the supervisor (execs and
 *                denied calls are answered and recorded in the container's
 *                trail), Landlock, config.json's own filter, execve.
 *
 * B is reparented to us when A exits, and to the engine (conmon, a child
 * subreaper) when we exit with --detach: its exit status is the exec'd
 * process's. A channel (CLOEXEC) tells us B's pid, then EOF once execve
 * succeeded, or why it failed. */
#include "oci/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oci/container.h"
#include "oci/spec.h"
#include "oci/state.h"
#include "policy/policy.h"
#include "sandbox/caps.h"
#include "sandbox/landlock.h"
#include "sandbox/plan.h"
#include "sandbox/pty.h"
#include "sandbox/rlimits.h"
#include "sandbox/seccomp.h"
#include "util/cleanup.h"
#include "util/path.h"
#include "util/weaken.h"

extern char **environ;

#define EXEC_NAMESPACES                                                                            \
        (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | \
         CLONE_NEWCGROUP)

/* The process to run: --process FILE (runtime-spec's process object), or
 * args with --cwd, --env, --tty. Parsed as config.json's process is, by
 * wrapping it in a config of its own. */
static int exec_load_process(const struct oci_exec_options *o, const struct oci_spec *bundle,
                             struct oci_spec **out, struct reins_error *err)
{
        json_t *process = NULL;
        if (o->process_path) {
                struct stat st;
                if (stat(o->process_path, &st) < 0)
                        return reins_error_errno(err, errno, "--process %s", o->process_path);
                if (st.st_size > OCI_SPEC_MAX_BYTES)
                        return reins_error_set(err, EINVAL, "--process %s: too large",
                                               o->process_path);
                json_error_t jerr;
                process = json_load_file(o->process_path, JSON_REJECT_DUPLICATES, &jerr);
                if (!json_is_object(process)) {
                        json_decref(process);
                        return reins_error_set(err, EINVAL, "--process %s: line %d: %s",
                                               o->process_path, jerr.line,
                                               process ? "expected an object" : jerr.text);
                }
        } else {
                json_t *base = json_object_get(bundle->doc, "process");
                process = json_deep_copy(base);
                if (!process)
                        return reins_error_set(err, ENOMEM, "out of memory");
                json_t *args = json_array();
                for (size_t i = 0; i < o->arg_count; i++)
                        json_array_append_new(args, json_string(o->args[i]));
                json_object_set_new(process, "args", args);
                json_object_set_new(process, "terminal", json_boolean(o->tty));
                if (o->cwd)
                        json_object_set_new(process, "cwd", json_string(o->cwd));
                json_t *env = json_object_get(process, "env");
                if (!json_is_array(env)) {
                        env = json_array();
                        json_object_set_new(process, "env", env);
                }
                for (size_t i = 0; i < o->env_count; i++)
                        json_array_append_new(env, json_string(o->env[i]));
        }
        json_t *doc = json_pack("{s:s, s:o, s:{s:s}}", "ociVersion", "1.0.2", "process", process,
                                "root", "path", bundle->rootfs);
        cleanup_free char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        if (!text)
                return reins_error_set(err, ENOMEM, "out of memory");
        int r = oci_spec_parse(text, strlen(text), bundle->bundle, true, out, err);
        if (r < 0 && o->process_path) {
                /* "config.json: process.args..." names the --process file's key */
                char message[REINS_ERROR_MAX];
                snprintf(message, sizeof(message), "--process %s: %s", o->process_path,
                         err->message + (strncmp(err->message, "config.json: ", 13) == 0 ? 13 : 0));
                reins_error_set(err, err->code, "%s", message);
        }
        return r;
}

/* The container's cgroups (its memory, pids, cpu limits and the freezer
 * of `pause`): A joins each one the sandbox's pid 1 is in below reins'
 * own, so B is counted and frozen with the container. */
static int exec_join_cgroups(pid_t init, struct reins_error *err, bool *joined)
{
        char path[64], line[1024];
        *joined = false;
        snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)init);
        FILE *f = fopen(path, "re");
        if (!f)
                return reins_error_errno(err, errno, "%s", path);
        int r = 0;
        while (r == 0 && fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                char *controllers = strchr(line, ':');
                char *where = controllers ? strchr(controllers + 1, ':') : NULL;
                if (!where)
                        continue;
                *where++ = '\0';
                controllers++;
                if (strstr(where, "reins") == NULL || strstr(where, ".."))
                        continue; /* not a cgroup of reins': the host's */
                char procs[2048];
                const char *dir = controllers[0] ? controllers : "unified";
                if (strncmp(dir, "name=", 5) == 0)
                        dir += 5;
                snprintf(procs, sizeof(procs), "/sys/fs/cgroup/%s%s/cgroup.procs", dir, where);
                int fd = open(procs, O_WRONLY | O_CLOEXEC);
                if (fd < 0 && !controllers[0]) {
                        snprintf(procs, sizeof(procs), "/sys/fs/cgroup%s/cgroup.procs", where);
                        fd = open(procs, O_WRONLY | O_CLOEXEC);
                }
                if (fd < 0 || write(fd, "0", 1) != 1)
                        r = reins_error_errno(err, errno, "joining the container's cgroup %s",
                                              procs);
                else
                        *joined = true;
                if (fd >= 0)
                        close(fd);
        }
        fclose(f);
        return r;
}

/* B's failure: the reason on the channel, then the exit status. */
__attribute__((noreturn)) static void exec_child_fail(int channel, const struct reins_error *err,
                                                      int status)
{
        dprintf(channel, "error: %s", err->message);
        _exit(status);
}

static int exec_send_listener(int control, int listener, struct reins_error *err)
{
        char request[] = "exec-listener";
        struct iovec iov = {.iov_base = request, .iov_len = sizeof(request) - 1};
        char cbuf[CMSG_SPACE(sizeof(int))] = {0};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &listener, sizeof(int));
        if (sendmsg(control, &msg, 0) < 0)
                return reins_error_errno(err, errno, "handing the seccomp listener over");
        shutdown(control, SHUT_WR);
        char answer[256] = "";
        ssize_t n = read(control, answer, sizeof(answer) - 1);
        if (n != 2 || strncmp(answer, "ok", 2) != 0)
                return reins_error_set(err, EPROTO, "the supervisor did not take the process: %s",
                                       n > 0 ? answer : "no answer");
        return 0;
}

/* --console-socket: a pty of the container's own devpts (its name is
 * then right inside: ttyname, `tty`), the master sent to the engine over
 * the socket connected before the namespaces were joined, the slave the
 * controlling terminal and stdio. */
static int exec_make_console(int sock, struct reins_error *err)
{
        int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
        int unlock = 0;
        if (master < 0 || ioctl(master, TIOCSPTLCK, &unlock) < 0)
                return reins_error_errno(err, errno, "creating the console in the container");
        int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
        if (slave < 0) {
                close(master);
                return reins_error_errno(err, errno, "opening the console's slave");
        }
        int r = pty_console_send(sock, master, err);
        close(master);
        close(sock);
        for (int fd = 0; r == 0 && fd < 3; fd++)
                if (dup2(slave, fd) < 0)
                        r = reins_error_errno(err, errno, "dup2");
        close(slave);
        if (r == 0 && ioctl(0, TIOCSCTTY, 0) < 0)
                r = reins_error_errno(err, errno, "making the console the controlling terminal");
        return r;
}

struct exec_child {
        const struct reins_plan *plan;
        const struct seccomp_program *seccomp;
        const struct oci_spec *process;
        const struct plan_root *ids;
        char **env;
        int control, channel, console; /* console: the engine's console socket or -1 */
        bool rlimit_fallback;
        int landlock_abi;
};

__attribute__((noreturn)) static void exec_child(const struct exec_child *c)
{
        struct reins_error err = {0};
        /* its two channels at 3 and 4, every other fd closed (CVE-2024-21626) */
        /* out of the way first: dup3 refuses an fd onto itself */
        int high_channel = fcntl(c->channel, F_DUPFD_CLOEXEC, 10);
        int high_control = fcntl(c->control, F_DUPFD_CLOEXEC, 10);
        int high_console = c->console >= 0 ? fcntl(c->console, F_DUPFD_CLOEXEC, 10) : -1;
        if (high_channel < 0 || high_control < 0 || (c->console >= 0 && high_console < 0) ||
            dup3(high_channel, 3, O_CLOEXEC) < 0 || dup3(high_control, 4, O_CLOEXEC) < 0 ||
            (high_console >= 0 && dup3(high_console, 5, O_CLOEXEC) < 0))
                _exit(125);
        close_range(c->console >= 0 ? 6 : 5, ~0U, 0);
        const int channel = 3, control = 4;
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* a session of its own: no terminal of the caller's (CVE-2017-5226);
         * the console, when there is one, becomes its controlling terminal */
        setsid();
        if (c->console >= 0 && exec_make_console(5, &err) < 0)
                exec_child_fail(channel, &err, 125);
        if (rlimits_apply(c->plan, c->rlimit_fallback, &err) < 0 ||
            rlimits_apply_container(&c->process->root, &err) < 0)
                exec_child_fail(channel, &err, 125);
        if (chdir(c->process->root.cwd) < 0) {
                reins_error_errno(&err, errno, "process.cwd %s", c->process->root.cwd);
                exec_child_fail(channel, &err, 125);
        }
        if (caps_drop_all(c->ids, &err) < 0)
                exec_child_fail(channel, &err, 125);
        if (!weaken("seccomp")) {
                int listener = seccomp_program_install(c->seccomp);
                if (listener < 0) {
                        reins_error_errno(&err, -listener, "installing the seccomp filter");
                        exec_child_fail(channel, &err, 125);
                }
                if (exec_send_listener(control, listener, &err) < 0)
                        exec_child_fail(channel, &err, 125);
                close(listener);
        }
        close(control);
        if (c->landlock_abi > 0 &&
            landlock_apply(c->plan->landlock, c->plan->landlock_count, &err) < 0)
                exec_child_fail(channel, &err, 125);
        const struct plan_root *root = c->plan->root;
        if (root && root->filter_len > 0 && !weaken("seccomp")) {
                struct sock_fprog prog = {.len = (unsigned short)root->filter_len,
                                          .filter = (struct sock_filter *)root->filter};
                if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) {
                        reins_error_errno(&err, errno, "installing config.json's seccomp profile");
                        exec_child_fail(channel, &err, 125);
                }
        }
        environ = c->env;
        execvp(c->process->args[0], c->process->args);
        int saved = errno;
        reins_error_errno(&err, saved, "cannot run '%s'", c->process->args[0]);
        exec_child_fail(channel, &err, saved == ENOENT ? 127 : 126);
}

static int exec_connect_control(const char *root, const char *id, struct reins_error *err)
{
        cleanup_free char *dir = oci_state_dir(root, id);
        cleanup_fd int dirfd =
            dir ? open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -ENOMEM;
        if (dirfd < 0)
                return reins_error_errno(err, dirfd == -ENOMEM ? ENOMEM : errno, "container %s",
                                         id);
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/control", dirfd);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
                int r = reins_error_errno(err, errno, "container %s: its supervisor", id);
                if (fd >= 0)
                        close(fd);
                return r;
        }
        struct timeval timeout = {.tv_sec = 30};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        return fd;
}

static int exec_console(const char *socket_path, int *sock, struct reins_error *err)
{
        if (!socket_path)
                return reins_error_set(err, EINVAL, "exec --tty needs --console-socket");
        *sock = oci_console_connect(socket_path, err);
        return *sock < 0 ? *sock : 0;
}

/* Everything the process needs, built like the container's own. */
struct exec_build {
        struct oci_spec *bundle, *process;
        struct reins_policy *policy;
        struct reins_plan *plan;
        struct seccomp_program seccomp;
        struct plan_root ids;
        struct reins_strv allow_net;
};

static void exec_build_free(struct exec_build *b)
{
        seccomp_program_free(&b->seccomp);
        plan_free(b->plan);
        policy_free(b->policy);
        oci_spec_free(b->process);
        oci_spec_free(b->bundle);
        strv_free(&b->allow_net);
}

static int exec_build(const struct oci_exec_options *o, const struct oci_state *st,
                      struct exec_build *b, struct reins_error *err)
{
        int r;
        if ((r = oci_spec_load(st->bundle, &b->bundle, err)) < 0 ||
            (r = exec_load_process(o, b->bundle, &b->process, err)) < 0)
                return r;
        if (b->process->terminal && !o->console_socket)
                return reins_error_set(err, EINVAL, "process.terminal needs --console-socket");
        const char *policy = st->policy ? st->policy : o->policy;
        if ((r = policy_load(policy, &b->policy, err)) < 0 ||
            (r = policy_check_supported(b->policy, err)) < 0)
                return r;
        const char *allow_net =
            json_string_value(json_object_get(b->bundle->annotations, "org.reins.allow-net"));
        cleanup_free char *copy = allow_net ? strdup(allow_net) : NULL;
        char *save = NULL;
        for (char *item = copy ? strtok_r(copy, ", ", &save) : NULL; item;
             item = strtok_r(NULL, ", ", &save))
                if (strv_push(&b->allow_net, item) < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
        static char *no_environ[] = {NULL};
        struct plan_options options = {
            .root = &b->bundle->root,
            .host_environ = no_environ,
            .home = getenv("HOME"),
            .verbosity = -1,
            .allow_net = b->allow_net,
        };
        if ((r = plan_build(b->policy, &options, &b->plan, err)) < 0 ||
            (r = plan_env_add_caller(b->plan, b->process->env, b->process->env_count, err)) < 0 ||
            (r = seccomp_program_build(&b->plan->syscall_allow, &b->plan->syscall_deny, false,
                                       &b->seccomp, err)) < 0)
                return r;
        /* the process's own user and rlimits; the container's maps */
        b->ids = b->process->root;
        return 0;
}

int oci_exec(const struct oci_exec_options *o, int *status, struct reins_error *err)
{
        *status = 0;
        struct oci_state st;
        int r = oci_state_read(o->root, o->id, &st, err);
        if (r < 0)
                return r;
        struct exec_build b = {0};
        cleanup_fd int supervisor = -1, init = -1, control = -1;
        int channel[2] = {-1, -1}, console = -1;
        if (strcmp(st.status, "running") != 0) {
                r = reins_error_set(err, EINVAL, "container %s is %s: exec needs a running one",
                                    o->id, st.status);
                goto out;
        }
        if ((supervisor = oci_state_pidfd(&st)) < 0 ||
            (init = (int)syscall(SYS_pidfd_open, st.init_pid, 0)) < 0) {
                r = reins_error_set(err, ESRCH, "container %s is not running", o->id);
                goto out;
        }
        /* the init pid is the supervisor's child, or it was reused */
        char stat_path[64], stat_text[512];
        snprintf(stat_path, sizeof(stat_path), "/proc/%d/stat", (int)st.init_pid);
        FILE *f = fopen(stat_path, "re");
        char *close_paren = NULL;
        if (f && fgets(stat_text, sizeof(stat_text), f))
                close_paren = strrchr(stat_text, ')');
        if (f)
                fclose(f);
        int ppid = 0;
        if (!close_paren || sscanf(close_paren + 2, "%*c %d", &ppid) != 1 || ppid != st.pid) {
                r = reins_error_set(err, ESRCH, "container %s: its pid 1 is gone", o->id);
                goto out;
        }
        if ((r = exec_build(o, &st, &b, err)) < 0)
                goto out;
        if ((control = exec_connect_control(o->root, o->id, err)) < 0) {
                r = control;
                goto out;
        }
        if (b.process->terminal && (r = exec_console(o->console_socket, &console, err)) < 0)
                goto out;
        if (pipe2(channel, O_CLOEXEC) < 0) {
                r = reins_error_errno(err, errno, "pipe");
                goto out;
        }
        /* B comes back to us when A exits: we reap it on failure, and wait
         * for it without --detach */
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        struct exec_child child = {
            .plan = b.plan,
            .seccomp = &b.seccomp,
            .process = b.process,
            .ids = &b.ids,
            .env = b.plan->env.items,
            .control = control,
            .channel = channel[1],
            .console = console,
            .landlock_abi = landlock_abi_version(),
        };
        fflush(NULL);
        pid_t a = fork();
        if (a < 0) {
                r = reins_error_errno(err, errno, "fork");
                goto out;
        }
        if (a == 0) {
                struct reins_error child_err = {0};
                bool joined = false;
                close(channel[0]);
                if (exec_join_cgroups(st.init_pid, &child_err, &joined) < 0)
                        exec_child_fail(channel[1], &child_err, 125);
                child.rlimit_fallback = !joined;
                if (setns(init, EXEC_NAMESPACES) < 0) {
                        reins_error_errno(&child_err, errno, "joining the container's namespaces");
                        exec_child_fail(channel[1], &child_err, 125);
                }
                pid_t pid = fork();
                if (pid == 0)
                        exec_child(&child);
                if (pid < 0) {
                        reins_error_errno(&child_err, errno, "fork");
                        exec_child_fail(channel[1], &child_err, 125);
                }
                dprintf(channel[1], "pid %d\n", (int)pid);
                _exit(0);
        }
        close(channel[1]);
        channel[1] = -1;
        if (console >= 0) {
                close(console);
                console = -1;
        }
        close(control);
        control = -1;
        int a_status = 0;
        while (waitpid(a, &a_status, 0) < 0 && errno == EINTR)
                ;
        char report[REINS_ERROR_MAX + 32];
        size_t used = 0;
        for (;;) {
                ssize_t n = read(channel[0], report + used, sizeof(report) - 1 - used);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0 || (used += (size_t)n) == sizeof(report) - 1)
                        break;
        }
        report[used] = '\0';
        int pid = 0;
        char *newline = strchr(report, '\n');
        if (sscanf(report, "pid %d", &pid) != 1 || pid <= 0) {
                r = reins_error_set(err, EIO, "%s",
                                    strncmp(report, "error: ", 7) == 0 ? report + 7
                                                                       : "exec: the process "
                                                                         "did not start");
                goto out;
        }
        if (newline && strncmp(newline + 1, "error: ", 7) == 0) {
                waitpid(pid, NULL, 0);
                r = reins_error_set(err, EIO, "%s", newline + 8);
                goto out;
        }
        if (o->pid_file && (r = oci_write_pid_file(o->pid_file, pid, err)) < 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                goto out;
        }
        if (!o->detach) {
                int s = 0;
                while (waitpid(pid, &s, 0) < 0 && errno == EINTR)
                        ;
                *status = WIFEXITED(s) ? WEXITSTATUS(s) : 128 + WTERMSIG(s);
        }
        r = 0;
out:
        if (channel[0] >= 0)
                close(channel[0]);
        if (channel[1] >= 0)
                close(channel[1]);
        if (console >= 0)
                close(console);
        exec_build_free(&b);
        oci_state_clear(&st);
        return r;
}

/* The OCI operations (container.h): the supervisor's side (create, and
 * its control socket) and the short-lived commands that talk to it. */
#include "oci/container.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/nsfs.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oci/hooks.h"
#include "oci/spec.h"
#include "oci/state.h"
#include "sandbox/child.h"
#include "sandbox/pty.h"
#include "session/session.h"
#include "sandbox/cgroup.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/notice.h"
#include "util/path.h"
#include "util/text_escape.h"
#include "util/weaken.h"

#define OCI_CONTROL_NAME       "control"
#define OCI_CONTROL_TIMEOUT_MS 30000

/* ---- the control socket ---------------------------------------------------
 * A unix socket in the container's 0700 directory. Its path goes through
 * /proc/self/fd/N of the directory: sun_path holds 108 bytes, an engine's
 * state root and a 64-hex id do not fit. */

static int oci_control_address(const char *root, const char *id, int *dirfd,
                               struct sockaddr_un *addr, struct reins_error *err)
{
        cleanup_free char *dir = oci_state_dir(root, id);
        if (!dir)
                return reins_error_set(err, ENOMEM, "out of memory");
        *dirfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (*dirfd < 0)
                return reins_error_errno(err, errno, "container %s", id);
        memset(addr, 0, sizeof(*addr));
        addr->sun_family = AF_UNIX;
        snprintf(addr->sun_path, sizeof(addr->sun_path), "/proc/self/fd/%d/%s", *dirfd,
                 OCI_CONTROL_NAME);
        return 0;
}

static int oci_control_listen(const char *root, const char *id, struct reins_error *err)
{
        struct sockaddr_un addr;
        cleanup_fd int dirfd = -1;
        int r = oci_control_address(root, id, &dirfd, &addr, err);
        if (r < 0)
                return r;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return reins_error_errno(err, errno, "socket");
        unlinkat(dirfd, OCI_CONTROL_NAME, 0);
        if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 16) < 0) {
                r = reins_error_errno(err, errno, "the control socket of container %s", id);
                close(fd);
                return r;
        }
        return fd;
}

/* One request, one answer: "ok" or "error: TEXT". */
static int oci_control_call(const char *root, const char *id, const char *request,
                            struct reins_error *err)
{
        struct sockaddr_un addr;
        cleanup_fd int dirfd = -1;
        int r = oci_control_address(root, id, &dirfd, &addr, err);
        if (r < 0)
                return r;
        cleanup_fd int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return reins_error_errno(err, errno, "socket");
        struct timeval timeout = {.tv_sec = OCI_CONTROL_TIMEOUT_MS / 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
                return reins_error_errno(err, errno, "container %s: its supervisor", id);
        size_t len = strlen(request);
        if (write(fd, request, len) != (ssize_t)len)
                return reins_error_errno(err, errno, "container %s: its supervisor", id);
        shutdown(fd, SHUT_WR);
        char answer[512];
        size_t used = 0;
        for (;;) {
                ssize_t n = read(fd, answer + used, sizeof(answer) - 1 - used);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return reins_error_errno(err, errno, "container %s: no answer", id);
                if (n == 0 || (used += (size_t)n) == sizeof(answer) - 1)
                        break;
        }
        answer[used] = '\0';
        if (strcmp(answer, "ok") == 0)
                return 0;
        if (strncmp(answer, "error: ", 7) == 0)
                return reins_error_set(err, EINVAL, "%s", answer + 7);
        return reins_error_set(err, EPROTO, "container %s: its supervisor gave no answer", id);
}

/* ---- the supervisor --------------------------------------------------------- */

struct oci_supervisor {
        const struct oci_create_options *options;
        struct oci_spec *spec;
        struct session *session;
        struct oci_state state;
        int ready_fd; /* to `create`: "ok" or the error; -1 once said */
        int listen_fd;
        /* `start`'s connection, answered once the command has run its
         * execve (the session's on_running), not when it is merely
         * released: a signal sent right after `start` returns (as engines
         * and runtime-tools do) then reaches the command, never the reins
         * code that still prepares its execve. -1: none waits. */
        int start_fd;
};

static struct oci_supervisor *oci_current; /* for the notice writer */

static void oci_write_state(struct oci_supervisor *sv, const char *status)
{
        snprintf(sv->state.status, sizeof(sv->state.status), "%s", status);
        struct reins_error err = {0};
        if (oci_state_write(sv->options->root, &sv->state, &err) < 0)
                notice("%s", err.message);
}

static void oci_say_ready(struct oci_supervisor *sv, const char *error)
{
        if (sv->ready_fd < 0)
                return;
        char line[REINS_ERROR_MAX + 8];
        int n = snprintf(line, sizeof(line), "%s", error ? error : "ok");
        if (n > 0 && write(sv->ready_fd, line, (size_t)n) < 0) {
                /* create is gone: nothing to tell */
        }
        close(sv->ready_fd);
        sv->ready_fd = -1;
}

/* hooks.KIND with the state on stdin; 0 when there are none */
static int oci_run_hooks(struct oci_supervisor *sv, const char *kind, struct reins_error *err)
{
        if (!sv->spec->hooks)
                return 0;
        json_t *state = oci_state_json(&sv->state);
        int r = state ? oci_hooks_run(sv->spec->hooks, kind, state, err)
                      : reins_error_set(err, ENOMEM, "out of memory");
        json_decref(state);
        return r;
}

/* Engines take a pod's namespaces from the pid file's process (containerd
 * gives a pod's other containers /proc/PID/ns/ipc and uts of its sandbox
 * container): this supervisor enters the sandbox's own ipc and uts
 * namespaces, so those paths name the container's, never the host's. Root
 * only (setns needs CAP_SYS_ADMIN in its own namespace too); a failure is
 * said in the log. */
static void oci_enter_container_namespaces(const struct plan_root *root, pid_t sandbox)
{
        static const struct {
                const char *name;
                int type;
        } kinds[] = {{"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS}};
        if (geteuid() != 0 || sandbox <= 0)
                return;
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
                if ((i == 0 && root->join_ipc) || (i == 1 && root->join_uts))
                        continue; /* this supervisor is in it already */
                char path[64];
                snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)sandbox, kinds[i].name);
                cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || setns(fd, kinds[i].type) < 0)
                        notice("the container's %s namespace: %s (a pod's other containers "
                               "cannot join it through the pid file's process)",
                               kinds[i].name, strerror(errno));
        }
}

static void oci_on_ready(void *ctx)
{
        struct oci_supervisor *sv = ctx;
        struct session_status status;
        session_status(sv->session, &status);
        sv->state.init_pid = status.sandbox_pid;
        oci_enter_container_namespaces(&sv->spec->root, status.sandbox_pid);
        oci_write_state(sv, "created");
        /* the sandbox sent the console already: our copy of the socket goes */
        if (sv->spec->root.console && sv->spec->root.console_socket >= 0) {
                close(sv->spec->root.console_socket);
                sv->spec->root.console_socket = -1;
        }
        /* the sandbox is built, its command parked: createRuntime and
         * prestart hooks now, and a failing one fails create */
        struct reins_error err = {0};
        if (oci_run_hooks(sv, "createRuntime", &err) < 0 ||
            oci_run_hooks(sv, "prestart", &err) < 0) {
                oci_say_ready(sv, err.message);
                session_retire(sv->session);
                return;
        }
        oci_say_ready(sv, NULL);
}

/* The supervisor's own lines (notices, late errors) go to --log: its
 * stderr is the container's. */
static void oci_notice_writer(const char *text, unsigned escape_flags)
{
        if (!oci_current || !oci_current->options->log_path)
                return;
        char line[2048];
        text_escape(line, sizeof(line), text, strlen(text), escape_flags);
        int fd = open(oci_current->options->log_path,
                      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return;
        json_t *doc = json_pack("{s:s, s:s}", "level", "warning", "msg", line);
        cleanup_free char *out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        if (out && dprintf(fd, "%s\n", out) < 0) {
                /* the log is best effort */
        }
        close(fd);
}

static void oci_control_answer(int fd, int r, const struct reins_error *err)
{
        char line[REINS_ERROR_MAX + 16];
        int n = r == 0 ? snprintf(line, sizeof(line), "ok")
                       : snprintf(line, sizeof(line), "error: %s", err->message);
        if (n > 0 && write(fd, line, (size_t)n) < 0) {
                /* the caller went away */
        }
}

static void oci_start_answer(struct oci_supervisor *sv)
{
        if (sv->start_fd < 0)
                return;
        oci_control_answer(sv->start_fd, 0, NULL);
        close(sv->start_fd);
        sv->start_fd = -1;
}

/* A container's ipc or uts namespace joined by path (a pod's): this
 * supervisor enters it before the sandbox is cloned, which then inherits
 * it. setns checks the type. Never the host's own (this process's, or
 * init's): the container would share the host's System V IPC, or set the
 * host's name. */
static int oci_join_namespace(const char *path, int type, const char *name, struct reins_error *err)
{
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return reins_error_errno(err, errno, "config.json: linux.namespaces %s path %s",
                                         name, path);
        struct stat target, host;
        char own[64];
        for (int i = 0; i < 2; i++) {
                snprintf(own, sizeof(own), "/proc/%s/ns/%s", i == 0 ? "self" : "1", name);
                if (fstat(fd, &target) == 0 && stat(own, &host) == 0 &&
                    target.st_ino == host.st_ino && target.st_dev == host.st_dev)
                        return reins_error_set(err, EPERM,
                                               "config.json: linux.namespaces %s path %s is the "
                                               "host's own %s namespace: refused (a container of "
                                               "reins never shares the host's)",
                                               name, path, name);
        }
        if (setns(fd, type) < 0)
                return reins_error_errno(err, errno,
                                         "config.json: linux.namespaces %s path %s: cannot join "
                                         "it (not a%s %s namespace, or not this caller's)",
                                         name, path, name[0] == 'i' ? "n" : "", name);
        return 0;
}

/* /dev/mqueue of a joined ipc namespace, made here: the sandbox's own user
 * namespace does not own that ipc namespace, so it could not mount it. */
static int oci_premade_mqueue(struct plan_root *root, struct reins_error *err)
{
        cleanup_fd int fs = fsopen("mqueue", FSOPEN_CLOEXEC);
        if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "source", root->mqueue_source, 0) < 0 ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return reins_error_errno(err, errno, "/dev/mqueue of the joined ipc namespace %s",
                                         root->join_ipc);
        int mnt =
            fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (mnt < 0)
                return reins_error_errno(err, errno, "/dev/mqueue of the joined ipc namespace %s",
                                         root->join_ipc);
        root->mqueue_fd = mnt;
        root->mqueue_premade = true;
        return 0;
}

/* config.json's hostname in a joined uts namespace is set from here, as
 * runc sets it. */
static int oci_join_namespaces(struct plan_root *root, struct reins_error *err)
{
        int r = 0;
        if (root->join_ipc &&
            (r = oci_join_namespace(root->join_ipc, CLONE_NEWIPC, "ipc", err)) == 0 &&
            root->mqueue_source)
                r = oci_premade_mqueue(root, err);
        if (r == 0 && root->join_uts)
                r = oci_join_namespace(root->join_uts, CLONE_NEWUTS, "uts", err);
        if (r == 0 && root->join_uts && root->hostname &&
            sethostname(root->hostname, strlen(root->hostname)) < 0)
                r = reins_error_errno(err, errno,
                                      "config.json: hostname in the joined uts namespace %s",
                                      root->join_uts);
        return r;
}

/* process.capabilities that reins does not grant: named in the log. */
static void oci_notice_withheld_caps(uint64_t withheld)
{
        if (!withheld)
                return;
        char names[1024] = "";
        size_t used = 0;
        for (cap_value_t cap = 0; cap < 64 && used < sizeof(names) - 40; cap++) {
                if (!((withheld >> cap) & 1))
                        continue;
                char *name = cap_to_name(cap);
                used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
                                         used ? " " : "", name ? name : "?");
                cap_free(name);
        }
        notice("config.json: process.capabilities %s withheld: reins grants a container only "
               "capabilities that act inside its own namespaces",
               names);
}

/* A network namespace path config.json names is not joined, but it must
 * be one: a wrong path is the engine's error, told as runc tells it. */
static int oci_check_netns(const char *path, struct reins_error *err)
{
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return reins_error_errno(err, errno,
                                         "config.json: linux.namespaces network path %s", path);
        int type = ioctl(fd, NS_GET_NSTYPE);
        if (type != CLONE_NEWNET)
                return reins_error_set(err, EINVAL,
                                       "config.json: linux.namespaces network path %s: not a "
                                       "network namespace",
                                       path);
        return 0;
}

static void oci_on_running(void *ctx)
{
        oci_start_answer(ctx);
}

static void oci_control_handle(void *ctx, int listen_fd, uint32_t events)
{
        (void)events;
        struct oci_supervisor *sv = ctx;
        cleanup_fd int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
                return;
        /* the directory is 0700 already; the peer check is the second lock */
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
            (cred.uid != geteuid() && cred.uid != 0))
                return;
        struct timeval timeout = {.tv_sec = 1};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
        char request[32];
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = request, .iov_len = sizeof(request) - 1};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
        int passed = -1;
        struct cmsghdr *cmsg = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
        if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS &&
            cmsg->cmsg_len == CMSG_LEN(sizeof(int)))
                memcpy(&passed, CMSG_DATA(cmsg), sizeof(int));
        if (n <= 0) {
                if (passed >= 0)
                        close(passed);
                return;
        }
        request[n] = '\0';
        struct reins_error err = {0};
        int r;
        if (strcmp(request, "exec-listener") == 0 && passed >= 0) {
                /* a process of `reins oci exec` joined the sandbox: its
                 * execs are answered and recorded here, as the command's */
                r = session_watch_listener(sv->session, passed);
                if (r < 0) {
                        close(passed);
                        reins_error_errno(&err, -r, "exec: the container does not run");
                }
                passed = -1;
        } else if (passed >= 0) {
                close(passed);
                r = reins_error_set(&err, EINVAL, "unexpected descriptor");
        } else if (strcmp(request, "start") == 0) {
                r = session_run_command(sv->session, sv->spec->args, sv->spec->env,
                                        sv->spec->env_count, NULL, NULL, &err);
                if (r == 0) {
                        sv->start_fd = fd; /* answered by oci_on_running */
                        fd = -1;
                        struct session_status status;
                        session_status(sv->session, &status);
                        sv->state.init_pid = status.pid;
                        oci_write_state(sv, "running");
                        struct reins_error hook_err = {0};
                        if (oci_run_hooks(sv, "poststart", &hook_err) < 0)
                                notice("%s", hook_err.message);
                        return;
                }
        } else if (strcmp(request, "pause") == 0 || strcmp(request, "resume") == 0) {
                bool pause = request[0] == 'p';
                r = pause ? session_freeze(sv->session, "reins oci pause")
                          : session_thaw(sv->session, "reins oci resume");
                if (r < 0)
                        reins_error_errno(&err, -r,
                                          "%s: the container has no freezer cgroup (the policy's "
                                          "risk engine is off, or cgroups are not delegated)",
                                          request);
                else
                        oci_write_state(sv, pause ? "paused" : "running");
        } else {
                r = reins_error_set(&err, EINVAL, "unknown request");
        }
        oci_control_answer(fd, r, &err);
}

/* --console-socket: a pty whose master goes to the engine (SCM_RIGHTS, as
 * runc sends it) and whose slave becomes the container's stdio. */
int oci_console_connect(const char *socket_path, struct reins_error *err)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        if (strlen(socket_path) >= sizeof(addr.sun_path))
                return reins_error_set(err, ENAMETOOLONG, "--console-socket %s: too long",
                                       socket_path);
        snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", socket_path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
                int r = reins_error_errno(err, errno, "--console-socket %s", socket_path);
                if (fd >= 0)
                        close(fd);
                return r;
        }
        return fd;
}

int oci_console_send(const char *socket_path, int master, struct reins_error *err)
{
        int fd = oci_console_connect(socket_path, err);
        if (fd < 0)
                return fd;
        int r = pty_console_send(fd, master, err);
        close(fd);
        return r;
}

static int oci_split_list(const char *text, struct reins_strv *out)
{
        cleanup_free char *copy = strdup(text);
        if (!copy)
                return -ENOMEM;
        char *save = NULL;
        for (char *item = strtok_r(copy, ", ", &save); item; item = strtok_r(NULL, ", ", &save))
                if (strv_push(out, item) < 0)
                        return -ENOMEM;
        return 0;
}

static const char *oci_annotation(const struct oci_spec *spec, const char *key)
{
        return json_string_value(json_object_get(spec->annotations, key));
}

/* Runs in the forked supervisor; returns its exit status (the container's). */
static int oci_supervise(struct oci_supervisor *sv, struct reins_error *err)
{
        const struct oci_create_options *o = sv->options;
        struct oci_spec *spec = sv->spec;
        /* a session of its own: the engine's terminal and process group are
         * not the container's to signal */
        setsid();
        oci_current = sv;
        notice_set_writer(oci_notice_writer);
        int r;
        /* the console is made inside the sandbox (its own devpts); the
         * socket is connected here, on the host */
        spec->root.console = spec->terminal;
        spec->root.console_socket = -1;
        if (spec->terminal &&
            (spec->root.console_socket = oci_console_connect(o->console_socket, err)) < 0)
                return SESSION_EXIT_FAILED;
        /* with a console, create's stdio is not the container's: the engine
         * (the containerd shim) reads it to its end once create exits, so
         * the supervisor must not keep it open */
        if (spec->terminal) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                for (int fd = 0; null >= 0 && fd < 3; fd++)
                        dup2(null, fd);
                if (null > 2)
                        close(null);
        }
        struct session_config config = {0};
        const char *policy = oci_annotation(spec, "org.reins.policy");
        config.policy = policy ? policy : o->policy;
        sv->state.policy = (char *)config.policy; /* borrowed: never cleared */
        static char *no_environ[] = {NULL};
        config.plan.host_environ = no_environ;
        config.plan.home = getenv("HOME");
        config.plan.root = &spec->root;
        config.plan.verbosity = -1;
        config.quiet = true;
        config.pool_member = true;
        config.container = o->id;
        config.on_ready = oci_on_ready;
        config.on_ready_ctx = sv;
        config.on_running = oci_on_running;
        const char *allow_net = oci_annotation(spec, "org.reins.allow-net");
        if (allow_net && oci_split_list(allow_net, &config.plan.allow_net) < 0)
                return reins_error_set(err, ENOMEM, "out of memory"), SESSION_EXIT_FAILED;
        if ((r = session_new(&config, &sv->session, err)) < 0)
                return SESSION_EXIT_FAILED;
        if ((spec->net_path && (r = oci_check_netns(spec->net_path, err)) < 0) ||
            (r = oci_join_namespaces(&spec->root, err)) < 0)
                return SESSION_EXIT_FAILED;
        oci_notice_withheld_caps(spec->caps_withheld);
        if (spec->net_path)
                notice("config.json: network namespace %s not joined: the container has a "
                       "network namespace of its own, reached only as the policy's network.mode "
                       "allows (none, or reins' proxy)",
                       spec->net_path);
        snprintf(sv->state.session, sizeof(sv->state.session), "%s", session_id(sv->session));
        sv->listen_fd = oci_control_listen(o->root, o->id, err);
        if (sv->listen_fd < 0 ||
            session_add_source(sv->session, sv->listen_fd, oci_control_handle, sv) < 0 ||
            session_start(sv->session, err) < 0)
                return SESSION_EXIT_FAILED;
        /* a weakened build without seccomp has no listener to wait for */
        if (weaken("seccomp"))
                oci_on_ready(sv);
        struct supervise_outcome outcome;
        int status = session_wait(sv->session, &outcome);
        oci_start_answer(sv); /* it ran (and ended) before it was listed */
        if (sv->ready_fd >= 0)
                reins_error_set(err, EIO, "%s",
                                outcome.message[0] ? outcome.message
                                                   : "the container ended before it was created");
        sv->state.exit_status = status;
        oci_write_state(sv, "stopped");
        strv_free(&config.plan.allow_net);
        return status;
}

int oci_write_pid_file(const char *path, pid_t pid, struct reins_error *err)
{
        char tmp[4096], text[32];
        snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
        int len = snprintf(text, sizeof(text), "%d", (int)pid);
        cleanup_fd int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd < 0)
                return reins_error_errno(err, errno, "--pid-file %s", path);
        if (write(fd, text, (size_t)len) != len || rename(tmp, path) < 0) {
                int r = reins_error_errno(err, errno, "--pid-file %s", path);
                unlink(tmp);
                return r;
        }
        return 0;
}

static int oci_check_annotations(const struct oci_spec *spec, struct reins_error *err)
{
        if (oci_annotation(spec, "org.reins.approvals"))
                return reins_error_set(err, EINVAL,
                                       "annotation org.reins.approvals: not supported by reins oci "
                                       "yet (approvals are the policy's: choose one with "
                                       "org.reins.policy)");
        return spec->hooks ? oci_hooks_check(spec->hooks, err) : 0;
}

int oci_create(const struct oci_create_options *o, struct reins_error *err)
{
        int r = oci_state_check_id(o->id, err);
        if (r < 0)
                return r;
        struct oci_spec *spec = NULL;
        if ((r = oci_spec_load(o->bundle, &spec, err)) < 0)
                return r;
        if ((r = oci_check_annotations(spec, err)) < 0 ||
            (spec->terminal && !o->console_socket &&
             (r = reins_error_set(err, EINVAL,
                                  "config.json: process.terminal needs --console-socket")) < 0) ||
            (r = oci_state_create_dir(o->root, o->id, err)) < 0) {
                oci_spec_free(spec);
                return r;
        }
        struct oci_supervisor sv = {.options = o, .spec = spec, .listen_fd = -1, .start_fd = -1};
        snprintf(sv.state.id, sizeof(sv.state.id), "%s", o->id);
        sv.state.bundle = spec->bundle;
        sv.state.annotations = spec->annotations;
        sv.state.exit_status = -1;
        int ready[2];
        if (pipe2(ready, O_CLOEXEC) < 0) {
                r = reins_error_errno(err, errno, "pipe");
                goto fail;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
                r = reins_error_errno(err, errno, "fork");
                close(ready[0]);
                close(ready[1]);
                goto fail;
        }
        if (pid == 0) {
                close(ready[0]);
                sv.ready_fd = ready[1];
                sv.state.pid = getpid();
                sv.state.start_time = oci_state_start_time(sv.state.pid);
                struct reins_error child_err = {0};
                int status = oci_supervise(&sv, &child_err);
                if (sv.ready_fd >= 0)
                        oci_say_ready(&sv, child_err.message[0] ? child_err.message
                                                                : "the supervisor failed");
                session_free(sv.session);
                oci_spec_free(spec);
                exit(status);
        }
        close(ready[1]);
        char answer[REINS_ERROR_MAX + 8];
        size_t used = 0;
        for (;;) {
                ssize_t n = read(ready[0], answer + used, sizeof(answer) - 1 - used);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0 || (used += (size_t)n) == sizeof(answer) - 1)
                        break;
        }
        close(ready[0]);
        answer[used] = '\0';
        if (strcmp(answer, "ok") != 0) {
                r = reins_error_set(err, EIO, "%s",
                                    answer[0] ? answer
                                              : "the supervisor ended before it was ready");
                waitpid(pid, NULL, 0);
                goto fail;
        }
        if (o->pid_file && (r = oci_write_pid_file(o->pid_file, pid, err)) < 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                goto fail;
        }
        oci_spec_free(spec);
        return 0;
fail:
        oci_state_remove(o->root, o->id, NULL);
        oci_spec_free(spec);
        return r;
}

/* ---- the commands --------------------------------------------------------- */

int oci_start(const char *root, const char *id, struct reins_error *err)
{
        struct oci_state st;
        int r = oci_state_read(root, id, &st, err);
        if (r < 0)
                return r;
        bool created = strcmp(st.status, "created") == 0;
        char status[16];
        snprintf(status, sizeof(status), "%s", st.status);
        oci_state_clear(&st);
        if (!created)
                return reins_error_set(err, EINVAL, "container %s is %s: only a created one starts",
                                       id, status);
        return oci_control_call(root, id, "start", err);
}

int oci_state_get(const char *root, const char *id, json_t **out, struct reins_error *err)
{
        struct oci_state st;
        int r = oci_state_read(root, id, &st, err);
        if (r < 0)
                return r;
        *out = oci_state_json(&st);
        oci_state_clear(&st);
        return *out ? 0 : reins_error_set(err, ENOMEM, "out of memory");
}

static const struct {
        const char *name;
        int number;
} oci_signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"WINCH", SIGWINCH},
    {"ALRM", SIGALRM}, {"PIPE", SIGPIPE}, {"ABRT", SIGABRT}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU}, {"PWR", SIGPWR},   {"SYS", SIGSYS},   {"TRAP", SIGTRAP}, {"URG", SIGURG},
};

int oci_signal_parse(const char *text)
{
        if (text[0] >= '0' && text[0] <= '9') {
                char *end = NULL;
                long n = strtol(text, &end, 10);
                return *end == '\0' && n > 0 && n < NSIG ? (int)n : -EINVAL;
        }
        if (strncmp(text, "SIG", 3) == 0)
                text += 3;
        for (size_t i = 0; i < sizeof(oci_signals) / sizeof(oci_signals[0]); i++)
                if (strcmp(oci_signals[i].name, text) == 0)
                        return oci_signals[i].number;
        return -EINVAL;
}

static bool oci_signal_relayed(int sig)
{
        for (size_t i = 0; i < CHILD_RELAYED_SIGNALS; i++)
                if (child_relayed_signals[i] == sig)
                        return true;
        return false;
}

/* The command: pid 1's (reins' init's) first child, 0 when none. */
static pid_t oci_command_pid(pid_t init)
{
        char path[64], text[64];
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)init, (int)init);
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);
        if (n <= 0)
                return 0;
        text[n] = '\0';
        long pid = strtol(text, NULL, 10);
        return pid > 0 && pid <= INT_MAX ? (pid_t)pid : 0;
}

/* Does PID catch or ignore SIG (SigCgt, SigIgn of /proc/PID/status)? */
static bool oci_signal_handled(pid_t pid, int sig)
{
        char path[64], status[4096];
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, status, sizeof(status) - 1);
        if (n <= 0)
                return false;
        status[n] = '\0';
        unsigned long long mask = 0;
        static const char *const keys[] = {"\nSigIgn:", "\nSigCgt:"};
        for (size_t i = 0; i < 2; i++) {
                const char *line = strstr(status, keys[i]);
                if (line)
                        mask |= strtoull(line + strlen(keys[i]), NULL, 16);
        }
        return (mask >> (sig - 1)) & 1;
}

/* A command that has just started (`start` returns once its execve
 * succeeded) may not have installed its signal handlers yet: a signal
 * relayed in that instant (an engine's stop right after start,
 * runtime-tools' killsig) would take its default action instead of the
 * handler the command is about to set. So for the first OCI_KILL_YOUNG_MS
 * of a container's run, a signal waits up to OCI_KILL_GRACE_MS for the
 * command (reins' init relays to it) to catch or ignore it, then goes
 * anyway. */
#define OCI_KILL_YOUNG_MS 1000
#define OCI_KILL_GRACE_MS 500

static void oci_kill_wait_handler(const char *root, const struct oci_state *st, int sig)
{
        if (sig == SIGKILL || st->init_pid <= 0 || strcmp(st->status, "running") != 0)
                return;
        cleanup_free char *dir = oci_state_dir(root, st->id);
        cleanup_free char *path = dir ? path_join(dir, "state.json") : NULL;
        struct stat info;
        struct timespec now;
        if (!path || stat(path, &info) < 0 || clock_gettime(CLOCK_REALTIME, &now) < 0)
                return;
        long long age_ms = (now.tv_sec - info.st_mtim.tv_sec) * 1000LL +
                           (now.tv_nsec - info.st_mtim.tv_nsec) / 1000000;
        if (age_ms > OCI_KILL_YOUNG_MS)
                return;
        pid_t command = oci_command_pid(st->init_pid);
        for (int waited = 0;
             command > 0 && waited < OCI_KILL_GRACE_MS && !oci_signal_handled(command, sig);
             waited += 5)
                usleep(5000);
}

int oci_kill(const char *root, const char *id, int sig, bool all, struct reins_error *err)
{
        (void)all; /* the container is one process tree under one pid 1: the same */
        struct oci_state st;
        int r = oci_state_read(root, id, &st, err);
        if (r < 0)
                return r;
        bool stopped = strcmp(st.status, "stopped") == 0;
        int pidfd = stopped ? -ESRCH : oci_state_pidfd(&st);
        if (pidfd >= 0 && (sig == SIGKILL || oci_signal_relayed(sig)))
                oci_kill_wait_handler(root, &st, sig);
        oci_state_clear(&st);
        if (pidfd < 0)
                /* these words exactly: containerd takes them for "already
                 * ended" (runc's), and a CRI container whose kill fails
                 * otherwise never reaches EXITED */
                return reins_error_set(err, ESRCH, "%s: container not running", id);
        /* SIGKILL ends the supervisor, and its sandbox with it (pid 1 dies
         * with its parent, and the whole pid namespace with pid 1); the
         * others are relayed to the container by the supervisor */
        if (sig != SIGKILL && !oci_signal_relayed(sig)) {
                close(pidfd);
                return reins_error_set(err, EINVAL,
                                       "signal %d: reins oci relays HUP, INT, QUIT, TERM, USR1, "
                                       "USR2, WINCH, CONT, ALRM and KILL",
                                       sig);
        }
        r = (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
        int saved = errno;
        close(pidfd);
        if (r < 0)
                return reins_error_errno(err, saved, "container %s: signal %d", id, sig);
        return 0;
}

/* poststop hooks, read again from the bundle's config.json (the
 * supervisor is gone by now); a failure is only logged. */
static void oci_poststop(const struct oci_state *st)
{
        cleanup_free char *path = st->bundle ? path_join(st->bundle, "config.json") : NULL;
        struct stat info;
        if (!path || stat(path, &info) < 0 || info.st_size > OCI_SPEC_MAX_BYTES)
                return;
        json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
        json_t *hooks = json_object_get(doc, "hooks");
        struct reins_error err = {0};
        json_t *state = oci_state_json(st);
        if (hooks && state && oci_hooks_check(hooks, &err) == 0 &&
            oci_hooks_run(hooks, "poststop", state, &err) < 0)
                notice("%s", err.message);
        json_decref(state);
        json_decref(doc);
}

/* A killed supervisor (delete --force) removed none of its cgroups: those
 * of a container's own cgroupsPath are removed here, once the processes in
 * them are gone (reins' own reins-PID-N ones go with the next start's sweep,
 * cgroup.c). The path is read again from the bundle, as poststop's hooks. */
static void oci_remove_cgroups(const struct oci_state *st)
{
        cleanup_free char *path = st->bundle ? path_join(st->bundle, "config.json") : NULL;
        cleanup_free char *bytes = NULL;
        size_t len = 0;
        bool truncated = false;
        struct oci_spec *spec = NULL;
        struct reins_error err = {0};
        cleanup_fd int fd = path ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
        if (fd < 0 || fileio_read_fd(fd, OCI_SPEC_MAX_BYTES, &bytes, &len, &truncated) < 0 ||
            truncated || oci_spec_parse(bytes, len, st->bundle, false, &spec, &err) < 0)
                return;
        const char *cg = spec->root.cgroups_path;
        cleanup_closedir DIR *top = cg ? opendir("/sys/fs/cgroup") : NULL;
        struct dirent *e;
        while (top && (e = readdir(top)) != NULL) {
                char own[2048], dir[4096];
                if (e->d_name[0] == '.' || strcmp(e->d_name, "unified") == 0)
                        continue;
                if (cg[0] == '/')
                        snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s%s", e->d_name, cg);
                else if (cgroup_own_path(e->d_name, own, sizeof(own)) == 0)
                        snprintf(dir, sizeof(dir), "/sys/fs/cgroup/%s%s/%s", e->d_name,
                                 strcmp(own, "/") == 0 ? "" : own, cg);
                else
                        continue;
                /* the sandbox's processes die with its pid 1, a moment later */
                for (int tries = 0; rmdir(dir) < 0 && errno == EBUSY && tries < 100; tries++)
                        usleep(10000);
        }
        oci_spec_free(spec);
}

int oci_delete(const char *root, const char *id, bool force, struct reins_error *err)
{
        struct oci_state st;
        int r = oci_state_read(root, id, &st, err);
        if (r < 0)
                return r;
        bool stopped = strcmp(st.status, "stopped") == 0;
        bool created = strcmp(st.status, "created") == 0;
        int pidfd = stopped ? -ESRCH : oci_state_pidfd(&st);
        if (pidfd >= 0 && !force && !created) {
                close(pidfd);
                oci_state_clear(&st);
                return reins_error_set(
                    err, EBUSY, "container %s is running: stop it first, or delete --force", id);
        }
        if (pidfd >= 0) {
                struct pollfd p = {.fd = pidfd, .events = POLLIN};
                /* a created container's command never ran: SIGTERM ends it
                 * cleanly (the supervisor removes the trail of a session that
                 * recorded nothing); a running one is killed, as runc does */
                if (created && syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) == 0 &&
                    poll(&p, 1, 2000) == 1) {
                } else {
                        syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
                        poll(&p, 1, 5000);
                }
                close(pidfd);
        }
        r = oci_state_remove(root, id, err);
        if (r == 0) {
                snprintf(st.status, sizeof(st.status), "stopped");
                oci_remove_cgroups(&st);
                oci_poststop(&st);
        }
        oci_state_clear(&st);
        return r;
}

int oci_pause(const char *root, const char *id, bool pause, struct reins_error *err)
{
        struct oci_state st;
        int r = oci_state_read(root, id, &st, err);
        if (r < 0)
                return r;
        bool ok = strcmp(st.status, pause ? "running" : "paused") == 0;
        char status[16];
        snprintf(status, sizeof(status), "%s", st.status);
        oci_state_clear(&st);
        if (!ok)
                return reins_error_set(err, EINVAL, "container %s is %s: cannot %s it", id, status,
                                       pause ? "pause" : "resume");
        return oci_control_call(root, id, pause ? "pause" : "resume", err);
}

static unsigned long long oci_pidns_of(pid_t pid)
{
        char path[64];
        struct stat st;
        snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
        return stat(path, &st) == 0 ? (unsigned long long)st.st_ino : 0;
}

int oci_ps(const char *root, const char *id, json_t **out, struct reins_error *err)
{
        struct oci_state st;
        int r = oci_state_read(root, id, &st, err);
        if (r < 0)
                return r;
        bool stopped = strcmp(st.status, "stopped") == 0;
        pid_t init = st.init_pid;
        oci_state_clear(&st);
        json_t *pids = json_array();
        if (!pids)
                return reins_error_set(err, ENOMEM, "out of memory");
        unsigned long long ns = stopped || init <= 0 ? 0 : oci_pidns_of(init);
        DIR *proc = ns ? opendir("/proc") : NULL;
        struct dirent *entry;
        while (proc && (entry = readdir(proc))) {
                char *end = NULL;
                long pid = strtol(entry->d_name, &end, 10);
                if (*end != '\0' || pid <= 0 || pid == init)
                        continue;
                if (oci_pidns_of((pid_t)pid) == ns)
                        json_array_append_new(pids, json_integer(pid));
        }
        if (proc)
                closedir(proc);
        *out = pids;
        return 0;
}

json_t *oci_features(void)
{
        return json_pack(
            "{s:s, s:s, s:[], s:[sssssssss], s:{s:[sssssss], s:[], s:{s:b, s:b, s:b, s:b}, "
            "s:{s:b, s:[sssssss], s:[sssssss], s:[s]}, s:{s:b}, s:{s:b}}, s:{s:s, s:s, s:s}}",
            "ociVersionMin", "1.0.0", "ociVersionMax", "1.0.2", "hooks", "mountOptions", "bind",
            "rbind", "ro", "rw", "nosuid", "nodev", "noexec", "size", "mode", "linux", "namespaces",
            "cgroup", "ipc", "mount", "network", "pid", "user", "uts", "capabilities", "cgroup",
            "v1", 1, "v2", 1, "systemd", 0, "systemdUser", 0, "seccomp", "enabled", 1, "actions",
            "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRAP", "operators", "SCMP_CMP_EQ",
            "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
            "SCMP_CMP_NE", "archs", "SCMP_ARCH_X86_64", "apparmor", "enabled", 0, "selinux",
            "enabled", 0, "annotations", "org.reins.policy",
            "a preset's name or a policy file on the host", "org.reins.allow-net",
            "HOST[:PORT],... allowed through reins' egress proxy",
            "org.opencontainers.runtime-spec.features", "reins oci");
}

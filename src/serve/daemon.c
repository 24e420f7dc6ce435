/* reins serve's lifecycle (serve/serve.h): state directories, the daemon's
 * trail, the listening socket, the HTTP threads, then one loop on a
 * signalfd that reaps the sessions it forked and ends on SIGTERM/SIGINT. */
#include "serve/serve.h"

#include <errno.h>
#include <netdb.h>
#include <sodium.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/dirs.h"
#include "audit/runtime.h"
#include "serve/events_bus.h"
#include "serve/daemon_key.h"
#include "serve/forward.h"
#include "serve/notify.h"
#include "serve/pool.h"
#include "serve/trail_summary.h"
#include "serve/record.h"
#include "serve/serve_internal.h"
#include "util/array.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/path.h"

#define SERVE_SOCKET_NAME "serve.sock"
#define SERVE_SYSTEM_DIR  "/run/reins" /* a root daemon's socket, by default */
/* Connections not yet accepted: a burst of starts or subscribers (the load
 * bench opens hundreds at once) must wait, not be refused (a non-blocking
 * connect to a full unix socket's queue fails with EAGAIN). The kernel caps
 * it at net.core.somaxconn. */
#define SERVE_BACKLOG 1024

int serve_children_add(struct serve *serve, pid_t pid, unsigned long long start_ticks,
                       const char *session)
{
        /* the caller holds children_lock */
        if (array_reserve(serve->children, serve->child_capacity, serve->child_count + 1, 64) < 0)
                return -ENOMEM;
        struct serve_child *c = &serve->children[serve->child_count++];
        c->pid = pid;
        c->start_ticks = start_ticks;
        snprintf(c->session, sizeof(c->session), "%s", session);
        return 0;
}

/* A forked session ended: its exit status goes into its record (the
 * session's own trail has the full story). */
static void serve_child_ended(struct serve *serve, pid_t pid, int status)
{
        char session[25] = "";
        for (size_t i = 0; i < serve->child_count; i++)
                if (serve->children[i].pid == pid) {
                        memcpy(session, serve->children[i].session, sizeof(session));
                        serve->children[i] = serve->children[--serve->child_count];
                        break;
                }
        if (!session[0])
                return;
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        json_auto_t *record = serve_record_read(serve->sessions_dir, session);
        struct reins_error ignored = {0};
        if (record && json_object_set_new(record, "exit_status", json_integer(code)) == 0)
                serve_record_write(serve->sessions_dir, session, record, &ignored);
}

void serve_children_reap(struct serve *serve)
{
        int status;
        pthread_mutex_lock(&serve->children_lock);
        /* by pid, not waitpid(-1): the daemon's other children (the
         * notification hooks, serve/notify_deliver.c) are waited for by
         * the threads that started them */
        for (size_t i = 0; i < serve->child_count;) {
                pid_t pid = serve->children[i].pid;
                if (waitpid(pid, &status, WNOHANG) == pid)
                        serve_child_ended(serve, pid, status); /* moves the last into i */
                else
                        i++;
        }
        pthread_mutex_unlock(&serve->children_lock);
}

void serve_children_reap_one(struct serve *serve, pid_t pid)
{
        int status;
        pthread_mutex_lock(&serve->children_lock);
        if (waitpid(pid, &status, WNOHANG) == pid)
                serve_child_ended(serve, pid, status);
        pthread_mutex_unlock(&serve->children_lock);
}

/* A directory of the daemon's, created with `mode` when missing, checked:
 * ours, a real directory, writable by nobody else. */
static int serve_dir(const char *path, mode_t mode, struct reins_error *err)
{
        if (mkdir(path, mode) < 0 && errno != EEXIST)
                return reins_error_errno(err, errno, "creating %s", path);
        struct stat st;
        if (lstat(path, &st) < 0)
                return reins_error_errno(err, errno, "%s", path);
        if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
                return reins_error_set(err, EPERM,
                                       "%s must be a directory of uid %u that no one else may "
                                       "write to",
                                       path, (unsigned)geteuid());
        return 0;
}

/* STATE: --state, else $STATE_DIRECTORY (systemd's StateDirectory=), else
 * $XDG_STATE_HOME/reins/serve (~/.local/state/reins/serve). */
int serve_state_dir(const char *requested, char **out, struct reins_error *err)
{
        cleanup_free char *base = NULL;
        if (requested) {
                base = strdup(requested);
        } else if (getenv("STATE_DIRECTORY") && getenv("STATE_DIRECTORY")[0] == '/') {
                /* systemd may pass several, ':'-separated: the first is ours */
                base = strndup(getenv("STATE_DIRECTORY"), strcspn(getenv("STATE_DIRECTORY"), ":"));
        } else {
                cleanup_free char *reins = NULL;
                int r = audit_state_dir(&reins, err);
                if (r < 0)
                        return r;
                base = path_join(reins, "serve");
        }
        if (!base)
                return reins_error_set(err, ENOMEM, "out of memory");
        /* a root daemon's state is 0711: users it runs sessions for must
         * reach STATE/homes/UID; everything else inside stays 0700 */
        int r = serve_dir(base, geteuid() == 0 ? 0711 : 0700, err);
        if (r < 0)
                return r;
        *out = steal_ptr(&base);
        return 0;
}

static int serve_state_dirs(struct serve *serve, const char *state, struct reins_error *err)
{
        int r = serve_state_dir(state, &serve->state_dir, err);
        if (r < 0)
                return r;
        /* one daemon per state directory: two would both reap, adopt and
         * rewrite the same records. The lock dies with the process, so a
         * daemon killed with -9 leaves nothing to clean */
        cleanup_fd int dir =
            open(serve->state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        serve->state_lock =
            dir < 0 ? -1
                    : openat(dir, ".serve.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (serve->state_lock < 0)
                return reins_error_errno(err, errno, "locking %s", serve->state_dir);
        if (flock(serve->state_lock, LOCK_EX | LOCK_NB) < 0)
                return reins_error_set(err, EBUSY, "%s: another daemon uses this state directory",
                                       serve->state_dir);
        serve->sessions_dir = path_join(serve->state_dir, "sessions");
        cleanup_free char *trails = path_join(serve->state_dir, "trails");
        if (!serve->sessions_dir || !trails)
                return reins_error_set(err, ENOMEM, "out of memory");
        if ((r = serve_dir(serve->sessions_dir, 0700, err)) < 0 ||
            (r = serve_dir(trails, 0700, err)) < 0)
                return r;
        if (geteuid() == 0) {
                serve->homes_dir = path_join(serve->state_dir, "homes");
                if (!serve->homes_dir)
                        return reins_error_set(err, ENOMEM, "out of memory");
                if ((r = serve_dir(serve->homes_dir, 0711, err)) < 0)
                        return r;
        }
        if ((r = serve_daemon_key_init(serve->state_dir, &serve->daemon_key, err)) < 0)
                return r;
        /* the dashboard's CSRF tokens: new with each start (a page asks
         * again after a restart; serve/web.h) */
        randombytes_buf(serve->csrf_key, sizeof(serve->csrf_key));
        return serve_trail_open(&serve->trail, trails, err);
}

/* Is someone listening on `path`? (A second daemon on one socket.) */
static bool serve_socket_in_use(const struct sockaddr_un *addr)
{
        cleanup_fd int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        return fd >= 0 && connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
}

/* /run/reins: root's, searchable by all (the socket's own mode and the
 * roles decide who may talk), never a link or someone else's directory. */
static int serve_system_dir(struct reins_error *err)
{
        if (mkdir(SERVE_SYSTEM_DIR, 0755) < 0 && errno != EEXIST)
                return reins_error_errno(err, errno, "creating %s", SERVE_SYSTEM_DIR);
        struct stat st;
        if (lstat(SERVE_SYSTEM_DIR, &st) < 0)
                return reins_error_errno(err, errno, "%s", SERVE_SYSTEM_DIR);
        if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 0022))
                return reins_error_set(err, EPERM,
                                       "%s is not a directory of root's that only root may "
                                       "write; remove it or give --socket PATH",
                                       SERVE_SYSTEM_DIR);
        return 0;
}

/* Bind and listen on the unix socket, mode 0600 (0666 for a root daemon
 * with roles: every local user may knock; the roles decide). */
static int serve_listen(struct serve *serve, const char *requested, struct reins_error *err)
{
        if (requested) {
                serve->socket_path = strdup(requested);
        } else if (serve->uid == 0 && serve->roles.config) {
                /* root with roles serves the host's users: the system place
                 * every user's CLI looks at (cli/daemon_client.c) */
                int r = serve_system_dir(err);
                if (r < 0)
                        return r;
                serve->socket_path = strdup(SERVE_SYSTEM_DIR "/" SERVE_SOCKET_NAME);
        } else {
                cleanup_free char *dir = NULL;
                int r = runtime_dir(&dir, err);
                if (r < 0)
                        return r;
                serve->socket_path = path_join(dir, SERVE_SOCKET_NAME);
        }
        if (!serve->socket_path)
                return reins_error_set(err, ENOMEM, "out of memory");
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        if (strlen(serve->socket_path) >= sizeof(addr.sun_path))
                return reins_error_set(err, ENAMETOOLONG, "%s: socket path too long",
                                       serve->socket_path);
        strcpy(addr.sun_path, serve->socket_path);
        struct stat st;
        if (lstat(serve->socket_path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return reins_error_set(err, EEXIST, "%s exists and is not a socket",
                                               serve->socket_path);
                if (serve_socket_in_use(&addr))
                        return reins_error_set(err, EADDRINUSE,
                                               "%s: another daemon is listening there",
                                               serve->socket_path);
                /* a socket a dead daemon left (kill -9): ours to replace */
                if (st.st_uid != geteuid() || unlink(serve->socket_path) < 0)
                        return reins_error_set(err, EEXIST,
                                               "%s: a stale socket that is not ours is in the way",
                                               serve->socket_path);
        }
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return reins_error_errno(err, errno, "socket");
        /* the socket is created with its final mode (umask), never chmod'ed
         * by name afterwards: in a shared directory the name could be a
         * symlink by then, and chmod would follow it */
        mode_t mode = serve->uid == 0 && serve->roles.config ? 0666 : 0600;
        mode_t old = umask(~mode & 0777);
        int r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
        umask(old);
        if (r < 0 || lstat(serve->socket_path, &st) < 0 || listen(fd, SERVE_BACKLOG) < 0) {
                int e = errno;
                close(fd);
                return reins_error_errno(err, e, "listening on %s", serve->socket_path);
        }
        serve->socket_dev = st.st_dev;
        serve->socket_ino = st.st_ino;
        return fd;
}

/* --listen HOST:PORT: a TCP socket for HTTPS (port 0: any free port). */
static int serve_listen_tcp(struct serve *serve, const char *spec, struct reins_error *err)
{
        char host[128];
        const char *colon = strrchr(spec, ':');
        if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(host) || !colon[1])
                return reins_error_set(err, EINVAL, "--listen %s: expected HOST:PORT", spec);
        /* [::1]:8443 */
        const char *start = spec, *end = colon;
        if (*start == '[' && end[-1] == ']')
                start++, end--;
        snprintf(host, sizeof(host), "%.*s", (int)(end - start), start);
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *found = NULL;
        int g = getaddrinfo(host, colon + 1, &hints, &found);
        if (g != 0)
                return reins_error_set(err, EINVAL, "--listen %s: %s", spec, gai_strerror(g));
        int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
            bind(fd, found->ai_addr, found->ai_addrlen) < 0 || listen(fd, SERVE_BACKLOG) < 0) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                freeaddrinfo(found);
                return reins_error_errno(err, e, "--listen %s", spec);
        }
        freeaddrinfo(found);
        struct sockaddr_storage bound;
        socklen_t size = sizeof(bound);
        char name[64] = "?", port[16] = "?";
        if (getsockname(fd, (struct sockaddr *)&bound, &size) == 0)
                getnameinfo((struct sockaddr *)&bound, size, name, sizeof(name), port, sizeof(port),
                            NI_NUMERICHOST | NI_NUMERICSERV);
        snprintf(serve->listen_address, sizeof(serve->listen_address),
                 strchr(name, ':') ? "[%s]:%s" : "%s:%s", name, port);
        return fd;
}

/* A PEM file, read whole (at most 1 MiB). */
static int serve_read_pem(const char *path, char **out, struct reins_error *err)
{
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return reins_error_errno(err, errno, "%s", path);
        size_t length = 0;
        bool truncated = false;
        int r = fileio_read_fd(fd, 1 << 20, out, &length, &truncated);
        if (r < 0 || truncated) {
                free(*out);
                *out = NULL;
                return reins_error_set(err, EIO, "%s: unreadable or larger than 1 MiB", path);
        }
        return 0;
}

/* The TLS listener: --listen with its certificate and key, or nothing. */
static int serve_start_remote(struct serve *serve, const struct serve_options *o,
                              struct reins_error *err)
{
        if (!o->listen)
                return 0;
        if (!o->tls_cert || !o->tls_key)
                return reins_error_set(err, EINVAL,
                                       "--listen needs --tls-cert and --tls-key: the API is "
                                       "never served in clear over TCP");
        cleanup_free char *cert = NULL;
        char *key = NULL;
        int r = serve_read_pem(o->tls_cert, &cert, err);
        if (r < 0 || (r = serve_read_pem(o->tls_key, &key, err)) < 0)
                return r;
        int fd = serve_listen_tcp(serve, o->listen, err);
        r = fd < 0 ? fd : serve_http_start(&serve->remote, fd, cert, key, err);
        /* libmicrohttpd has parsed the key: its copy here goes */
        sodium_memzero(key, strlen(key));
        free(key);
        return r;
}

/* Sessions a previous daemon started: those whose supervisor is gone and
 * whose end nobody saw are marked so; live ones need nothing (each is its
 * own supervisor, found again through the registry). */
static void serve_adopt(struct serve *serve)
{
        json_auto_t *records = NULL;
        struct reins_error err = {0};
        if (serve_record_list(serve->sessions_dir, &records, &err) < 0)
                return;
        size_t i, live = 0, gone = 0;
        json_t *record;
        json_array_foreach(records, i, record)
        {
                if (json_object_get(record, "exit_status"))
                        continue;
                pid_t pid = (pid_t)json_integer_value(json_object_get(record, "pid"));
                unsigned long long ticks =
                    (unsigned long long)json_integer_value(json_object_get(record, "pid_start"));
                if (runtime_pid_matches(pid, ticks)) {
                        live++;
                        continue;
                }
                gone++;
                const char *id = json_string_value(json_object_get(record, "session"));
                const char *trail = json_string_value(json_object_get(record, "trail"));
                int status;
                /* its own trail may say how it ended; else nobody knows */
                bool known =
                    trail && serve_record_trail_status(
                                 trail, (uid_t)json_integer_value(json_object_get(record, "uid")),
                                 &status) == 0;
                json_object_set_new(record, "exit_status",
                                    known ? json_integer(status) : json_null());
                json_object_set_new(record, "ended_unseen", json_true());
                if (id)
                        serve_record_write(serve->sessions_dir, id, record, &err);
        }
        serve_trail_emit(
            &serve->trail, "serve.adopt",
            json_pack("{s:I, s:I}", "live", (json_int_t)live, "gone", (json_int_t)gone));
}

static void serve_free(struct serve *serve)
{
        atomic_store(&serve->stopping, true);
        serve_http_stop(serve);
        serve_events_stop(serve);
        serve_pool_stop(serve);
        serve_forward_stop(serve);
        serve_notify_stop(serve);
        serve_trail_close(&serve->trail);
        serve_mhd_close(&serve->mhd);
        serve_config_free(&serve->config);
        pthread_mutex_destroy(&serve->children_lock);
        pthread_mutex_destroy(&serve->files_lock);
        json_decref(serve->files);
        serve_summaries_free(serve->summaries);
        free(serve->children);
        free(serve->state_dir);
        free(serve->sessions_dir);
        free(serve->homes_dir);
        if (serve->state_lock >= 0)
                close(serve->state_lock);
        free(serve->socket_path);
}

int serve_run(const struct serve_options *options, struct reins_error *err)
{
        struct serve serve = {
            .uid = geteuid(), .gid = getegid(), .reins_path = options->reins_path};
        pthread_mutex_init(&serve.children_lock, NULL);
        pthread_mutex_init(&serve.files_lock, NULL);
        serve.roles.daemon_uid = serve.uid;
        serve.local.serve = &serve;
        serve.remote.serve = &serve;
        serve.remote.tcp = true;
        serve.state_lock = -1;
        int r = 0, fd = -1, sfd = -1;
        if (options->config_path) {
                if ((r = serve_config_load(options->config_path, &serve.config, err)) < 0)
                        goto out;
                serve.roles.config = &serve.config;
        }
        if (!(serve.summaries = serve_summaries_new())) {
                r = reins_error_set(err, ENOMEM, "out of memory");
                goto out;
        }
        if ((r = serve_mhd_open(&serve.mhd, err)) < 0 ||
            (r = serve_state_dirs(&serve, options->state_dir, err)) < 0)
                goto out;
        /* the HTTP threads inherit this mask: these signals reach only the
         * signalfd below, read by this thread */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGCHLD);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        signal(SIGPIPE, SIG_IGN);
        if (pthread_sigmask(SIG_BLOCK, &mask, NULL) != 0 ||
            (sfd = signalfd(-1, &mask, SFD_CLOEXEC)) < 0) {
                r = reins_error_errno(err, errno, "signalfd");
                goto out;
        }
        if ((fd = serve_listen(&serve, options->socket_path, err)) < 0) {
                r = fd;
                goto out;
        }
        serve_adopt(&serve);
        if ((r = serve_events_start(&serve, err)) < 0 || (r = serve_pool_start(&serve, err)) < 0 ||
            (r = serve_forward_start(&serve, err)) < 0 ||
            (r = serve_notify_start(&serve, err)) < 0 ||
            (r = serve_http_start(&serve.local, fd, NULL, NULL, err)) < 0 ||
            (r = serve_start_remote(&serve, options, err)) < 0)
                goto out;
        serve_trail_emit(&serve.trail, "serve.start",
                         json_pack("{s:s, s:s?, s:I, s:s?, s:s, s:s}", "socket", serve.socket_path,
                                   "listen", options->listen ? serve.listen_address : NULL, "uid",
                                   (json_int_t)serve.uid, "config", options->config_path, "state",
                                   serve.state_dir, "daemon_key", serve.daemon_key.hex));
        if (options->on_ready)
                options->on_ready(options->ctx, serve.socket_path,
                                  options->listen ? serve.listen_address : NULL, serve.state_dir);
        for (;;) {
                struct signalfd_siginfo si;
                ssize_t n = read(sfd, &si, sizeof(si));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n != (ssize_t)sizeof(si))
                        break;
                if (si.ssi_signo == SIGCHLD)
                        serve_children_reap(&serve);
                else if (si.ssi_signo != SIGHUP)
                        break;
        }
        atomic_store(&serve.stopping, true);
        /* event streams end with a last comment before the connections go */
        serve_events_drain(&serve, 1000);
        serve_http_stop(&serve);
        /* the socket goes only while it is still this daemon's file: a
         * daemon started since on the same path keeps its own */
        struct stat st;
        if (lstat(serve.socket_path, &st) == 0 && st.st_dev == serve.socket_dev &&
            st.st_ino == serve.socket_ino)
                unlink(serve.socket_path);
        serve_trail_emit(&serve.trail, "serve.stop",
                         json_pack("{s:s}", "socket", serve.socket_path));
out:
        if (sfd >= 0)
                close(sfd);
        serve_free(&serve);
        return r;
}

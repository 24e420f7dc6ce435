/* reins stop SESSION: SIGTERM to the session's supervisor (which ends the
 * sandbox and writes the trail's final checkpoint), SIGKILL after a grace
 * period. The pid comes from the caller's own private registry and is
 * checked against the start time recorded with it, and the signal goes
 * through a pidfd: never to a process that merely reuses the pid. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "audit/runtime.h"
#include "cli/cli.h"
#include "cli/daemon_sessions.h"
#include "cli/notice.h"
#include "policy/parse_units.h"
#include "util/cleanup.h"

static void stop_usage(FILE *out)
{
        fprintf(out,
                "Usage: reins stop [--grace DURATION] [--socket PATH] SESSION\n"
                "\n"
                "End a running session of yours (see 'reins ps'; a unique prefix of the id\n"
                "will do): SIGTERM to its supervisor, SIGKILL if it is still there after\n"
                "the grace period (default 5s).\n"
                "A session reins serve started (or one only it can reach) is stopped through\n"
                "its API, where its roles decide (its own grace: 5s).\n"
                "Exit status: 0 stopped; 1 no such session or not yours; 2 usage; 125 error.\n");
}

/* The real uid of /proc/PID/status. */
static int stop_process_uid(pid_t pid, uid_t *uid)
{
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        int r = -ENOENT;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "Uid:", 4) == 0) {
                        *uid = (uid_t)strtoul(line + 4, NULL, 10);
                        r = 0;
                        break;
                }
        fclose(f);
        return r;
}

static bool stop_wait(int pidfd, uint64_t ms)
{
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        return poll(&p, 1, ms > 60000000 ? 60000000 : (int)ms) > 0;
}

/* Not an exit status: the session is to be stopped here, as without a
 * daemon. */
#define STOP_LOCALLY (-1)

/* A session of the daemon's goes through POST /v1/sessions/ID/stop; an
 * exit status, or STOP_LOCALLY. */
static int stop_maybe_through_daemon(const char *socket_path, const char *session,
                                     const json_t *local)
{
        struct reins_error err = {0};
        struct daemon_view daemon;
        if (daemon_view_open(&daemon, socket_path, &err) < 0) {
                cli_error(&err);
                return EXIT_REINS_FAILED;
        }
        const char *id = NULL;
        int r = daemon_view_route(&daemon, json_string_value(json_object_get(local, "session")),
                                  session, &id, &err);
        int status = STOP_LOCALLY;
        json_auto_t *reply = NULL;
        cleanup_free char *path = r == 1 ? daemon_session_path(id, "stop") : NULL;
        if (r == 1 && !path)
                r = reins_error_set(&err, ENOMEM, "out of memory");
        if (r == 1)
                r = daemon_client_call(&daemon.client, "POST", path, NULL, DAEMON_ACT_TIMEOUT, NULL,
                                       &reply, &err);
        if (r < 0) {
                cli_error(&err);
                status = r == -EREMOTEIO || r == -EEXIST ? 1 : EXIT_REINS_FAILED;
        } else if (path) {
                printf("stopped %s%s\n", id,
                       json_is_true(json_object_get(reply, "killed")) ? " (SIGKILL after 5s)" : "");
                status = 0;
        }
        daemon_view_close(&daemon);
        return status;
}

int cli_stop(int argc, char **argv)
{
        static const struct option options[] = {
            {"grace", required_argument, NULL, 'g'},
            {"socket", required_argument, NULL, 'S'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        uint64_t grace_ms = 5000;
        const char *socket_path = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
                if (c == 'g' && parse_duration_ms(optarg, &grace_ms) == 0)
                        continue;
                if (c == 'S') {
                        socket_path = optarg;
                        continue;
                }
                if (c == 'h') {
                        stop_usage(stdout);
                        return 0;
                }
                if (c == 'g')
                        fprintf(stderr, "reins: --grace %s: expected a duration (5s, 500ms)\n",
                                optarg);
                else
                        stop_usage(stderr);
                return EXIT_REINS_USAGE;
        }
        if (optind + 1 != argc) {
                stop_usage(stderr);
                return EXIT_REINS_USAGE;
        }
        const char *session = argv[optind];
        struct reins_error err = {0};
        json_auto_t *entry = NULL;
        int found = runtime_find(session, &entry, &err);
        int r = stop_maybe_through_daemon(socket_path, session, found == 0 ? entry : NULL);
        if (r != STOP_LOCALLY)
                return r;
        if (found < 0) {
                cli_error(&err);
                return err.code == ENOENT || err.code == EEXIST ? 1 : EXIT_REINS_FAILED;
        }
        const char *id = json_string_value(json_object_get(entry, "session"));
        char name[128];
        snprintf(name, sizeof(name), "%s", id ? id : session);
        pid_t pid = (pid_t)json_integer_value(json_object_get(entry, "pid"));
        unsigned long long ticks =
            (unsigned long long)json_integer_value(json_object_get(entry, "pid_start"));
        int pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, pid, 0) : -1;
        /* the pidfd pins the process: checked after opening it, the start
         * time proves it is still our supervisor and not a reused pid */
        if (pidfd < 0 || !runtime_pid_matches(pid, ticks)) {
                fprintf(stderr, "reins: session %s is no longer running (supervisor %d gone)\n",
                        name, (int)pid);
                if (pidfd >= 0)
                        close(pidfd);
                runtime_unregister(name);
                return 1;
        }
        uid_t owner = (uid_t)-1;
        if (stop_process_uid(pid, &owner) < 0 || owner != getuid()) {
                fprintf(stderr,
                        "reins: session %s is not yours (its supervisor runs as uid %d): "
                        "refusing to stop it\n",
                        name, (int)owner);
                close(pidfd);
                return 1;
        }
        if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) < 0) {
                fprintf(stderr, "reins: stopping session %s: %s\n", name, strerror(errno));
                close(pidfd);
                return EXIT_REINS_FAILED;
        }
        if (!stop_wait(pidfd, grace_ms)) {
                fprintf(stderr, "reins: session %s still running after %llu ms: SIGKILL\n", name,
                        (unsigned long long)grace_ms);
                syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
                stop_wait(pidfd, 5000);
                runtime_unregister(name);
        }
        close(pidfd);
        printf("stopped %s\n", name);
        return 0;
}

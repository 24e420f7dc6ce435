/* The session library (src/session/session.h) as a daemon would use it:
 * real sandboxes, started, waited for, stopped from another thread; the
 * library never writes to stdout or stderr itself (what it says goes to
 * the notice writer the caller installs). */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "session/session.h"
#include "util/notice.h"

static char notices[8192];

static void capture_notice(const char *text, unsigned flags)
{
        (void)flags;
        size_t used = strlen(notices);
        snprintf(notices + used, sizeof(notices) - used, "%s\n", text);
}

struct fixture {
        char dir[64];
        int saved_out, saved_err;
        char captured[128]; /* what reached fds 1 and 2 */
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        snprintf(f->dir, sizeof(f->dir), "/tmp/reins-session-test-XXXXXX");
        if (!f || !mkdtemp(f->dir))
                return -1;
        char path[128];
        const char *vars[] = {"XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"};
        for (size_t i = 0; i < 3; i++) {
                snprintf(path, sizeof(path), "%s/%zu", f->dir, i);
                mkdir(path, 0700);
                setenv(vars[i], path, 1);
        }
        snprintf(path, sizeof(path), "%s/ws", f->dir);
        mkdir(path, 0700);
        /* fds 1 and 2 into a file: the library must leave it empty */
        snprintf(f->captured, sizeof(f->captured), "%s/stdio", f->dir);
        fflush(stdout);
        fflush(stderr);
        f->saved_out = dup(1);
        f->saved_err = dup(2);
        int out = open(f->captured, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        dup2(out, 1);
        dup2(out, 2);
        close(out);
        notices[0] = '\0';
        notice_set_writer(capture_notice);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        fflush(stdout);
        fflush(stderr);
        dup2(f->saved_out, 1);
        dup2(f->saved_err, 2);
        close(f->saved_out);
        close(f->saved_err);
        notice_set_writer(NULL);
        char command[160];
        snprintf(command, sizeof(command), "rm -rf '%s'", f->dir);
        if (system(command) != 0)
                return -1;
        free(f);
        return 0;
}

static long captured_size(const struct fixture *f)
{
        fflush(stdout);
        fflush(stderr);
        struct stat st;
        return stat(f->captured, &st) == 0 ? (long)st.st_size : -1;
}

static void configure(struct session_config *c, struct fixture *f, char **argv)
{
        static char workspace[128];
        snprintf(workspace, sizeof(workspace), "%s/ws", f->dir);
        *c = (struct session_config){.policy = "default", .quiet = true}; /* the default trail */
        c->plan.workspace = workspace;
        c->plan.argv = argv;
        c->plan.home = getenv("HOME");
        c->plan.verbosity = -1;
}

/* One process, one certified session: once a sandbox is forked the user's
 * key is sealed in that process (audit_key_seal), so a caller that runs
 * many sessions -- a daemon, this test -- runs each in a process of its
 * own. Returns what fn returned, or -1 when the child failed a check. */
static int in_child(int (*fn)(struct fixture *, char **), struct fixture *f, char **argv)
{
        pid_t pid = fork();
        if (pid == 0)
                _exit(fn(f, argv));
        int status = 0;
        waitpid(pid, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* In the child: no cmocka assertion (its failure would unwind into a copy
 * of the test runner); 100 + n for a failed step. */
static int run_to_end(struct fixture *f, char **argv)
{
        struct session_config config;
        configure(&config, f, argv);
        struct session *s = NULL;
        struct reins_error err = {0};
        int r = session_new(&config, &s, &err);
        if (r == 0)
                r = session_start(s, &err);
        if (r < 0) {
                dprintf(f->saved_err, "session: %s\n%s", err.message, notices);
                return 101;
        }
        struct supervise_outcome outcome;
        int status = session_wait(s, &outcome);
        int closed = session_close(s);
        session_free(s);
        return closed == status ? status : 102;
}

static void test_status_and_silence(void **state)
{
        struct fixture *f = *state;
        char *seven[] = {"/bin/sh", "-c", "exit 7", NULL};
        assert_int_equal(in_child(run_to_end, f, seven), 7);
        char *ok[] = {"/bin/true", NULL};
        assert_int_equal(in_child(run_to_end, f, ok), 0);
        assert_int_equal(captured_size(f), 0);
        /* two trails in the state directory, each with its start and end */
        char command[256];
        snprintf(command, sizeof(command),
                 "test $(grep -l '\"type\":\"session.end\"' %s/0/reins/trails/*.jsonl | wc -l) "
                 "-eq 2 && test $(grep -l '\"type\":\"session.start\"' "
                 "%s/0/reins/trails/*.jsonl | wc -l) -eq 2",
                 f->dir, f->dir);
        assert_int_equal(system(command), 0);
}

static void test_bad_policy(void **state)
{
        struct fixture *f = *state;
        char *argv[] = {"/bin/true", NULL};
        struct session_config config;
        configure(&config, f, argv);
        config.policy = "no-such-preset-or-file";
        struct session *s = NULL;
        struct reins_error err = {0};
        assert_true(session_new(&config, &s, &err) < 0);
        assert_non_null(strstr(err.message, "no-such-preset-or-file"));
        assert_int_equal(session_close(s), SESSION_EXIT_FAILED);
        session_free(s);
        assert_int_equal(captured_size(f), 0);
}

static void *stop_later(void *arg)
{
        struct session *s = arg;
        struct session_status st;
        for (int i = 0; i < 1000; i++) { /* until it runs, at most 10 s */
                session_status(s, &st);
                if (st.state == SESSION_RUNNING && st.pid > 0)
                        break;
                usleep(10000);
        }
        session_stop(s, 2000);
        return NULL;
}

static int stop_in_child(struct fixture *f, char **argv)
{
        struct session_config config;
        configure(&config, f, argv);
        struct session *s = NULL;
        struct reins_error err = {0};
        int r = session_new(&config, &s, &err);
        if (r == 0)
                r = session_start(s, &err);
        if (r < 0) {
                dprintf(f->saved_err, "session: %s\n%s", err.message, notices);
                return 1;
        }
        pthread_t stopper;
        if (pthread_create(&stopper, NULL, stop_later, s) != 0)
                return 2;
        struct supervise_outcome outcome;
        int status = session_wait(s, &outcome);
        pthread_join(stopper, NULL);
        struct session_status st;
        session_status(s, &st);
        session_free(s);
        if (st.state != SESSION_ENDED || st.pid != 0)
                return 3;
        return status == 128 + 15 ? 0 : 4; /* SIGTERM, relayed through pid 1 */
}

static void test_stop_from_another_thread(void **state)
{
        struct fixture *f = *state;
        char *argv[] = {"/bin/sleep", "600", NULL};
        assert_int_equal(in_child(stop_in_child, f, argv), 0);
        assert_int_equal(captured_size(f), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_status_and_silence, setup, teardown),
            cmocka_unit_test_setup_teardown(test_bad_policy, setup, teardown),
            cmocka_unit_test_setup_teardown(test_stop_from_another_thread, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

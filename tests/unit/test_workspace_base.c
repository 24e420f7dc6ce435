/* The base record of a copy-on-write session (workspace/base.h): entries
 * round-trip whatever bytes their paths hold (newline, 0xff, the root ""),
 * a damaged or oversized record is refused (never half-read), and whether a
 * host entry changed since its base follows the record when there is one,
 * the session's start time when not. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/path.h"
#include "workspace/base.h"
#include "workspace/fsops.h"

struct fixture {
        char dir[64];
        struct workspace_session session;
};

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        snprintf(f->dir, sizeof(f->dir), "/tmp/reins-base-XXXXXX");
        if (!mkdtemp(f->dir))
                return -1;
        snprintf(f->session.id, sizeof(f->session.id), "0123456789abcdef01234567");
        f->session.dir = f->dir;
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        int parent = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ws_remove_tree_at(parent, f->dir + 5);
        close(parent);
        free(f);
        return 0;
}

static void write_record(const struct fixture *f, const char *text, size_t length)
{
        char path[128];
        snprintf(path, sizeof(path), "%s/base", f->dir);
        FILE *out = fopen(path, "w");
        assert_non_null(out);
        assert_int_equal(fwrite(text, 1, length, out), length);
        fclose(out);
}

static void test_round_trip_of_any_path(void **state)
{
        struct fixture *f = *state;
        const char *paths[] = {"", "a", "new\nline", "bad\377name", "d/sub/x y"};
        struct workspace_base base = {0};
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                struct workspace_base_entry e = {
                    .path = (char *)paths[i],
                    .flags = BASE_AGENT_KNOWN | BASE_AGENT_PRESENT | BASE_HOST_PRESENT |
                             BASE_HASHED | BASE_APPLIED | (i == 2 ? BASE_HOST_CHANGED : 0),
                    .agent_mode = S_IFREG | 0644,
                    .agent_size = (long long)i * 1000,
                    .host_mode = S_IFREG | 0600,
                    .host_size = 7,
                    .host_dev = 2049,
                    .host_ino = 1234567 + i,
                    .host_ctime_ns = 1700000000123456789LL,
                };
                memset(e.agent_hash, (int)(0xa0 + i), sizeof(e.agent_hash));
                assert_int_equal(workspace_base_put(&base, &e), 0);
        }
        /* a second put of a path replaces it */
        struct workspace_base_entry again = *workspace_base_find(&base, "a");
        again.path = "a";
        again.host_size = 99;
        assert_int_equal(workspace_base_put(&base, &again), 0);
        assert_int_equal(base.count, 5);
        struct reins_error err = {0};
        assert_int_equal(workspace_base_save(&f->session, &base, &err), 0);
        workspace_base_free(&base);

        assert_int_equal(workspace_base_load(&f->session, &base, &err), 0);
        assert_int_equal(base.count, 5);
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
                const struct workspace_base_entry *e = workspace_base_find(&base, paths[i]);
                assert_non_null(e);
                assert_string_equal(e->path, paths[i]);
                assert_int_equal(e->agent_mode, S_IFREG | 0644);
                assert_int_equal(e->host_ino, 1234567 + i);
                assert_int_equal(e->host_ctime_ns, 1700000000123456789LL);
                assert_int_equal(e->host_size, i == 1 ? 99 : 7);
                assert_int_equal((e->flags & BASE_HOST_CHANGED) != 0, i == 2);
                assert_true(e->flags & BASE_HASHED);
                for (size_t k = 0; k < sizeof(e->agent_hash); k++)
                        assert_int_equal(e->agent_hash[k], 0xa0 + i);
        }
        assert_null(workspace_base_find(&base, "absent"));
        workspace_base_free(&base);
}

static void test_no_record_is_an_empty_base(void **state)
{
        struct fixture *f = *state;
        struct workspace_base base = {0};
        struct reins_error err = {0};
        assert_int_equal(workspace_base_load(&f->session, &base, &err), 0);
        assert_int_equal(base.count, 0);
}

static void test_damaged_records_are_refused(void **state)
{
        struct fixture *f = *state;
        const char *bad[] = {
            "61 7 100644 2 - 100644 2 1 2\n",       /* a field short */
            "6g 7 100644 2 - 100644 2 1 2 3\n",     /* not hex */
            "610062 7 100644 2 - 100644 2 1 2 3\n", /* a NUL in the path */
            "61 7 100644 2 abcd 100644 2 1 2 3\n",  /* a short hash */
            "61 7 100944 2 - 100644 2 1 2 3\n",     /* not octal */
            "61 7 100644 -2x - 100644 2 1 2 3\n",   /* not a number */
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                write_record(f, bad[i], strlen(bad[i]));
                struct workspace_base base = {0};
                struct reins_error err = {0};
                assert_int_equal(workspace_base_load(&f->session, &base, &err), -EINVAL);
                assert_int_equal(base.count, 0);
                assert_non_null(strstr(err.message, "malformed"));
        }
}

static void test_an_oversized_record_is_refused(void **state)
{
        struct fixture *f = *state;
        size_t n = WORKSPACE_BASE_MAX_BYTES + 1;
        char *big = malloc(n);
        memset(big, '6', n);
        write_record(f, big, n);
        free(big);
        struct workspace_base base = {0};
        struct reins_error err = {0};
        assert_int_equal(workspace_base_load(&f->session, &base, &err), -EFBIG);
}

static void test_host_changed_follows_the_record_else_the_start(void **state)
{
        (void)state;
        struct workspace_base base = {0};
        struct stat st = {0};
        st.st_mode = S_IFREG | 0644;
        st.st_size = 5;
        st.st_dev = 1;
        st.st_ino = 42;
        st.st_ctim.tv_sec = 2000; /* after the start below */
        long long started = 1000LL * 1000000000LL;
        /* no record: a ctime at or after the start is a host change */
        assert_true(workspace_base_host_changed(&base, started, "f", &st));
        st.st_ctim.tv_sec = 999;
        assert_false(workspace_base_host_changed(&base, started, "f", &st));
        /* a record: the identity it holds, however recent */
        struct workspace_base_entry e = {.path = "f",
                                         .flags = BASE_AGENT_KNOWN | BASE_HOST_PRESENT,
                                         .host_mode = S_IFREG | 0644,
                                         .host_size = 5,
                                         .host_dev = 1,
                                         .host_ino = 42,
                                         .host_ctime_ns = 2000LL * 1000000000LL};
        assert_int_equal(workspace_base_put(&base, &e), 0);
        st.st_ctim.tv_sec = 2000;
        assert_false(workspace_base_host_changed(&base, started, "f", &st));
        st.st_ino = 43; /* replaced by a rename */
        assert_true(workspace_base_host_changed(&base, started, "f", &st));
        st.st_ino = 42;
        st.st_ctim.tv_nsec = 1; /* touched */
        assert_true(workspace_base_host_changed(&base, started, "f", &st));
        assert_true(workspace_base_host_changed(&base, started, "f", NULL)); /* deleted */
        /* a directory the host had changed before reins wrote in it stays so */
        e.path = "d";
        e.flags |= BASE_HOST_CHANGED;
        e.host_ctime_ns = 999LL * 1000000000LL;
        assert_int_equal(workspace_base_put(&base, &e), 0);
        st.st_ctim.tv_sec = 999;
        st.st_ctim.tv_nsec = 0;
        assert_true(workspace_base_host_changed(&base, started, "d", &st));
        workspace_base_free(&base);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_round_trip_of_any_path, setup, teardown),
            cmocka_unit_test_setup_teardown(test_no_record_is_an_empty_base, setup, teardown),
            cmocka_unit_test_setup_teardown(test_damaged_records_are_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_an_oversized_record_is_refused, setup, teardown),
            cmocka_unit_test(test_host_changed_follows_the_record_else_the_start),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

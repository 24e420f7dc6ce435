/* The event loop (src/util/loop.h): a tick runs when an fd was dispatched,
 * when its own deadline comes, or after loop_kick, and never otherwise: an
 * idle loop does not wake up. No timing is asserted: a deadline that was
 * not kept shows as a tick that did not run within a generous wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/loop.h"

struct counter {
        int runs;
        int64_t next; /* what the tick returns */
};

static int64_t count_tick(void *ctx)
{
        struct counter *c = ctx;
        c->runs++;
        return c->next;
}

static void on_fd(void *ctx, int fd, uint32_t events)
{
        (void)events;
        char byte;
        *(int *)ctx += (int)read(fd, &byte, 1);
}

static void test_idle_tick_sleeps(void **state)
{
        (void)state;
        struct loop *l = NULL;
        assert_int_equal(loop_new(&l), 0);
        struct counter c = {.next = LOOP_IDLE};
        assert_int_equal(loop_add_tick(l, count_tick, &c), 0);
        /* due at once, the first time: what happened before is looked at */
        assert_int_equal(loop_run_once(l, 1000), 0);
        assert_int_equal(c.runs, 1);
        /* then nothing is due: the wait runs out without a tick */
        assert_int_equal(loop_run_once(l, 20), 0);
        assert_int_equal(c.runs, 1);
        loop_free(l);
}

static void test_deadline_wakes_the_loop(void **state)
{
        (void)state;
        struct loop *l = NULL;
        assert_int_equal(loop_new(&l), 0);
        struct counter c = {.next = 10};
        assert_int_equal(loop_add_tick(l, count_tick, &c), 0);
        assert_int_equal(loop_run_once(l, 1000), 0);
        c.next = LOOP_IDLE;
        /* no fd, no limit on the wait: only the 10 ms deadline ends it */
        assert_int_equal(loop_run_once(l, -1), 0);
        assert_int_equal(c.runs, 2);
        loop_free(l);
}

static void test_fd_and_kick_run_every_tick(void **state)
{
        (void)state;
        struct loop *l = NULL;
        int pipefd[2];
        assert_int_equal(pipe(pipefd), 0);
        assert_int_equal(loop_new(&l), 0);
        struct counter c = {.next = LOOP_IDLE};
        int read_bytes = 0;
        assert_int_equal(loop_add_tick(l, count_tick, &c), 0);
        assert_int_equal(loop_add_fd(l, pipefd[0], on_fd, &read_bytes), 0);
        assert_int_equal(loop_run_once(l, 1000), 0);
        assert_int_equal(c.runs, 1);
        /* an fd's dispatch: the tick runs after it */
        assert_int_equal(write(pipefd[1], "x", 1), 1);
        assert_int_equal(loop_run_once(l, 1000), 1);
        assert_int_equal(read_bytes, 1);
        assert_int_equal(c.runs, 2);
        /* a kick: the next round runs it without waiting */
        loop_kick(l);
        assert_int_equal(loop_run_once(l, -1), 0);
        assert_int_equal(c.runs, 3);
        assert_int_equal(loop_run_once(l, 20), 0);
        assert_int_equal(c.runs, 3);
        loop_free(l);
        close(pipefd[0]);
        close(pipefd[1]);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_idle_tick_sleeps),
            cmocka_unit_test(test_deadline_wakes_the_loop),
            cmocka_unit_test(test_fd_and_kick_run_every_tick),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

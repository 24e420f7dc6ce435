/* The supervisor's own filter: after it, the kernel keyring is out of
 * reach (keyctl, add_key, request_key fail with EPERM), and other system
 * calls still work. Run in a child: the filter cannot be taken off. */
#include <errno.h>
#include <linux/keyctl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/self_seccomp.h"

static int child(void)
{
        /* the keyring answers before the filter */
        if (syscall(SYS_keyctl, KEYCTL_GET_PERSISTENT, -1, KEY_SPEC_PROCESS_KEYRING) < 0 &&
            errno != EOPNOTSUPP)
                return 10;
        if (seccomp_forbid_keyring_self(NULL) < 0)
                return 11;
        if (syscall(SYS_keyctl, KEYCTL_GET_PERSISTENT, -1, KEY_SPEC_PROCESS_KEYRING) >= 0 ||
            errno != EPERM)
                return 12;
        if (syscall(SYS_add_key, "user", "reins:test", "x", 1, KEY_SPEC_PROCESS_KEYRING) >= 0 ||
            errno != EPERM)
                return 13;
        if (syscall(SYS_request_key, "user", "reins:test", NULL, 0) >= 0 || errno != EPERM)
                return 14;
        if (getpid() <= 0) /* everything else still runs */
                return 15;
        return 0;
}

static void test_keyring_refused_after_the_filter(void **state)
{
        (void)state;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(child());
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_keyring_refused_after_the_filter),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

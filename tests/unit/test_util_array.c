/* Growable arrays: doubling from the initial size, a request that needs
 * several doublings at once, and overflow refused with the array intact. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "util/array.h"

struct item {
        int a, b;
};

static void test_doubling(void **state)
{
        (void)state;
        struct item *items = NULL;
        size_t capacity = 0;
        assert_int_equal(array_reserve(items, capacity, 1, 4), 0);
        assert_int_equal(capacity, 4);
        assert_non_null(items);
        items[3] = (struct item){1, 2};
        assert_int_equal(array_reserve(items, capacity, 4, 4), 0); /* fits: untouched */
        assert_int_equal(capacity, 4);
        assert_int_equal(array_reserve(items, capacity, 5, 4), 0);
        assert_int_equal(capacity, 8);
        assert_int_equal(items[3].b, 2); /* kept across the move */
        assert_int_equal(array_reserve(items, capacity, 100, 4), 0);
        assert_int_equal(capacity, 128);
        free(items);
}

static void test_overflow(void **state)
{
        (void)state;
        struct item *items = NULL;
        size_t capacity = 0;
        assert_int_equal(array_reserve(items, capacity, 2, 2), 0);
        struct item *before = items;
        assert_int_equal(array_reserve(items, capacity, SIZE_MAX / 2, 2), -ENOMEM);
        assert_ptr_equal(items, before);
        assert_int_equal(capacity, 2);
        free(items);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_doubling),
            cmocka_unit_test(test_overflow),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

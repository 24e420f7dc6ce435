/* Events of a session with credentials (audit/event.h mask_placeholders):
 * the random part of every placeholder, anywhere in an event's strings
 * (an exec's argv, a path), is masked before any sink sees it; other
 * strings are left alone. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/event.h"

static char *seen;

static void sink(void *ctx, const json_t *event)
{
        (void)ctx;
        free(seen);
        seen = json_dumps(event, JSON_COMPACT);
}

#define PH "reins-cred-my-api_key-0123456789abcdef0123456789abcdef"

static void test_placeholders_masked(void **state)
{
        (void)state;
        struct event_bus bus;
        event_bus_init(&bus, "s1");
        assert_int_equal(event_bus_add_sink(&bus, sink, NULL), 0);
        bus.mask_placeholders = true;
        event_emit(&bus, "exec",
                   json_pack("{s:[s,s], s:s, s:s}", "argv", "curl", "-H x: " PH, "path",
                             "/a/" PH "/b", "other", "reins-cred-x-notahexvalue"));
        assert_non_null(seen);
        assert_null(strstr(seen, "0123456789abcdef"));
        assert_non_null(strstr(seen, "reins-cred-my-api_key-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
        assert_non_null(strstr(seen, "reins-cred-x-notahexvalue"));
        /* off: untouched */
        bus.mask_placeholders = false;
        event_emit(&bus, "exec", json_pack("{s:s}", "path", PH));
        assert_non_null(strstr(seen, PH));
        event_bus_fini(&bus);
        free(seen);
        seen = NULL;
}

int main(void)
{
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_placeholders_masked)};
        return cmocka_run_group_tests(tests, NULL, NULL);
}

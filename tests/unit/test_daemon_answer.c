/* The CLI's reading of the daemon's HTTP answers (cli/daemon_client.h) and
 * the query strings it writes (cli/daemon_sessions.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/daemon_client.h"
#include "cli/daemon_sessions.h"

/* Parse `text`; the body as a string (or NULL when refused). */
static char *parse(const char *text, unsigned *status)
{
        char *copy = strdup(text);
        char *body = NULL;
        size_t length = 0;
        int r = daemon_answer_parse(copy, strlen(copy), status, &body, &length);
        char *out = r == 0 ? strndup(body, length) : NULL;
        if (r == 0)
                assert_int_equal(strlen(body), length);
        free(copy);
        return out;
}

static void test_content_length(void **state)
{
        (void)state;
        unsigned status = 0;
        char *body = parse("HTTP/1.1 200 OK\r\ncontent-length:  2 \r\n\r\n[]trailing", &status);
        assert_string_equal(body, "[]");
        assert_int_equal(status, 200);
        free(body);
        body = parse("HTTP/1.0 403 Forbidden\r\nContent-Length: 14\r\n\r\n{\"error\":\"no\"}",
                     &status);
        assert_string_equal(body, "{\"error\":\"no\"}");
        assert_int_equal(status, 403);
        free(body);
        /* fewer bytes than announced: cut short, no answer */
        assert_null(parse("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n[]", &status));
        assert_null(parse("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n[]", &status));
}

static void test_chunked(void **state)
{
        (void)state;
        unsigned status = 0;
        char *body = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "3\r\n[1,\r\na;ext=1\r\n2,3,4,5,6]\r\n0\r\n\r\n",
                           &status);
        assert_string_equal(body, "[1,2,3,4,5,6]");
        free(body);
        /* a chunk larger than what came, a size that is no number, no end */
        assert_null(
            parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\nab\r\n", &status));
        assert_null(
            parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n", &status));
        assert_null(
            parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", &status));
}

static void test_not_http(void **state)
{
        (void)state;
        unsigned status = 0;
        assert_null(parse("", &status));
        assert_null(parse("garbage\r\n\r\n", &status));
        assert_null(parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n[]", &status));
        assert_null(parse("HTTP/2 200 OK\r\n\r\n[]", &status));
        assert_null(parse("HTTP/1.1 999 Odd\r\n\r\n[]", &status));
        /* neither length nor chunks: the rest, up to the close */
        char *body = parse("HTTP/1.1 200 OK\r\n\r\n{}", &status);
        assert_string_equal(body, "{}");
        free(body);
}

static void test_query_escape(void **state)
{
        (void)state;
        char *q = daemon_query_escape("net.deny&limit=1 x/%");
        assert_string_equal(q, "net.deny%26limit%3D1%20x%2F%25");
        free(q);
        char *p = daemon_session_path("abc", "audit/verify");
        assert_string_equal(p, "/v1/sessions/abc/audit/verify");
        free(p);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_content_length),
            cmocka_unit_test(test_chunked),
            cmocka_unit_test(test_not_http),
            cmocka_unit_test(test_query_escape),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

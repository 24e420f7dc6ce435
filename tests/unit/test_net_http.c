/* HTTP request heads: CONNECT and absolute-URI forms, the size limits
 * (414/431), malformed and smuggling-shaped requests (400), and the head
 * rebuilt for upstream without hop-by-hop headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/http.h"

static struct net_http_request req;

static int parse(const char *text, const char **why)
{
        size_t len = strlen(text);
        char *copy = malloc(len ? len : 1); /* exact size: over-reads are caught */
        assert_non_null(copy);
        memcpy(copy, text, len);
        int r = net_http_parse_request(copy, len, &req, why);
        free(copy);
        return r;
}

static void test_connect(void **state)
{
        (void)state;
        const char *why = NULL;
        assert_int_equal(parse("CONNECT API.Example.COM:443 HTTP/1.1\r\nHost: x\r\n\r\nTLS", &why),
                         0);
        assert_int_equal(req.kind, NET_HTTP_CONNECT);
        assert_string_equal(req.host, "api.example.com");
        assert_int_equal(req.port, 443);
        assert_int_equal(req.head_len,
                         strlen("CONNECT API.Example.COM:443 HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert_int_equal(parse("CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n\r\n", &why), 0);
        assert_string_equal(req.host, "2001:db8::1");
        assert_int_equal(req.port, 8443);
}

static void test_forward(void **state)
{
        (void)state;
        const char *why = NULL;
        assert_int_equal(parse("GET http://example.test:8080/a/b?c=d HTTP/1.1\r\nHost: "
                               "example.test:8080\r\nAccept: */*\r\n\r\n",
                               &why),
                         0);
        assert_int_equal(req.kind, NET_HTTP_FORWARD);
        assert_string_equal(req.host, "example.test");
        assert_int_equal(req.port, 8080);
        assert_int_equal(req.path_len, strlen("/a/b?c=d"));
        assert_int_equal(parse("GET http://example.test HTTP/1.0\r\n\r\n", &why), 0);
        assert_int_equal(req.port, 80);
        assert_int_equal(req.path_len, 0);
}

static void test_incomplete(void **state)
{
        (void)state;
        const char *why = NULL;
        const char *full = "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test\r\n\r\n";
        for (size_t n = 0; n < strlen(full); n++) {
                char buf[128];
                memcpy(buf, full, n);
                buf[n] = '\0';
                int r = parse(buf, &why);
                if (r != NET_HTTP_INCOMPLETE)
                        fail_msg("prefix %zu: %d (%s)", n, r, why);
        }
}

static void test_malformed(void **state)
{
        (void)state;
        static const struct {
                const char *text;
                int status;
        } bad[] = {
            {"GET / HTTP/1.1\r\n\r\n", 400},                /* not a proxy request */
            {"GET https://x.test/ HTTP/1.1\r\n\r\n", 400},  /* https needs CONNECT */
            {"CONNECT example.test HTTP/1.1\r\n\r\n", 400}, /* no port */
            {"CONNECT example.test:0 HTTP/1.1\r\n\r\n", 400},
            {"CONNECT example.test:99999 HTTP/1.1\r\n\r\n", 400},
            {"CONNECT user@example.test:443 HTTP/1.1\r\n\r\n", 400},
            {"CONNECT exa_mple..test:443 HTTP/1.1\r\n\r\n", 400},
            {"CONNECT 127.1:443 HTTP/1.1\r\n\r\n", 400}, /* ambiguous numeric */
            {"GET http://a.test@b.test/ HTTP/1.1\r\n\r\n", 400},
            {"CONNECT example.test:443 HTTP/2.0\r\n\r\n", 400},
            {"CONNECT example.test:443 HTTP/1.1\n\n", 400}, /* bare LF */
            {"CONNECT example.test:443 HTTP/1.1\r\nX: a\rb\r\n\r\n", 400},
            {"CONNECT example.test:443 HTTP/1.1\r\n folded\r\n\r\n", 400},
            {"CONNECT example.test:443 HTTP/1.1\r\nBad Name: x\r\n\r\n", 400},
            {"CONNECT example.test:443 HTTP/1.1\r\n: x\r\n\r\n", 400},
            {"GET http://x.test/ HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: "
             "chunked\r\n\r\n",
             400},
            {"GET http://x.test/ HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
            {"GET http://x.test/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
            {"GET http://x.test/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400},
            {"G(T http://x.test/ HTTP/1.1\r\n\r\n", 400},
            {"\x16\x03\x01\x00\x10 garbage\r\n\r\n", 400},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                const char *why = NULL;
                int r = parse(bad[i].text, &why);
                if (r != bad[i].status)
                        fail_msg("#%zu '%s': %d, expected %d", i, bad[i].text, r, bad[i].status);
                assert_non_null(why);
        }
}

static void test_limits(void **state)
{
        (void)state;
        const char *why = NULL;
        size_t big = NET_HTTP_HEAD_MAX + 4096;
        char *buf = malloc(big + 1);
        assert_non_null(buf);

        /* a request line over the limit: 414 */
        int n = snprintf(buf, big, "GET http://x.test/");
        memset(buf + n, 'a', NET_HTTP_LINE_MAX + 10);
        buf[n + NET_HTTP_LINE_MAX + 10] = '\0';
        assert_int_equal(parse(buf, &why), 414);

        /* one header line over the limit: 431 */
        n = snprintf(buf, big, "GET http://x.test/ HTTP/1.1\r\nX-Big: ");
        memset(buf + n, 'b', NET_HTTP_LINE_MAX + 10);
        buf[n + NET_HTTP_LINE_MAX + 10] = '\0';
        assert_int_equal(parse(buf, &why), 431);

        /* too many fields: 431 */
        n = snprintf(buf, big, "GET http://x.test/ HTTP/1.1\r\n");
        for (int i = 0; i <= NET_HTTP_HEADERS_MAX; i++)
                n += snprintf(buf + n, big - (size_t)n, "X-%d: y\r\n", i);
        snprintf(buf + n, big - (size_t)n, "\r\n");
        assert_int_equal(parse(buf, &why), 431);

        /* a head that never ends within the limit: 431 */
        n = snprintf(buf, big, "GET http://x.test/ HTTP/1.1\r\n");
        while ((size_t)n < NET_HTTP_HEAD_MAX + 100)
                n += snprintf(buf + n, big - (size_t)n, "X-Long-Header-Name: %0100d\r\n", 7);
        assert_int_equal(parse(buf, &why), 431);

        /* a host name over 253 characters: 400 */
        n = snprintf(buf, big, "CONNECT ");
        for (int i = 0; i < 5; i++)
                n += snprintf(buf + n, big - (size_t)n, "%060d.", i);
        snprintf(buf + n, big - (size_t)n, "test:443 HTTP/1.1\r\n\r\n");
        assert_int_equal(parse(buf, &why), 400);
        free(buf);
}

static void test_forward_head_drops_hop_by_hop(void **state)
{
        (void)state;
        const char *why = NULL;
        const char *text = "POST http://example.test:8080/up?x=1 HTTP/1.1\r\n"
                           "Host: evil.test\r\n"
                           "Proxy-Authorization: Basic c2VjcmV0\r\n"
                           "Proxy-Connection: keep-alive\r\n"
                           "Connection: keep-alive, X-Secret-Hop\r\n"
                           "X-Secret-Hop: 1\r\n"
                           "Keep-Alive: timeout=5\r\n"
                           "TE: trailers\r\n"
                           "Trailer: X-T\r\n"
                           "Upgrade: websocket\r\n"
                           "Transfer-Encoding: chunked\r\n"
                           "User-Agent: t\r\n\r\n";
        char *copy = strdup(text);
        assert_int_equal(net_http_parse_request(copy, strlen(copy), &req, &why), 0);
        char *head = NULL;
        size_t len = 0;
        assert_int_equal(net_http_forward_head(&req, &head, &len), 0);
        char *s = strndup(head, len);
        assert_string_equal(s, "POST /up?x=1 HTTP/1.1\r\n"
                               "Host: example.test:8080\r\n"
                               "Transfer-Encoding: chunked\r\n"
                               "User-Agent: t\r\n"
                               "Connection: close\r\n\r\n");
        free(s);
        free(head);
        free(copy);

        copy = strdup("GET http://[::1]/ HTTP/1.1\r\n\r\n");
        assert_int_equal(net_http_parse_request(copy, strlen(copy), &req, &why), 0);
        assert_int_equal(net_http_forward_head(&req, &head, &len), 0);
        s = strndup(head, len);
        assert_string_equal(s, "GET / HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n");
        free(s);
        free(head);
        free(copy);
}

static void test_response(void **state)
{
        (void)state;
        char out[256];
        size_t n = net_http_response(403, "reins: denied\n", out, sizeof(out));
        out[n] = '\0';
        assert_non_null(strstr(out, "HTTP/1.1 403 Forbidden\r\n"));
        assert_non_null(strstr(out, "Content-Length: 14\r\n"));
        assert_non_null(strstr(out, "\r\n\r\nreins: denied\n"));
        char small[16];
        n = net_http_response(502, "x", small, sizeof(small));
        assert_true(n < sizeof(small));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_connect),    cmocka_unit_test(test_forward),
            cmocka_unit_test(test_incomplete), cmocka_unit_test(test_malformed),
            cmocka_unit_test(test_limits),     cmocka_unit_test(test_forward_head_drops_hop_by_hop),
            cmocka_unit_test(test_response),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

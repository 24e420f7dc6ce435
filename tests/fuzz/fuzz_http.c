/* HTTP/1.x request heads as the proxy reads them from the sandbox
 * (net_http_parse_request), and the head it rebuilds for upstream from the
 * parsed fields (net_http_forward_head). Beyond memory safety: a parsed head
 * lies inside the buffer, and the rebuilt head is one well-formed head (no
 * bare CR or LF, no early blank line), so the agent cannot smuggle a second
 * request or a header past the proxy. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "net/http.h"

static void check_forward_head(const struct net_http_request *req)
{
        char *head = NULL;
        size_t length = 0;
        FUZZ_CHECK(net_http_forward_head(req, &head, &length) == 0);
        FUZZ_CHECK(length >= 4 && memcmp(head + length - 4, "\r\n\r\n", 4) == 0);
        for (size_t i = 0; i < length; i++) {
                FUZZ_CHECK(head[i] != '\0');
                if (head[i] == '\n')
                        FUZZ_CHECK(i > 0 && head[i - 1] == '\r');
                if (head[i] == '\r')
                        FUZZ_CHECK(i + 1 < length && head[i + 1] == '\n');
        }
        /* the first blank line is the end of the head */
        char *blank = memmem(head, length, "\r\n\r\n", 4);
        FUZZ_CHECK(blank && (size_t)(blank - head) + 4 == length);
        free(head);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* an exact copy: ASan sees a read one byte past the end */
        char *buf = malloc(size ? size : 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        struct net_http_request *req = malloc(sizeof(*req));
        const char *why = NULL;
        int r = req ? net_http_parse_request(buf, size, req, &why) : -1;
        if (r == 0) {
                FUZZ_CHECK(req->head_len <= size);
                FUZZ_CHECK(memchr(req->host, '\0', sizeof(req->host)) != NULL);
                FUZZ_CHECK(req->header_count <= NET_HTTP_HEADERS_MAX);
                for (size_t i = 0; i < req->header_count; i++) {
                        const struct net_http_header *h = &req->headers[i];
                        FUZZ_CHECK(h->name >= buf && h->name + h->name_len <= buf + req->head_len);
                        FUZZ_CHECK(h->value >= buf &&
                                   h->value + h->value_len <= buf + req->head_len);
                }
                if (req->kind == NET_HTTP_FORWARD) {
                        FUZZ_CHECK(
                            req->path_len == 0 ||
                            (req->path >= buf && req->path + req->path_len <= buf + req->head_len));
                        check_forward_head(req);
                }
                /* the head alone parses the same: what follows it (a body, a
                 * TLS hello) does not change what was decided */
                struct net_http_request *again = malloc(sizeof(*again));
                if (again) {
                        FUZZ_CHECK(net_http_parse_request(buf, req->head_len, again, &why) == 0);
                        FUZZ_CHECK(again->kind == req->kind && again->port == req->port &&
                                   strcmp(again->host, req->host) == 0 &&
                                   again->header_count == req->header_count);
                        free(again);
                }
        } else if (r != NET_HTTP_INCOMPLETE && r > 0) {
                FUZZ_CHECK(r == 400 || r == 414 || r == 431);
                FUZZ_CHECK(why != NULL);
        }
        free(req);
        free(buf);
        return 0;
}

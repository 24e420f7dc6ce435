/* The HTTP/2 glue of credential injection (net/h2head.h): a request's
 * header fields (as nghttp2 hands them over, from the agent) turned into the
 * HTTP/1.1 head that net_inject_rewrite judges, and the rewritten head
 * turned back into fields for the upstream. Beyond memory safety: a head
 * built is one well-formed head (CRLF only, its single blank line at the
 * end) whose request line carries the input's :method and :path; fields
 * read back hold no CR, LF or NUL, lower-case names, no hop-by-hop field,
 * and the same :method and :path. The input: fields one a line, NAME:VALUE
 * split at the first ':' after the first byte (so ":path:/x" is :path);
 * the whole input is also read as a head. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "net/h2head.h"
#include "net/http.h"

static bool field_is(const struct net_h2_field *f, const char *name)
{
        return f->name_len == strlen(name) && memcmp(f->name, name, f->name_len) == 0;
}

static const struct net_h2_field *find(const struct net_h2_field *fields, size_t n,
                                       const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (field_is(&fields[i], name))
                        return &fields[i];
        return NULL;
}

static bool same(const struct net_h2_field *a, const struct net_h2_field *b)
{
        return a && b && a->value_len == b->value_len &&
               memcmp(a->value, b->value, a->value_len) == 0;
}

static void check_fields(const struct net_h2_field *fields, int n)
{
        for (int i = 0; i < n; i++) {
                const struct net_h2_field *f = &fields[i];
                FUZZ_CHECK(f->name_len > 0);
                for (size_t k = 0; k < f->name_len; k++)
                        FUZZ_CHECK(!(f->name[k] >= 'A' && f->name[k] <= 'Z') &&
                                   f->name[k] != '\r' && f->name[k] != '\n' && f->name[k] != 0);
                for (size_t k = 0; k < f->value_len; k++)
                        FUZZ_CHECK(f->value[k] != '\r' && f->value[k] != '\n' && f->value[k] != 0);
                FUZZ_CHECK(!field_is(f, "connection") && !field_is(f, "transfer-encoding") &&
                           !field_is(f, "upgrade") && !field_is(f, "keep-alive") &&
                           !field_is(f, "proxy-connection") && !field_is(f, "host"));
        }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 2 * NET_HTTP_HEAD_MAX)
                return 0;
        struct net_h2_field in[NET_H2_FIELDS_MAX];
        size_t count = 0;
        for (size_t at = 0; at < size && count < NET_H2_FIELDS_MAX;) {
                const uint8_t *line = data + at;
                const uint8_t *nl = memchr(line, '\n', size - at);
                size_t len = nl ? (size_t)(nl - line) : size - at;
                at += len + 1;
                const uint8_t *colon = len > 1 ? memchr(line + 1, ':', len - 1) : NULL;
                if (!colon)
                        continue;
                in[count++] = (struct net_h2_field){.name = line,
                                                    .name_len = (size_t)(colon - line),
                                                    .value = colon + 1,
                                                    .value_len = len - (size_t)(colon - line) - 1};
        }
        char *head = malloc(NET_HTTP_HEAD_MAX + 1);
        struct net_h2_field back[NET_H2_FIELDS_MAX];
        if (!head)
                return 0;
        int len = net_h2_head_from_fields(in, count, head, NET_HTTP_HEAD_MAX + 1);
        FUZZ_CHECK(len >= 0 || len == -EINVAL || len == -E2BIG);
        if (len >= 0) {
                size_t n = (size_t)len;
                FUZZ_CHECK(n >= 4 && memcmp(head + n - 4, "\r\n\r\n", 4) == 0 && head[n] == 0);
                FUZZ_CHECK(memmem(head, n, "\r\n\r\n", 4) == head + n - 4);
                for (size_t i = 0; i < n; i++) {
                        FUZZ_CHECK(head[i] != '\0');
                        if (head[i] == '\n')
                                FUZZ_CHECK(i > 0 && head[i - 1] == '\r');
                        if (head[i] == '\r')
                                FUZZ_CHECK(i + 1 < n && head[i + 1] == '\n');
                }
                int m = net_h2_fields_from_head(head, n, back, NET_H2_FIELDS_MAX);
                FUZZ_CHECK(m >= 0 || m == -E2BIG || m == -EINVAL);
                if (m >= 0) {
                        check_fields(back, m);
                        FUZZ_CHECK(
                            same(find(in, count, ":method"), find(back, (size_t)m, ":method")));
                        FUZZ_CHECK(same(find(in, count, ":path"), find(back, (size_t)m, ":path")));
                }
        }
        /* the input as a head (what net_inject_rewrite hands back) */
        size_t n = size < NET_HTTP_HEAD_MAX ? size : NET_HTTP_HEAD_MAX;
        memcpy(head, data, n);
        int m = net_h2_fields_from_head(head, n, back, NET_H2_FIELDS_MAX);
        if (m >= 0)
                check_fields(back, m);
        free(head);
        return 0;
}

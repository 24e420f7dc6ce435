/* HTTP/2 request fields <-> HTTP/1.1 head (h2head.h). */
#include "net/h2head.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

static bool is(const struct net_h2_field *f, const char *name)
{
        size_t n = strlen(name);
        return f->name_len == n && memcmp(f->name, name, n) == 0;
}

/* bytes that may stand in a field without changing the head's framing */
static bool clean(const uint8_t *p, size_t n, bool name)
{
        for (size_t i = 0; i < n; i++) {
                uint8_t c = p[i];
                if (c == '\r' || c == '\n' || c == '\0')
                        return false;
                if (name && (c == ':' || c == ' ' || c == '\t' || c < 0x21 || c == 0x7f))
                        return false;
        }
        return true;
}

struct sink {
        char *out;
        size_t size, len;
        bool full;
};

static void put(struct sink *s, const void *p, size_t n)
{
        if (s->full || s->size - s->len <= n) { /* one byte kept for the NUL */
                s->full = true;
                return;
        }
        memcpy(s->out + s->len, p, n);
        s->len += n;
}

int net_h2_head_from_fields(const struct net_h2_field *fields, size_t count, char *out, size_t size)
{
        const struct net_h2_field *method = NULL, *path = NULL, *authority = NULL;
        bool host = false;
        for (size_t i = 0; i < count; i++) {
                const struct net_h2_field *f = &fields[i];
                if (!clean(f->value, f->value_len, false))
                        return -EINVAL;
                if (f->name_len && f->name[0] == ':') {
                        const struct net_h2_field **slot = is(f, ":method")      ? &method
                                                           : is(f, ":path")      ? &path
                                                           : is(f, ":authority") ? &authority
                                                                                 : NULL;
                        if (slot && *slot)
                                return -EINVAL; /* twice */
                        if (slot)
                                *slot = f;
                        else if (!is(f, ":scheme"))
                                return -EINVAL; /* :protocol (extended CONNECT), unknown */
                        continue;
                }
                if (!f->name_len || !clean(f->name, f->name_len, true))
                        return -EINVAL;
                if (is(f, "host"))
                        host = true;
        }
        if (!method || !path || !method->value_len || !path->value_len ||
            !clean(method->value, method->value_len, true) ||
            memchr(path->value, ' ', path->value_len) || memchr(path->value, '\t', path->value_len))
                return -EINVAL;
        if (method->value_len == 7 && memcmp(method->value, "CONNECT", 7) == 0)
                return -EINVAL;
        if (size == 0)
                return -E2BIG;
        struct sink s = {.out = out, .size = size};
        put(&s, method->value, method->value_len);
        put(&s, " ", 1);
        put(&s, path->value, path->value_len);
        put(&s, " HTTP/1.1\r\n", 11);
        if (authority && !host) {
                put(&s, "Host: ", 6);
                put(&s, authority->value, authority->value_len);
                put(&s, "\r\n", 2);
        }
        for (size_t i = 0; i < count; i++) {
                const struct net_h2_field *f = &fields[i];
                if (f->name[0] == ':')
                        continue;
                put(&s, f->name, f->name_len);
                put(&s, ": ", 2);
                put(&s, f->value, f->value_len);
                put(&s, "\r\n", 2);
        }
        put(&s, "\r\n", 2);
        if (s.full)
                return -E2BIG;
        out[s.len] = '\0';
        return (int)s.len;
}

static bool hop_by_hop(const char *name, size_t n, const char *value, size_t vn)
{
        static const char *const drop[] = {"connection", "keep-alive", "proxy-connection",
                                           "transfer-encoding", "upgrade"};
        for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
                if (strlen(drop[i]) == n && strncmp(name, drop[i], n) == 0)
                        return true;
        if (n == 2 && strncmp(name, "te", 2) == 0)
                return !(vn == 8 && strncasecmp(value, "trailers", 8) == 0);
        return false;
}

static int add(struct net_h2_field *out, size_t max, size_t *count, const char *name,
               size_t name_len, const char *value, size_t value_len)
{
        if (*count >= max)
                return -E2BIG;
        out[*count] = (struct net_h2_field){.name = (const uint8_t *)name,
                                            .name_len = name_len,
                                            .value = (const uint8_t *)value,
                                            .value_len = value_len};
        (*count)++;
        return 0;
}

int net_h2_fields_from_head(char *head, size_t len, struct net_h2_field *out, size_t max)
{
        /* CRLF line ends only; no NUL (rewritten heads are so already) */
        for (size_t i = 0; i < len; i++)
                if (head[i] == '\0' || (head[i] == '\r' && (i + 1 == len || head[i + 1] != '\n')) ||
                    (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')))
                        return -EINVAL;
        char *end = head + len;
        char *eol = memmem(head, len, "\r\n", 2);
        if (!eol)
                return -EINVAL;
        /* METHOD SP TARGET SP VERSION */
        char *sp1 = memchr(head, ' ', (size_t)(eol - head));
        char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
        if (!sp1 || !sp2 || sp1 == head || sp2 == sp1 + 1)
                return -EINVAL;
        size_t count = 0;
        int rc;
        if ((rc = add(out, max, &count, ":method", 7, head, (size_t)(sp1 - head))) < 0 ||
            (rc = add(out, max, &count, ":scheme", 7, "https", 5)) < 0)
                return rc;
        size_t authority_at = count;
        if ((rc = add(out, max, &count, ":authority", 10, "", 0)) < 0 ||
            (rc = add(out, max, &count, ":path", 5, sp1 + 1, (size_t)(sp2 - sp1 - 1))) < 0)
                return rc;
        bool have_authority = false;
        for (char *line = eol + 2; line < end;) {
                char *next = memmem(line, (size_t)(end - line), "\r\n", 2);
                if (!next)
                        return -EINVAL;
                if (next == line)
                        break; /* the empty line */
                char *colon = memchr(line, ':', (size_t)(next - line));
                if (!colon || colon == line)
                        return -EINVAL;
                for (char *p = line; p < colon; p++) {
                        if (*p == ' ' || *p == '\t' || (unsigned char)*p < 0x21)
                                return -EINVAL;
                        if (*p >= 'A' && *p <= 'Z')
                                *p = (char)(*p - 'A' + 'a');
                }
                char *v = colon + 1, *ve = next;
                while (v < ve && (*v == ' ' || *v == '\t'))
                        v++;
                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                        ve--;
                size_t n = (size_t)(colon - line), vn = (size_t)(ve - v);
                line = next + 2;
                if (n == 4 && memcmp(colon - n, "host", 4) == 0) {
                        if (have_authority)
                                return -EINVAL; /* two Host fields */
                        have_authority = true;
                        out[authority_at].value = (const uint8_t *)v;
                        out[authority_at].value_len = vn;
                        continue;
                }
                if (hop_by_hop(colon - n, n, v, vn))
                        continue;
                if ((rc = add(out, max, &count, colon - n, n, v, vn)) < 0)
                        return rc;
        }
        if (!have_authority) { /* no Host: no :authority */
                memmove(&out[authority_at], &out[authority_at + 1],
                        (count - authority_at - 1) * sizeof(out[0]));
                count--;
        }
        return (int)count;
}

/* Credential injection: the pure part (inject.h). */
#include "net/inject.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "net/http.h"
#include "util/weaken.h"

static int parse_host(const char *name, const char *pattern, struct net_inject_host *h,
                      struct reins_error *err)
{
        const char *slash = strchr(pattern, '/');
        size_t host_len = slash ? (size_t)(slash - pattern) : strlen(pattern);
        char text[NET_HOST_MAX + 16];
        if (host_len >= sizeof(text) || (slash && strlen(slash) >= NET_INJECT_PATH_MAX))
                return reins_error_set(err, EINVAL, "%s: host '%s' too long", name, pattern);
        memcpy(text, pattern, host_len);
        text[host_len] = '\0';
        const char *why = NULL;
        if (net_rule_parse(text, &h->rule, &why) < 0)
                return reins_error_set(err, EINVAL, "%s: host '%s': %s", name, pattern, why);
        if (h->rule.kind == NET_RULE_ANY)
                return reins_error_set(err, EINVAL, "%s: '*' would mean every host", name);
        snprintf(h->path, sizeof(h->path), "%s", slash ? slash : "");
        return 0;
}

int net_inject_add_identity(struct net_inject *inject, const char *const *hosts, size_t count,
                            struct reins_error *err)
{
        if (count > NET_INJECT_HOSTS_MAX)
                return reins_error_set(err, E2BIG, "identity.hosts: more than %d",
                                       NET_INJECT_HOSTS_MAX);
        for (size_t i = 0; i < count; i++) {
                int r = parse_host("identity.hosts", hosts[i], &inject->identity[i], err);
                if (r < 0)
                        return r;
        }
        inject->identity_count = count;
        return 0;
}

int net_inject_add(struct net_inject *inject, const char *name, const char *placeholder,
                   const char *secret, size_t secret_len, const char *const *hosts,
                   size_t host_count, enum net_inject_how how, const char *how_name, bool plaintext,
                   size_t jwt_prefix, struct reins_error *err)
{
        if (inject->count >= NET_INJECT_MAX)
                return reins_error_set(err, E2BIG, "credentials: more than %d", NET_INJECT_MAX);
        if (strlen(name) > NET_INJECT_NAME_MAX || strlen(placeholder) >= NET_INJECT_PLACEHOLDER_MAX)
                return reins_error_set(err, EINVAL, "credential '%s': name too long", name);
        if (secret_len == 0 || secret_len > NET_INJECT_SECRET_MAX)
                return reins_error_set(err, EINVAL,
                                       "credential '%s': the secret is empty or over %d bytes",
                                       name, NET_INJECT_SECRET_MAX);
        /* a CR or LF would end the header and start another one of the
         * secret's choosing: request splitting */
        for (size_t i = 0; i < secret_len; i++)
                if (secret[i] == '\r' || secret[i] == '\n' || secret[i] == '\0')
                        return reins_error_set(err, EINVAL,
                                               "credential '%s': the secret holds a line break "
                                               "or NUL byte",
                                               name);
        if (host_count == 0 || host_count > NET_INJECT_HOSTS_MAX)
                return reins_error_set(err, EINVAL, "credential '%s': 1 to %d hosts", name,
                                       NET_INJECT_HOSTS_MAX);
        struct net_inject_credential *c = &inject->items[inject->count];
        memset(c, 0, sizeof(*c));
        for (size_t i = 0; i < host_count; i++) {
                const char *slash = strchr(hosts[i], '/');
                size_t host_len = slash ? (size_t)(slash - hosts[i]) : strlen(hosts[i]);
                char text[NET_HOST_MAX + 16];
                if (host_len >= sizeof(text) || (slash && strlen(slash) >= NET_INJECT_PATH_MAX))
                        return reins_error_set(err, EINVAL, "credential '%s': host '%s' too long",
                                               name, hosts[i]);
                memcpy(text, hosts[i], host_len);
                text[host_len] = '\0';
                const char *why = NULL;
                struct net_inject_host *h = &c->hosts[i];
                if (net_rule_parse(text, &h->rule, &why) < 0)
                        return reins_error_set(err, EINVAL, "credential '%s': host '%s': %s", name,
                                               hosts[i], why);
                if (h->rule.kind == NET_RULE_ANY)
                        return reins_error_set(
                            err, EINVAL, "credential '%s': '*' would send it to every host", name);
                snprintf(h->path, sizeof(h->path), "%s", slash ? slash : "");
        }
        c->secret = net_secret_alloc(secret_len + 1);
        if (!c->secret)
                return reins_error_set(err, ENOMEM, "out of memory");
        memcpy(c->secret, secret, secret_len);
        c->secret[secret_len] = '\0';
        c->secret_len = secret_len;
        c->swap = c->secret + (jwt_prefix < secret_len ? jwt_prefix : 0);
        c->swap_len = secret_len - (size_t)(c->swap - c->secret);
        snprintf(c->name, sizeof(c->name), "%s", name);
        snprintf(c->placeholder, sizeof(c->placeholder), "%s", placeholder);
        c->placeholder_len = strlen(c->placeholder);
        c->host_count = host_count;
        c->how = how;
        snprintf(c->how_name, sizeof(c->how_name), "%s", how_name ? how_name : "");
        c->plaintext = plaintext;
        inject->count++;
        return 0;
}

static bool is_base64url(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_';
}

size_t net_inject_jwt_prefix(const char *secret, size_t len)
{
        /* "eyJ" is base64url of '{"': a JSON header */
        if (len < 8 || strncmp(secret, "eyJ", 3) != 0)
                return 0;
        size_t dots = 0, second = 0;
        for (size_t i = 0; i < len; i++) {
                if (secret[i] == '.') {
                        if (++dots == 2)
                                second = i;
                        if (dots > 2 || i == 0 || secret[i - 1] == '.')
                                return 0;
                } else if (!is_base64url(secret[i]) && secret[i] != '=') {
                        return 0;
                }
        }
        return dots == 2 && second + 1 < len ? second + 1 : 0;
}

void net_inject_clear(struct net_inject *inject)
{
        for (size_t i = 0; i < inject->count; i++) {
                struct net_inject_credential *c = &inject->items[i];
                net_secret_free(c->secret, c->secret_len + 1);
                c->secret = NULL;
        }
        inject->count = 0;
}

/* Secrets live in pages of their own, never inherited by a fork
 * (MADV_DONTFORK: the sandbox's pid 1 and every process it forks get no
 * copy, whatever else of the supervisor's memory they hold) nor dumped. */
void *net_secret_alloc(size_t size)
{
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        size_t length = (size + page - 1) / page * page;
        void *p = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return NULL;
        if (madvise(p, length, MADV_DONTFORK) < 0) { /* fail closed */
                munmap(p, length);
                return NULL;
        }
        madvise(p, length, MADV_DONTDUMP);
        return p;
}

void net_secret_free(void *p, size_t size)
{
        if (!p)
                return;
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        sodium_memzero(p, size);
        munmap(p, (size + page - 1) / page * page);
}

static bool host_matches(const struct net_inject_host *h, const char *host, uint16_t port, bool tls)
{
        static const uint16_t https[] = {443}, http[] = {80};
        return net_rule_matches(&h->rule, host, port, tls ? https : http, 1);
}

bool net_inject_terminates(const struct net_inject *inject, const char *host, uint16_t port)
{
        for (size_t j = 0; inject && j < inject->identity_count; j++)
                if (host_matches(&inject->identity[j], host, port, true))
                        return true;
        for (size_t i = 0; inject && i < inject->count; i++)
                for (size_t j = 0; j < inject->items[i].host_count; j++)
                        if (host_matches(&inject->items[i].hosts[j], host, port, true))
                                return true;
        return false;
}

int net_inject_find_placeholder(const struct net_inject *inject, const void *bytes, size_t len)
{
        for (size_t i = 0; inject && i < inject->count; i++)
                if (memmem(bytes, len, inject->items[i].placeholder,
                           inject->items[i].placeholder_len))
                        return (int)i;
        return -1;
}

/* A path the server could read as another one: "..", "." segments and their
 * percent-encodings, encoded slashes, backslashes. Under a path-prefix
 * credential, "/v1/../admin" must not count as under /v1/. */
static bool path_is_ambiguous(const char *path, size_t len)
{
        for (size_t i = 0; i < len; i++) {
                if (path[i] == '\\')
                        return true;
                if (path[i] == '%' && i + 2 < len &&
                    (strncasecmp(path + i, "%2e", 3) == 0 || strncasecmp(path + i, "%2f", 3) == 0 ||
                     strncasecmp(path + i, "%5c", 3) == 0))
                        return true;
                if (path[i] == '/' && i + 1 < len && path[i + 1] == '.') {
                        size_t dots = i + 2 < len && path[i + 2] == '.' ? 2 : 1;
                        size_t after = i + 1 + dots;
                        if (after == len || path[after] == '/')
                                return true;
                }
        }
        return false;
}

static bool path_matches(const char *prefix, const char *path, size_t len)
{
        size_t plen = strlen(prefix);
        if (plen == 0)
                return true;
        if (path_is_ambiguous(path, len) || len < plen || memcmp(path, prefix, plen) != 0)
                return false;
        return prefix[plen - 1] == '/' || len == plen || path[plen] == '/';
}

/* Does credential c go into a request for host:port with this path? */
static bool credential_applies(const struct net_inject_credential *c, const char *host,
                               uint16_t port, bool tls, const char *path, size_t path_len)
{
        if (!tls && !c->plaintext)
                return false;
        for (size_t j = 0; j < c->host_count; j++)
                if (host_matches(&c->hosts[j], host, port, tls) &&
                    path_matches(c->hosts[j].path, path, path_len))
                        return true;
        return false;
}

/* ---- a growable output buffer ---- */

struct out_buf {
        char *data;
        size_t len, cap;
        bool failed;
};

static void out_put(struct out_buf *b, const void *bytes, size_t n)
{
        if (b->failed)
                return;
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 1024;
                while (cap < b->len + n + 1)
                        cap *= 2;
                char *grown = realloc(b->data, cap);
                if (!grown) {
                        b->failed = true;
                        return;
                }
                b->data = grown;
                b->cap = cap;
        }
        memcpy(b->data + b->len, bytes, n);
        b->len += n;
}

static void out_str(struct out_buf *b, const char *s)
{
        out_put(b, s, strlen(s));
}

static void out_pct(struct out_buf *b, const char *s, size_t n)
{
        static const char hex[] = "0123456789ABCDEF";
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9') || strchr("-._~", c);
                if (plain && c) {
                        out_put(b, s + i, 1);
                } else {
                        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
                        out_put(b, e, 3);
                }
        }
}

/* `text` with every placeholder of an applying credential replaced by its
 * secret (percent-encoded in a request-target). */
static void out_swapped(struct out_buf *b, const struct net_inject *inject, uint32_t applies,
                        const char *text, size_t n, bool encode)
{
        size_t i = 0;
        while (i < n) {
                bool swapped = false;
                if (text[i] == 'r') {
                        for (size_t k = 0; k < inject->count && !swapped; k++) {
                                const struct net_inject_credential *c = &inject->items[k];
                                if (!(applies & (1u << k)) || n - i < c->placeholder_len ||
                                    memcmp(text + i, c->placeholder, c->placeholder_len) != 0)
                                        continue;
                                if (encode)
                                        out_pct(b, c->swap, c->swap_len);
                                else
                                        out_put(b, c->swap, c->swap_len);
                                i += c->placeholder_len;
                                swapped = true;
                        }
                }
                if (!swapped)
                        out_put(b, text + i++, 1);
        }
}

/* ---- the head ---- */

static bool is_tchar(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool name_is(const char *name, size_t len, const char *word)
{
        return strlen(word) == len && strncasecmp(name, word, len) == 0;
}

static int refuse(struct net_inject_report *r, int status, const char *why)
{
        r->status = status;
        r->why = why;
        return 0;
}

/* Headers the proxy never forwards from the agent: hop-by-hop ones, which
 * are about the agent's connection to the proxy (and Upgrade would leave
 * HTTP, and the rewriting, behind). */
static bool is_dropped(const char *name, size_t len)
{
        return name_is(name, len, "keep-alive") || name_is(name, len, "proxy-connection") ||
               name_is(name, len, "proxy-authorization") || name_is(name, len, "te") ||
               name_is(name, len, "upgrade") || name_is(name, len, "trailer") ||
               name_is(name, len, "connection");
}

/* The header (or query parameter) credential c sets: the one whose value the
 * client sent is removed, whatever it held. */
static bool is_credential_header(const struct net_inject_credential *c, const char *name,
                                 size_t len)
{
        switch (c->how) {
        case NET_INJECT_BEARER:
        case NET_INJECT_BASIC:
                return name_is(name, len, "authorization");
        case NET_INJECT_HEADER:
                return name_is(name, len, c->how_name);
        case NET_INJECT_QUERY:
        case NET_INJECT_SWAP:
                return false;
        }
        return false;
}

static void out_credential_header(struct out_buf *b, const struct net_inject_credential *c)
{
        switch (c->how) {
        case NET_INJECT_BEARER:
                out_str(b, "Authorization: Bearer ");
                out_put(b, c->secret, c->secret_len);
                break;
        case NET_INJECT_BASIC: {
                size_t size =
                    sodium_base64_ENCODED_LEN(c->secret_len, sodium_base64_VARIANT_ORIGINAL);
                char *encoded = malloc(size);
                if (!encoded) {
                        b->failed = true;
                        return;
                }
                sodium_bin2base64(encoded, size, (const unsigned char *)c->secret, c->secret_len,
                                  sodium_base64_VARIANT_ORIGINAL);
                out_str(b, "Authorization: Basic ");
                out_str(b, encoded);
                sodium_memzero(encoded, size);
                free(encoded);
                break;
        }
        case NET_INJECT_HEADER:
                out_str(b, c->how_name);
                out_str(b, ": ");
                out_put(b, c->secret, c->secret_len);
                break;
        case NET_INJECT_QUERY:
        case NET_INJECT_SWAP:
                return;
        }
        out_str(b, "\r\n");
}

/* The query without the parameters the applying QUERY credentials set, then
 * theirs. `query` excludes the '?'. */
static void out_query(struct out_buf *b, const struct net_inject *inject, uint32_t applies,
                      const char *query, size_t n, bool has_query)
{
        bool first = true;
        size_t i = 0;
        while (has_query && i <= n) {
                size_t end = i;
                while (end < n && query[end] != '&')
                        end++;
                size_t key_len = 0;
                while (i + key_len < end && query[i + key_len] != '=')
                        key_len++;
                bool drop = false;
                for (size_t k = 0; k < inject->count && !drop; k++)
                        drop = (applies & (1u << k)) && inject->items[k].how == NET_INJECT_QUERY &&
                               strlen(inject->items[k].how_name) == key_len &&
                               memcmp(inject->items[k].how_name, query + i, key_len) == 0;
                if (!drop && end > i) {
                        out_str(b, first ? "?" : "&");
                        out_swapped(b, inject, applies, query + i, end - i, true);
                        first = false;
                }
                i = end + 1;
        }
        for (size_t k = 0; k < inject->count; k++) {
                const struct net_inject_credential *c = &inject->items[k];
                if (!(applies & (1u << k)) || c->how != NET_INJECT_QUERY)
                        continue;
                out_str(b, first ? "?" : "&");
                out_pct(b, c->how_name, strlen(c->how_name));
                out_str(b, "=");
                out_pct(b, c->secret, c->secret_len);
                first = false;
        }
}

/* The host of a Host header value, without a port or IPv6 brackets, equal
 * to the tunnel's host (case-insensitive)? */
static bool host_header_matches(const char *value, size_t n, const char *host)
{
        size_t end = n;
        if (n && value[0] == '[') {
                const char *close = memchr(value, ']', n);
                if (!close)
                        return false;
                value++;
                end = (size_t)(close - value);
        } else {
                const char *colon = memchr(value, ':', n);
                if (colon)
                        end = (size_t)(colon - value);
        }
        if (end && value[end - 1] == '.')
                end--;
        return strlen(host) == end && strncasecmp(value, host, end) == 0;
}

struct head_line {
        const char *name, *value;
        size_t name_len, value_len;
};

int net_inject_rewrite(const struct net_inject *inject, const char *host, uint16_t port, bool tls,
                       const char *in, size_t len, char **out, size_t *out_len,
                       struct net_inject_report *r)
{
        memset(r, 0, sizeof(*r));
        r->misuse = -1;
        *out = NULL;
        *out_len = 0;
        size_t scan = len < NET_HTTP_HEAD_MAX ? len : NET_HTTP_HEAD_MAX;
        const char *end = memmem(in, scan, "\r\n\r\n", 4);
        if (!end)
                return len >= NET_HTTP_HEAD_MAX ? refuse(r, 431, "request head too large")
                                                : NET_HTTP_INCOMPLETE;
        size_t head_len = (size_t)(end - in) + 4;
        r->head_len = head_len;
        /* CR only before LF, LF only after CR, no NUL: one reading of the head */
        for (size_t i = 0; i < head_len; i++) {
                if (in[i] == '\0' || (in[i] == '\r' && in[i + 1] != '\n') ||
                    (in[i] == '\n' && (i == 0 || in[i - 1] != '\r')))
                        return refuse(r, 400, "bare CR, LF or NUL in the request head");
        }
        /* request line */
        const char *line_end = memmem(in, head_len, "\r\n", 2);
        const char *sp1 = memchr(in, ' ', (size_t)(line_end - in));
        if (!sp1 || sp1 == in || (size_t)(sp1 - in) >= sizeof(r->method))
                return refuse(r, 400, "bad request line");
        for (const char *p = in; p < sp1; p++)
                if (!is_tchar(*p))
                        return refuse(r, 400, "bad method");
        memcpy(r->method, in, (size_t)(sp1 - in));
        const char *target = sp1 + 1;
        const char *sp2 = memchr(target, ' ', (size_t)(line_end - target));
        if (!sp2 || sp2 == target || target[0] != '/')
                return refuse(r, 400, "the request target must be a path (origin-form)");
        size_t version_len = (size_t)(line_end - sp2 - 1);
        if (!(version_len == 8 &&
              (memcmp(sp2 + 1, "HTTP/1.1", 8) == 0 || memcmp(sp2 + 1, "HTTP/1.0", 8) == 0)))
                return refuse(r, 505, "only HTTP/1.0 and HTTP/1.1");
        for (const char *p = target; p < sp2; p++)
                if ((unsigned char)*p <= 0x20 || *p == 0x7f)
                        return refuse(r, 400, "bad request target");
        size_t target_len = (size_t)(sp2 - target);
        const char *question = memchr(target, '?', target_len);
        const char *fragment = memchr(target, '#', target_len);
        if (fragment)
                return refuse(r, 400, "a fragment in the request target");
        size_t path_len = question ? (size_t)(question - target) : target_len;
        snprintf(r->path, sizeof(r->path), "%.*s", (int)path_len, target);

        /* headers */
        static __thread struct head_line lines[NET_HTTP_HEADERS_MAX];
        size_t count = 0, hosts = 0, lengths = 0, encodings = 0;
        bool host_ok = false;
        const char *p = line_end + 2;
        while (p < in + head_len - 2) {
                const char *eol = memmem(p, (size_t)(in + head_len - p), "\r\n", 2);
                if (*p == ' ' || *p == '\t')
                        return refuse(r, 400, "obsolete line folding");
                if (count == NET_HTTP_HEADERS_MAX)
                        return refuse(r, 431, "too many header fields");
                const char *colon = memchr(p, ':', (size_t)(eol - p));
                if (!colon || colon == p)
                        return refuse(r, 400, "bad header line");
                for (const char *q = p; q < colon; q++)
                        if (!is_tchar(*q))
                                return refuse(r, 400, "bad header name");
                const char *v = colon + 1, *ve = eol;
                while (v < ve && (*v == ' ' || *v == '\t'))
                        v++;
                while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                        ve--;
                struct head_line *l = &lines[count++];
                *l = (struct head_line){p, v, (size_t)(colon - p), (size_t)(ve - v)};
                if (name_is(l->name, l->name_len, "host")) {
                        hosts++;
                        host_ok = host_header_matches(v, l->value_len, host);
                } else if (name_is(l->name, l->name_len, "content-length")) {
                        if (l->value_len == 0 || l->value_len > 15)
                                return refuse(r, 400, "bad Content-Length");
                        uint64_t value = 0;
                        for (size_t i = 0; i < l->value_len; i++) {
                                if (v[i] < '0' || v[i] > '9')
                                        return refuse(r, 400, "bad Content-Length");
                                value = value * 10 + (uint64_t)(v[i] - '0');
                        }
                        if (lengths++ && value != r->content_length)
                                return refuse(r, 400, "conflicting Content-Length");
                        r->content_length = value;
                } else if (name_is(l->name, l->name_len, "transfer-encoding")) {
                        /* only plain chunked: anything else is a framing two
                         * parsers could read two ways (request smuggling) */
                        if (encodings++ || !name_is(v, l->value_len, "chunked"))
                                return refuse(r, 400, "Transfer-Encoding other than chunked");
                        r->chunked = true;
                }
                p = eol + 2;
        }
        if (lengths && encodings)
                return refuse(r, 400, "both Content-Length and Transfer-Encoding");
        if (hosts != 1 || !host_ok)
                return refuse(r, 421, "the Host header must name the host connected to");

        /* which credentials go in, and placeholders where they may not */
        uint32_t applies = 0;
        for (size_t k = 0; k < inject->count; k++)
                if (credential_applies(&inject->items[k], host, port, tls, target, path_len))
                        applies |= 1u << k;
        for (size_t k = 0; k < inject->count; k++) {
                const struct net_inject_credential *c = &inject->items[k];
                if ((applies & (1u << k)) ||
                    !memmem(in, head_len, c->placeholder, c->placeholder_len) ||
                    weaken("credential-misuse"))
                        continue;
                r->misuse = (int)k;
                return refuse(r, 403,
                              !tls && c->plaintext == false &&
                                      net_inject_terminates(inject, host, port)
                                  ? "credential placeholder in a plaintext request "
                                    "(it is only injected over TLS)"
                                  : "credential placeholder sent to a host it is not for");
        }

        /* the agent's identity, signed for this request (TLS only) */
        bool assert_identity = false;
        for (size_t j = 0; tls && inject->sign && j < inject->identity_count; j++)
                assert_identity =
                    assert_identity || (host_matches(&inject->identity[j], host, port, true) &&
                                        path_matches(inject->identity[j].path, target, path_len));
        char assertion[NET_IDENTITY_MAX];
        if (assert_identity && inject->sign(inject->sign_ctx, host, port, r->method, r->path,
                                            assertion, sizeof(assertion)) <= 0)
                return refuse(r, 502, "cannot sign the agent's identity assertion");

        struct out_buf b = {0};
        out_put(&b, in, (size_t)(target - in));
        out_swapped(&b, inject, applies, target, path_len, true);
        out_query(&b, inject, applies, question ? question + 1 : "",
                  question ? target_len - path_len - 1 : 0, question != NULL);
        out_put(&b, sp2, (size_t)(line_end + 2 - sp2));
        bool close = false;
        for (size_t i = 0; i < count; i++) {
                const struct head_line *l = &lines[i];
                if (name_is(l->name, l->name_len, "connection") &&
                    name_is(l->value, l->value_len, "close"))
                        close = true;
                if (is_dropped(l->name, l->name_len))
                        continue;
                bool credential = false;
                for (size_t k = 0; k < inject->count && !credential; k++)
                        credential = (applies & (1u << k)) &&
                                     is_credential_header(&inject->items[k], l->name, l->name_len);
                if (credential || name_is(l->name, l->name_len, NET_IDENTITY_HEADER))
                        continue; /* what the agent put there itself never leaves */
                out_put(&b, l->name, l->name_len);
                out_str(&b, ": ");
                out_swapped(&b, inject, applies, l->value, l->value_len, false);
                out_str(&b, "\r\n");
        }
        for (size_t k = 0; k < inject->count; k++)
                if (applies & (1u << k))
                        out_credential_header(&b, &inject->items[k]);
        if (assert_identity) {
                out_str(&b, NET_IDENTITY_HEADER ": ");
                out_str(&b, assertion);
                out_str(&b, "\r\n");
                r->asserted = true;
        }
        if (close)
                out_str(&b, "Connection: close\r\n");
        out_str(&b, "\r\n");
        if (b.failed) {
                free(b.data);
                return -ENOMEM;
        }
        b.data[b.len] = '\0'; /* out_put kept room: a string too, for whoever prints it */
        r->injected = applies;
        *out = b.data;
        *out_len = b.len;
        return 0;
}

/* ---- request bodies ---- */

void net_inject_body_start(struct net_inject_body *body, bool chunked, uint64_t content_length)
{
        memset(body, 0, sizeof(*body));
        if (chunked) {
                body->state = NET_BODY_CHUNK_SIZE;
        } else {
                body->state = content_length ? NET_BODY_LENGTH : NET_BODY_DONE;
                body->left = content_length;
        }
}

#define BODY_LINE_MAX 4096 /* a chunk-size line (with extensions) or a trailer line */

static int hex_value(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int net_inject_body_step(struct net_inject_body *b, const char *bytes, size_t len, size_t *used)
{
        size_t i = 0;
        while (i < len && b->state != NET_BODY_DONE) {
                switch (b->state) {
                case NET_BODY_LENGTH:
                case NET_BODY_CHUNK_DATA: {
                        size_t take = len - i < b->left ? len - i : (size_t)b->left;
                        i += take;
                        b->left -= take;
                        if (b->left == 0) {
                                if (b->state == NET_BODY_LENGTH) {
                                        b->state = NET_BODY_DONE;
                                } else {
                                        b->state = NET_BODY_CHUNK_CRLF;
                                        b->left = 2;
                                }
                        }
                        break;
                }
                case NET_BODY_CHUNK_CRLF:
                        if (bytes[i] != (b->left == 2 ? '\r' : '\n'))
                                return -EINVAL;
                        i++;
                        if (--b->left == 0) {
                                b->state = NET_BODY_CHUNK_SIZE;
                                b->line_len = b->digits = 0;
                                b->cr = b->ext = false;
                        }
                        break;
                case NET_BODY_CHUNK_SIZE: {
                        char c = bytes[i++];
                        if (b->cr) {
                                if (c != '\n' || b->digits == 0)
                                        return -EINVAL;
                                b->state = b->left ? NET_BODY_CHUNK_DATA : NET_BODY_TRAILER;
                                b->line_len = b->digits = 0;
                                b->cr = b->ext = false;
                                break;
                        }
                        if (++b->line_len > BODY_LINE_MAX || c == '\n')
                                return -EINVAL; /* too long, or a bare LF */
                        if (c == '\r') {
                                b->cr = true;
                                break;
                        }
                        if (b->ext)
                                break; /* chunk extensions: skipped, forwarded as sent */
                        int v = hex_value(c);
                        if (v >= 0) {
                                if (b->left >> 56) /* over 2^60: refuse, never wrap */
                                        return -EINVAL;
                                b->left = b->left * 16 + (uint64_t)v;
                                b->digits++;
                        } else if ((c == ';' || c == ' ' || c == '\t') && b->digits) {
                                b->ext = true;
                        } else {
                                return -EINVAL;
                        }
                        break;
                }
                case NET_BODY_TRAILER: {
                        /* only the empty line that ends the body: a trailer
                         * field would be a header nobody rewrote */
                        char c = bytes[i++];
                        if (b->cr) {
                                if (c != '\n')
                                        return -EINVAL;
                                b->state = NET_BODY_DONE;
                                break;
                        }
                        if (c != '\r')
                                return -EINVAL;
                        b->cr = true;
                        break;
                }
                case NET_BODY_DONE:
                        break;
                }
        }
        *used = i;
        return b->state == NET_BODY_DONE ? 1 : 0;
}

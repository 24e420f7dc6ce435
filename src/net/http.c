/* HTTP/1.x request heads for the proxy. Strict on purpose: one framing per
 * message, CRLF only, no obsolete line folding, no bytes a downstream parser
 * could read differently (request smuggling and header injection need exactly
 * such disagreements). Anything odd is a 400 and the connection closes. */
#include "net/http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_tchar(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Find "\r\n" from `from`; a lone '\r' or '\n' is an error (-2); -1 when
 * none yet. */
static long find_crlf(const char *buf, size_t len, size_t from)
{
        for (size_t i = from; i < len; i++) {
                if (buf[i] == '\n')
                        return -2;
                if (buf[i] == '\r') {
                        if (i + 1 >= len)
                                return -1;
                        return buf[i + 1] == '\n' ? (long)i : -2;
                }
        }
        return -1;
}

static bool header_is(const struct net_http_header *h, const char *name)
{
        return h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

static int parse_authority(const char *auth, size_t len, bool port_required, uint16_t default_port,
                           struct net_http_request *req, const char **why)
{
        if (len == 0) {
                *why = "empty host";
                return 400;
        }
        if (memchr(auth, '@', len)) {
                *why = "user information in the target is not accepted";
                return 400;
        }
        size_t host_len = len;
        const char *port = NULL;
        if (auth[0] == '[') {
                const char *close = memchr(auth, ']', len);
                if (!close) {
                        *why = "unterminated IPv6 literal";
                        return 400;
                }
                host_len = (size_t)(close - auth) + 1;
                if (host_len < len) {
                        if (auth[host_len] != ':') {
                                *why = "junk after the IPv6 literal";
                                return 400;
                        }
                        port = auth + host_len + 1;
                }
        } else {
                const char *colon = memchr(auth, ':', len);
                if (colon) {
                        host_len = (size_t)(colon - auth);
                        port = colon + 1;
                }
        }
        if (port) {
                size_t port_len = len - (size_t)(port - auth);
                unsigned long v = 0;
                if (port_len == 0 || port_len > 5) {
                        *why = "bad port";
                        return 400;
                }
                for (size_t i = 0; i < port_len; i++) {
                        if (port[i] < '0' || port[i] > '9') {
                                *why = "bad port";
                                return 400;
                        }
                        v = v * 10 + (unsigned long)(port[i] - '0');
                }
                if (v == 0 || v > 65535) {
                        *why = "bad port";
                        return 400;
                }
                req->port = (uint16_t)v;
        } else if (port_required) {
                *why = "CONNECT needs host:port";
                return 400;
        } else {
                req->port = default_port;
        }
        if (net_host_normalize(auth, host_len, req->host, sizeof(req->host), why) < 0)
                return 400;
        return 0;
}

static int parse_request_line(const char *line, size_t len, struct net_http_request *req,
                              const char **why)
{
        const char *sp1 = memchr(line, ' ', len);
        if (!sp1 || sp1 == line || (size_t)(sp1 - line) >= sizeof(req->method)) {
                *why = "bad request line";
                return 400;
        }
        for (const char *p = line; p < sp1; p++)
                if (!is_tchar(*p)) {
                        *why = "bad method";
                        return 400;
                }
        memcpy(req->method, line, (size_t)(sp1 - line));
        req->method[sp1 - line] = '\0';
        const char *target = sp1 + 1;
        const char *end = line + len;
        const char *sp2 = memchr(target, ' ', (size_t)(end - target));
        if (!sp2 || sp2 == target) {
                *why = "bad request line";
                return 400;
        }
        size_t version_len = (size_t)(end - sp2 - 1);
        if (version_len != 8 ||
            (strncmp(sp2 + 1, "HTTP/1.1", 8) != 0 && strncmp(sp2 + 1, "HTTP/1.0", 8) != 0)) {
                *why = "only HTTP/1.0 and HTTP/1.1 are spoken here";
                return 400;
        }
        size_t target_len = (size_t)(sp2 - target);
        for (size_t i = 0; i < target_len; i++) {
                unsigned char c = (unsigned char)target[i];
                if (c <= 0x20 || c >= 0x7F) {
                        *why = "control or non-ASCII byte in the request target";
                        return 400;
                }
        }
        if (strcmp(req->method, "CONNECT") == 0) {
                req->kind = NET_HTTP_CONNECT;
                return parse_authority(target, target_len, true, 0, req, why);
        }
        req->kind = NET_HTTP_FORWARD;
        if (target_len < 7 || strncasecmp(target, "http://", 7) != 0) {
                if (target[0] == '/' || target[0] == '*')
                        *why = "not a proxy request (origin-form target); set HTTP_PROXY";
                else
                        *why = "only http:// URIs are forwarded; use CONNECT for https";
                return 400;
        }
        const char *auth = target + 7;
        size_t rest = target_len - 7;
        size_t auth_len = strcspn(auth, "/?#");
        if (auth_len > rest)
                auth_len = rest;
        int r = parse_authority(auth, auth_len, false, 80, req, why);
        if (r)
                return r;
        req->path = auth + auth_len;
        req->path_len = rest - auth_len;
        if (req->path_len && req->path[0] == '#')
                req->path_len = 0; /* a fragment is never sent */
        return 0;
}

static int check_framing(const struct net_http_request *req, const char **why)
{
        const struct net_http_header *cl = NULL;
        bool te = false;
        for (size_t i = 0; i < req->header_count; i++) {
                const struct net_http_header *h = &req->headers[i];
                if (header_is(h, "Content-Length")) {
                        for (size_t j = 0; j < h->value_len; j++)
                                if (h->value[j] < '0' || h->value[j] > '9') {
                                        *why = "bad Content-Length";
                                        return 400;
                                }
                        if (h->value_len == 0 || h->value_len > 18 ||
                            (cl && (cl->value_len != h->value_len ||
                                    memcmp(cl->value, h->value, h->value_len) != 0))) {
                                *why = "bad or conflicting Content-Length";
                                return 400;
                        }
                        cl = h;
                } else if (header_is(h, "Transfer-Encoding")) {
                        if (te || h->value_len != 7 || strncasecmp(h->value, "chunked", 7) != 0) {
                                *why = "only a single 'Transfer-Encoding: chunked' is accepted";
                                return 400;
                        }
                        te = true;
                }
        }
        if (cl && te) {
                /* the classic request-smuggling ambiguity */
                *why = "both Content-Length and Transfer-Encoding";
                return 400;
        }
        return 0;
}

int net_http_parse_request(const char *buf, size_t len, struct net_http_request *req,
                           const char **why)
{
        memset(req, 0, sizeof(*req));
        size_t limit = len < NET_HTTP_HEAD_MAX ? len : NET_HTTP_HEAD_MAX;
        /* refuse a non-HTTP client (TLS, binary) at its first byte instead
         * of waiting for a line end that never comes */
        for (size_t i = 0; i < limit && buf[i] != ' '; i++)
                if (!is_tchar(buf[i]) || i >= sizeof(req->method)) {
                        *why = "not an HTTP request";
                        return 400;
                }
        long eol = find_crlf(buf, limit, 0);
        if (eol == -2) {
                *why = "bare CR or LF in the request line";
                return 400;
        }
        if (eol < 0 || eol > NET_HTTP_LINE_MAX) {
                if (eol > NET_HTTP_LINE_MAX || limit > NET_HTTP_LINE_MAX) {
                        *why = "request line too long";
                        return 414;
                }
                return NET_HTTP_INCOMPLETE;
        }
        int r = parse_request_line(buf, (size_t)eol, req, why);
        if (r)
                return r;
        size_t pos = (size_t)eol + 2;
        while (1) {
                long e = find_crlf(buf, limit, pos);
                if (e == -2) {
                        *why = "bare CR or LF in a header";
                        return 400;
                }
                if (e < 0 || (size_t)e - pos > NET_HTTP_LINE_MAX) {
                        if (e >= 0 || limit - pos > NET_HTTP_LINE_MAX) {
                                *why = "header line too long";
                                return 431;
                        }
                        if (limit >= NET_HTTP_HEAD_MAX) {
                                *why = "request head too large";
                                return 431;
                        }
                        return NET_HTTP_INCOMPLETE;
                }
                const char *line = buf + pos;
                size_t line_len = (size_t)e - pos;
                pos = (size_t)e + 2;
                if (line_len == 0)
                        break;
                if (line[0] == ' ' || line[0] == '\t') {
                        *why = "obsolete header line folding";
                        return 400;
                }
                const char *colon = memchr(line, ':', line_len);
                if (!colon || colon == line) {
                        *why = "header without a name";
                        return 400;
                }
                for (const char *p = line; p < colon; p++)
                        if (!is_tchar(*p)) {
                                *why = "bad header name";
                                return 400;
                        }
                const char *v = colon + 1, *vend = line + line_len;
                while (v < vend && (*v == ' ' || *v == '\t'))
                        v++;
                while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
                        vend--;
                for (const char *p = v; p < vend; p++)
                        if ((unsigned char)*p < 0x20 && *p != '\t') {
                                *why = "control byte in a header value";
                                return 400;
                        }
                if (req->header_count == NET_HTTP_HEADERS_MAX) {
                        *why = "too many header fields";
                        return 431;
                }
                struct net_http_header *h = &req->headers[req->header_count++];
                h->name = line;
                h->name_len = (size_t)(colon - line);
                h->value = v;
                h->value_len = (size_t)(vend - v);
        }
        req->head_len = pos;
        return check_framing(req, why);
}

/* Is `name` listed in a Connection header ("Connection: close, X-Foo")? */
static bool named_by_connection(const struct net_http_request *req, const struct net_http_header *h)
{
        for (size_t i = 0; i < req->header_count; i++) {
                const struct net_http_header *c = &req->headers[i];
                if (!header_is(c, "Connection"))
                        continue;
                const char *p = c->value, *end = c->value + c->value_len;
                while (p < end) {
                        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
                                p++;
                        const char *tok = p;
                        while (p < end && *p != ',' && *p != ' ' && *p != '\t')
                                p++;
                        if ((size_t)(p - tok) == h->name_len &&
                            strncasecmp(tok, h->name, h->name_len) == 0)
                                return true;
                }
        }
        return false;
}

static bool is_hop_by_hop(const struct net_http_request *req, const struct net_http_header *h)
{
        static const char *const hop[] = {"Connection", "Keep-Alive", "TE", "Trailer",
                                          "Upgrade",    "Host",       NULL};
        for (size_t i = 0; hop[i]; i++)
                if (header_is(h, hop[i]))
                        return true;
        /* Proxy-Authorization (credentials meant for us), Proxy-Connection... */
        if (h->name_len >= 6 && strncasecmp(h->name, "Proxy-", 6) == 0)
                return true;
        return named_by_connection(req, h);
}

int net_http_forward_head(const struct net_http_request *req, char **out, size_t *out_len)
{
        size_t cap = req->head_len + NET_HOST_MAX + 128;
        char *head = malloc(cap);
        if (!head)
                return -ENOMEM;
        bool v6 = strchr(req->host, ':') != NULL;
        char port[8] = "";
        if (req->port != 80)
                snprintf(port, sizeof(port), ":%u", (unsigned)req->port);
        int n = snprintf(head, cap, "%s %.*s HTTP/1.1\r\nHost: %s%s%s%s\r\n", req->method,
                         req->path_len ? (int)req->path_len : 1, req->path_len ? req->path : "/",
                         v6 ? "[" : "", req->host, v6 ? "]" : "", port);
        size_t used = (size_t)n;
        for (size_t i = 0; i < req->header_count; i++) {
                const struct net_http_header *h = &req->headers[i];
                if (is_hop_by_hop(req, h))
                        continue;
                memcpy(head + used, h->name, h->name_len);
                used += h->name_len;
                memcpy(head + used, ": ", 2);
                used += 2;
                memcpy(head + used, h->value, h->value_len);
                used += h->value_len;
                memcpy(head + used, "\r\n", 2);
                used += 2;
        }
        static const char tail[] = "Connection: close\r\n\r\n";
        memcpy(head + used, tail, sizeof(tail) - 1);
        used += sizeof(tail) - 1;
        *out = head;
        *out_len = used;
        return 0;
}

const char *net_http_reason(int status)
{
        switch (status) {
        case 200:
                return "Connection established";
        case 400:
                return "Bad Request";
        case 403:
                return "Forbidden";
        case 408:
                return "Request Timeout";
        case 414:
                return "URI Too Long";
        case 431:
                return "Request Header Fields Too Large";
        case 502:
                return "Bad Gateway";
        case 503:
                return "Service Unavailable";
        case 504:
                return "Gateway Timeout";
        }
        return "Error";
}

size_t net_http_response(int status, const char *body, char *out, size_t out_size)
{
        size_t body_len = strlen(body);
        int n = snprintf(out, out_size,
                         "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: "
                         "%zu\r\nConnection: close\r\n\r\n%s",
                         status, net_http_reason(status), body_len, body);
        if (n < 0)
                return 0;
        return (size_t)n < out_size ? (size_t)n : out_size - 1;
}

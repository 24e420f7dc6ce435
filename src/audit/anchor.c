#include "audit/anchor.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "audit/checkpoint.h"
#include "audit/clock.h"
#include "util/fileio.h"
#include "util/cleanup.h"

#define ANCHOR_JSON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)
#define ANCHOR_TIMEOUT_S  3
/* syslog facility authpriv (10), severity info (6): where a host keeps
 * what its users should not read or rewrite */
#define ANCHOR_SYSLOG_PRI (10 * 8 + 6)

enum anchor_kind { ANCHOR_FILE, ANCHOR_SYSLOG, ANCHOR_HTTP };

struct anchor_target {
        enum anchor_kind kind;
        char *spec;
        int fd;                       /* file or connected datagram socket */
        struct sockaddr_storage addr; /* http */
        socklen_t addr_length;
        char host[256]; /* http: the Host header */
        char *path;     /* http */
};

struct audit_anchor {
        struct anchor_target targets[AUDIT_ANCHOR_MAX_TARGETS];
        size_t count;
        char hostname[256];
        uint64_t failures;
        char first_error[REINS_ERROR_MAX];
};

/* http://HOST[:PORT]/PATH → host, port, path ("/" when none). */
static int anchor_parse_url(const char *url, char *host, size_t host_size, char *port,
                            size_t port_size, char **path, struct reins_error *err)
{
        const char *rest = url + strlen("http://");
        const char *slash = strchr(rest, '/');
        size_t authority = slash ? (size_t)(slash - rest) : strlen(rest);
        if (authority == 0 || authority >= host_size)
                return reins_error_set(err, EINVAL, "anchor %s: no host in the URL", url);
        char buffer[256];
        memcpy(buffer, rest, authority);
        buffer[authority] = '\0';
        snprintf(port, port_size, "80");
        char *colon = NULL;
        if (buffer[0] == '[') { /* [IPv6]:port */
                char *close = strchr(buffer, ']');
                if (!close)
                        return reins_error_set(err, EINVAL, "anchor %s: bad IPv6 address", url);
                *close = '\0';
                snprintf(host, host_size, "%s", buffer + 1);
                colon = close[1] == ':' ? close + 1 : NULL;
        } else {
                colon = strrchr(buffer, ':');
                if (colon)
                        *colon = '\0';
                snprintf(host, host_size, "%s", buffer);
        }
        if (colon) {
                if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
                        return reins_error_set(err, EINVAL, "anchor %s: bad port", url);
                snprintf(port, port_size, "%s", colon + 1);
        }
        *path = strdup(slash ? slash : "/");
        if (!*path)
                return reins_error_set(err, ENOMEM, "out of memory");
        /* the path goes into a request line: no space, no control byte */
        for (const char *p = *path; *p; p++)
                if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
                        return reins_error_set(err, EINVAL, "anchor %s: bad character in the path",
                                               url);
        return 0;
}

static int anchor_resolve(const char *spec, const char *host, const char *port, int socktype,
                          struct sockaddr_storage *addr, socklen_t *length, struct reins_error *err)
{
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = socktype};
        struct addrinfo *found = NULL;
        int r = getaddrinfo(host, port, &hints, &found);
        if (r != 0 || !found)
                return reins_error_set(err, EHOSTUNREACH, "anchor %s: cannot resolve %s: %s", spec,
                                       host, gai_strerror(r));
        memcpy(addr, found->ai_addr, found->ai_addrlen);
        *length = found->ai_addrlen;
        freeaddrinfo(found);
        return 0;
}

static void anchor_set_timeouts(int fd)
{
        struct timeval timeout = {.tv_sec = ANCHOR_TIMEOUT_S};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
}

static int anchor_open_syslog(struct anchor_target *t, const char *rest, struct reins_error *err)
{
        if (strncmp(rest, "unix:", 5) == 0) {
                struct sockaddr_un addr = {.sun_family = AF_UNIX};
                if (strlen(rest + 5) >= sizeof(addr.sun_path) || !rest[5])
                        return reins_error_set(err, EINVAL, "anchor %s: bad socket path", t->spec);
                memcpy(addr.sun_path, rest + 5, strlen(rest + 5) + 1);
                t->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (t->fd < 0 || connect(t->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
                        return reins_error_errno(err, errno, "anchor %s", t->spec);
                anchor_set_timeouts(t->fd);
                return 0;
        }
        if (strncmp(rest, "udp:", 4) == 0) {
                char host[256];
                const char *colon = strrchr(rest + 4, ':');
                size_t length = colon ? (size_t)(colon - (rest + 4)) : 0;
                if (!colon || length == 0 || length >= sizeof(host) || !colon[1])
                        return reins_error_set(err, EINVAL,
                                               "anchor %s: expected syslog:udp:HOST:PORT", t->spec);
                memcpy(host, rest + 4, length);
                host[length] = '\0';
                if (host[0] == '[' && length > 2 && host[length - 1] == ']') {
                        memmove(host, host + 1, length - 2);
                        host[length - 2] = '\0';
                }
                struct sockaddr_storage addr;
                socklen_t addr_length;
                int r =
                    anchor_resolve(t->spec, host, colon + 1, SOCK_DGRAM, &addr, &addr_length, err);
                if (r < 0)
                        return r;
                t->fd = socket(addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                if (t->fd < 0 || connect(t->fd, (struct sockaddr *)&addr, addr_length) < 0)
                        return reins_error_errno(err, errno, "anchor %s", t->spec);
                return 0;
        }
        return reins_error_set(
            err, EINVAL, "anchor %s: expected syslog:unix:PATH or syslog:udp:HOST:PORT", t->spec);
}

static int anchor_open(struct anchor_target *t, const char *spec, struct reins_error *err)
{
        t->fd = -1;
        if (!(t->spec = strdup(spec)))
                return reins_error_set(err, ENOMEM, "out of memory");
        if (strncmp(spec, "https://", 8) == 0)
                /* no TLS stack in the supervisor: refuse rather than send in clear text to
                 * a URL that asked for TLS */
                return reins_error_set(err, EPROTONOSUPPORT,
                                       "anchor %s: https is not supported; use http:// to a "
                                       "collector on this host or syslog",
                                       spec);
        if (strncmp(spec, "http://", 7) == 0) {
                t->kind = ANCHOR_HTTP;
                char port[16];
                int r = anchor_parse_url(spec, t->host, sizeof(t->host), port, sizeof(port),
                                         &t->path, err);
                if (r < 0)
                        return r;
                return anchor_resolve(spec, t->host, port, SOCK_STREAM, &t->addr, &t->addr_length,
                                      err);
        }
        if (strncmp(spec, "syslog:", 7) == 0) {
                t->kind = ANCHOR_SYSLOG;
                return anchor_open_syslog(t, spec + 7, err);
        }
        const char *path = strncmp(spec, "file:", 5) == 0 ? spec + 5 : spec;
        t->kind = ANCHOR_FILE;
        /* O_APPEND: our entries only ever go at the end; O_NOFOLLOW: a
         * planted symlink cannot send them elsewhere */
        t->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (t->fd < 0)
                return reins_error_errno(err, errno, "anchor %s", path);
        struct stat st;
        if (fstat(t->fd, &st) < 0 || !S_ISREG(st.st_mode))
                return reins_error_set(err, EINVAL, "anchor %s is not a regular file", path);
        return 0;
}

static void anchor_target_close(struct anchor_target *t)
{
        if (t->fd >= 0)
                close(t->fd);
        free(t->spec);
        free(t->path);
        memset(t, 0, sizeof(*t));
        t->fd = -1;
}

int audit_anchor_add(struct audit_anchor **set, const char *spec, struct reins_error *err)
{
        if (!*set) {
                *set = calloc(1, sizeof(**set));
                if (!*set)
                        return reins_error_set(err, ENOMEM, "out of memory");
                if (gethostname((*set)->hostname, sizeof((*set)->hostname) - 1) < 0 ||
                    !(*set)->hostname[0])
                        snprintf((*set)->hostname, sizeof((*set)->hostname), "-");
                /* RFC 5424 HOSTNAME: printable ASCII, no space */
                for (char *p = (*set)->hostname; *p; p++)
                        if (*p <= 0x20 || *p >= 0x7f)
                                *p = '_';
        }
        struct audit_anchor *a = *set;
        if (a->count == AUDIT_ANCHOR_MAX_TARGETS)
                return reins_error_set(err, E2BIG, "anchor %s: at most %d anchors", spec,
                                       AUDIT_ANCHOR_MAX_TARGETS);
        struct anchor_target *t = &a->targets[a->count];
        int r = anchor_open(t, spec, err);
        if (r < 0) {
                anchor_target_close(t);
                return r;
        }
        a->count++;
        return 0;
}

static int anchor_http_post(const struct anchor_target *t, const char *body, size_t length,
                            struct reins_error *err)
{
        cleanup_fd int fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return reins_error_errno(err, errno, "anchor %s", t->spec);
        anchor_set_timeouts(fd); /* connect() honours SO_SNDTIMEO */
        if (connect(fd, (const struct sockaddr *)&t->addr, t->addr_length) < 0)
                return reins_error_errno(err, errno, "anchor %s", t->spec);
        char head[1024];
        int n = snprintf(head, sizeof(head),
                         "POST %s HTTP/1.0\r\nHost: %s\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nUser-Agent: reins\r\n\r\n",
                         t->path, t->host, length);
        if (n < 0 || (size_t)n >= sizeof(head))
                return reins_error_set(err, EINVAL, "anchor %s: URL too long", t->spec);
        int r = fileio_write_all(fd, head, (size_t)n);
        if (r == 0)
                r = fileio_write_all(fd, body, length);
        if (r < 0)
                return reins_error_errno(err, -r, "anchor %s", t->spec);
        char reply[64];
        size_t got = 0;
        while (got < sizeof(reply) - 1) {
                ssize_t m = read(fd, reply + got, sizeof(reply) - 1 - got);
                if (m < 0 && errno == EINTR)
                        continue;
                if (m <= 0)
                        break;
                got += (size_t)m;
        }
        reply[got] = '\0';
        /* "HTTP/1.x 2xx" */
        if (got < 12 || strncmp(reply, "HTTP/1.", 7) != 0 || reply[9] != '2')
                return reins_error_set(err, EPROTO,
                                       "anchor %s: the collector did not accept "
                                       "the entry (no 2xx reply)",
                                       t->spec);
        return 0;
}

static int anchor_send_one(const struct audit_anchor *a, const struct anchor_target *t,
                           const char *line, size_t length, const char *msgid,
                           struct reins_error *err)
{
        int r = 0;
        switch (t->kind) {
        case ANCHOR_FILE: {
                /* one write() with the newline: concurrent appenders never interleave */
                char *buffer = malloc(length + 1);
                if (!buffer)
                        return reins_error_set(err, ENOMEM, "out of memory");
                memcpy(buffer, line, length);
                buffer[length] = '\n';
                r = fileio_write_all(t->fd, buffer, length + 1);
                free(buffer);
                if (r == 0 && fdatasync(t->fd) < 0 && errno != EINVAL)
                        r = -errno;
                break;
        }
        case ANCHOR_SYSLOG: {
                char time[AUDIT_TIME_MAX];
                audit_time_now(time);
                char *message = NULL;
                int n = asprintf(&message, "<%d>1 %s %s reins %ld %s - %.*s", ANCHOR_SYSLOG_PRI,
                                 time, a->hostname, (long)getpid(), msgid, (int)length, line);
                if (n < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
                ssize_t sent = send(t->fd, message, (size_t)n, MSG_NOSIGNAL);
                r = sent == n ? 0 : sent < 0 ? -errno : -EIO;
                free(message);
                break;
        }
        case ANCHOR_HTTP:
                return anchor_http_post(t, line, length, err);
        }
        if (r < 0)
                return reins_error_errno(err, -r, "anchor %s", t->spec);
        return 0;
}

int audit_anchor_send(struct audit_anchor *a, const json_t *entry, struct reins_error *err)
{
        if (!a)
                return 0;
        char *line = json_dumps(entry, ANCHOR_JSON_FLAGS);
        if (!line)
                return reins_error_set(err, ENOMEM, "out of memory");
        const char *type = json_string_value(json_object_get(entry, "type"));
        const char *msgid = type && strcmp(type, "checkpoint") == 0 ? "checkpoint" : "cert";
        int first = 0;
        for (size_t i = 0; i < a->count; i++) {
                struct reins_error one = {0};
                int r = anchor_send_one(a, &a->targets[i], line, strlen(line), msgid, &one);
                if (r < 0) {
                        if (!a->failures++)
                                snprintf(a->first_error, sizeof(a->first_error), "%s", one.message);
                        if (first == 0) {
                                first = r;
                                if (err)
                                        *err = one;
                        }
                }
        }
        free(line);
        return first;
}

json_t *audit_anchor_cert_entry(const struct audit_session_cert *cert)
{
        return json_pack("{s:s, s:s, s:o}", "type", "anchor.cert", "session", cert->session,
                         AUDIT_CERT_FIELD, audit_session_cert_to_json(cert));
}

void audit_anchor_checkpoint_hook(void *set, const json_t *record)
{
        audit_anchor_send(set, record, NULL);
}

uint64_t audit_anchor_failures(const struct audit_anchor *a, const char **first_error)
{
        if (first_error)
                *first_error = a && a->failures ? a->first_error : NULL;
        return a ? a->failures : 0;
}

void audit_anchor_free(struct audit_anchor *a)
{
        if (!a)
                return;
        for (size_t i = 0; i < a->count; i++)
                anchor_target_close(&a->targets[i]);
        free(a);
}

/* ---- reading an anchor back */

static int anchor_read_fd(int fd, const char *where, char **data, size_t *length,
                          struct reins_error *err)
{
        bool truncated = false;
        int r = fileio_read_fd(fd, AUDIT_ANCHOR_MAX_BYTES, data, length, &truncated);
        if (r == -ENOMEM)
                return reins_error_set(err, ENOMEM, "out of memory");
        if (r < 0)
                return reins_error_errno(err, -r, "reading the anchor %s", where);
        if (truncated) {
                free(*data);
                *data = NULL;
                return reins_error_set(err, EFBIG, "anchor %s: more than %u MiB", where,
                                       AUDIT_ANCHOR_MAX_BYTES >> 20);
        }
        return 0;
}

static int anchor_http_get(const char *url, char **data, size_t *length, struct reins_error *err)
{
        struct anchor_target t = {.fd = -1};
        char port[16];
        int r = anchor_parse_url(url, t.host, sizeof(t.host), port, sizeof(port), &t.path, err);
        if (r == 0)
                r = anchor_resolve(url, t.host, port, SOCK_STREAM, &t.addr, &t.addr_length, err);
        cleanup_fd int fd = -1;
        if (r == 0 && (fd = socket(t.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
                r = reins_error_errno(err, errno, "anchor %s", url);
        if (r == 0) {
                anchor_set_timeouts(fd);
                if (connect(fd, (const struct sockaddr *)&t.addr, t.addr_length) < 0)
                        r = reins_error_errno(err, errno, "anchor %s", url);
        }
        char head[1024];
        int n = r == 0 ? snprintf(head, sizeof(head),
                                  "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: reins\r\n\r\n",
                                  t.path, t.host)
                       : 0;
        if (r == 0 && (n < 0 || (size_t)n >= sizeof(head)))
                r = reins_error_set(err, EINVAL, "anchor %s: URL too long", url);
        if (r == 0 && (r = fileio_write_all(fd, head, (size_t)n)) < 0)
                r = reins_error_errno(err, -r, "anchor %s", url);
        free(t.path);
        char *reply = NULL;
        size_t reply_length = 0;
        if (r < 0 || (r = anchor_read_fd(fd, url, &reply, &reply_length, err)) < 0)
                return r;
        /* HTTP/1.0: the body runs to the end of the connection */
        char *body = memmem(reply, reply_length, "\r\n\r\n", 4);
        if (reply_length < 12 || strncmp(reply, "HTTP/1.", 7) != 0 || reply[9] != '2' || !body) {
                free(reply);
                return reins_error_set(err, EPROTO, "anchor %s: no 2xx reply", url);
        }
        body += 4;
        *length = reply_length - (size_t)(body - reply);
        memmove(reply, body, *length);
        *data = reply;
        return 0;
}

int audit_anchor_read(const char *where, char **data, size_t *length, struct reins_error *err)
{
        if (strncmp(where, "http://", 7) == 0)
                return anchor_http_get(where, data, length, err);
        if (strncmp(where, "https://", 8) == 0)
                return reins_error_set(err, EPROTONOSUPPORT, "anchor %s: https is not supported",
                                       where);
        const char *path = strncmp(where, "file:", 5) == 0 ? where + 5 : where;
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return reins_error_errno(err, errno, "anchor %s", path);
        return anchor_read_fd(fd, path, data, length, err);
}

/* ---- checking a trail against an anchor */

/* Calls fn for each JSON object found on a line (from its first '{'). */
static void anchor_each_entry(const char *data, size_t length,
                              bool (*fn)(void *ctx, json_t *entry, size_t line), void *ctx)
{
        const char *p = data, *end = data + length;
        size_t line = 0;
        while (p < end) {
                const char *newline = memchr(p, '\n', (size_t)(end - p));
                const char *stop = newline ? newline : end;
                line++;
                const char *brace = memchr(p, '{', (size_t)(stop - p));
                if (brace) {
                        json_t *entry =
                            json_loadb(brace, (size_t)(stop - brace), JSON_REJECT_DUPLICATES, NULL);
                        bool go_on = true;
                        if (json_is_object(entry))
                                go_on = fn(ctx, entry, line);
                        json_decref(entry);
                        if (!go_on)
                                return;
                }
                p = newline ? newline + 1 : end;
        }
}

static bool anchor_is(const json_t *entry, const char *type)
{
        const char *t = json_string_value(json_object_get(entry, "type"));
        return t && strcmp(t, type) == 0;
}

/* What the anchor holds for one session. */
struct anchor_view {
        const char *session;
        const char *trusted_key;
        bool have_cert;
        size_t cert_line;
        struct audit_session_cert cert;
        size_t conflict_line; /* a second, different, valid certificate */
        json_t *checkpoints;  /* array, verified, in anchor order */
        uint64_t ignored;
};

static bool anchor_collect_cert(void *ctx, json_t *entry, size_t line)
{
        struct anchor_view *v = ctx;
        if (!anchor_is(entry, "anchor.cert"))
                return true;
        struct audit_session_cert cert;
        char why[200];
        if (audit_session_cert_from_json(json_object_get(entry, AUDIT_CERT_FIELD), &cert, why,
                                         sizeof(why)) < 0 ||
            strcmp(cert.session, v->session) != 0)
                return true;
        char user[65];
        audit_hex(cert.user_key, sizeof(cert.user_key), user);
        if (!audit_session_cert_signature_valid(&cert) ||
            (v->trusted_key && strcasecmp(v->trusted_key, user) != 0)) {
                v->ignored++;
                return true;
        }
        if (!v->have_cert) {
                v->have_cert = true;
                v->cert = cert;
                v->cert_line = line;
        } else if (sodium_memcmp(cert.session_key, v->cert.session_key, sizeof(cert.session_key)) !=
                       0 &&
                   !v->conflict_line) {
                v->conflict_line = line;
        }
        return true;
}

static bool anchor_collect_checkpoint(void *ctx, json_t *entry, size_t line)
{
        (void)line;
        struct anchor_view *v = ctx;
        if (!anchor_is(entry, "checkpoint"))
                return true;
        struct audit_checkpoint c;
        char why[256];
        if (audit_checkpoint_from_json(entry, &c, why, sizeof(why)) < 0 ||
            strcmp(c.session, v->session) != 0)
                return true;
        if (!audit_checkpoint_signature_valid(&c) ||
            audit_session_cert_check(&v->cert, v->session, c.public_key, c.time, why, sizeof(why)) <
                0) {
                v->ignored++;
                return true;
        }
        json_array_append(v->checkpoints, entry);
        return true;
}

static void anchor_set(struct audit_anchor_result *out, enum audit_anchor_verdict verdict,
                       const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void anchor_set(struct audit_anchor_result *out, enum audit_anchor_verdict verdict,
                       const char *fmt, ...)
{
        out->verdict = verdict;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(out->message, sizeof(out->message), fmt, ap);
        va_end(ap);
}

/* Offsets of the trail's complete lines. */
static size_t *anchor_index_lines(const char *trail, size_t length, size_t *count)
{
        size_t capacity = 1024, n = 0;
        size_t *starts = malloc((capacity + 1) * sizeof(*starts));
        const char *p = trail, *end = trail + length;
        while (starts && p < end) {
                const char *newline = memchr(p, '\n', (size_t)(end - p));
                if (!newline)
                        break;
                if (n == capacity) {
                        size_t *grown = realloc(starts, (2 * capacity + 1) * sizeof(*starts));
                        if (!grown) {
                                free(starts);
                                return NULL;
                        }
                        starts = grown;
                        capacity *= 2;
                }
                starts[n++] = (size_t)(p - trail);
                p = newline + 1;
        }
        if (starts)
                starts[n] = (size_t)(p - trail); /* the end of the last complete line + 1 */
        *count = n;
        return starts;
}

static json_t *anchor_trail_line(const char *trail, const size_t *starts, size_t i)
{
        return json_loadb(trail + starts[i], starts[i + 1] - starts[i] - 1, JSON_REJECT_DUPLICATES,
                          NULL);
}

static void anchor_compare(const struct anchor_view *v, const char *trail, size_t trail_length,
                           struct audit_anchor_result *out)
{
        size_t count = 0;
        size_t *starts = anchor_index_lines(trail, trail_length, &count);
        if (!starts) {
                anchor_set(out, AUDIT_ANCHOR_MISMATCH, "out of memory");
                return;
        }
        /* the trail's certificate must be the anchored one */
        size_t cert_record = SIZE_MAX;
        struct audit_session_cert trail_cert;
        for (size_t i = 0; i < count && cert_record == SIZE_MAX; i++) {
                if (!memmem(trail + starts[i], starts[i + 1] - starts[i],
                            "\"" AUDIT_CERT_FIELD "\"", strlen(AUDIT_CERT_FIELD) + 2))
                        continue;
                json_t *record = anchor_trail_line(trail, starts, i);
                char why[200];
                if (record &&
                    audit_session_cert_from_json(json_object_get(record, AUDIT_CERT_FIELD),
                                                 &trail_cert, why, sizeof(why)) == 0)
                        cert_record = i;
                json_decref(record);
        }
        char anchored_key[65];
        audit_hex(v->cert.session_key, sizeof(v->cert.session_key), anchored_key);
        if (cert_record == SIZE_MAX) {
                anchor_set(out, AUDIT_ANCHOR_MISMATCH,
                           "the trail carries no session certificate, the anchor holds one (line "
                           "%zu, session key %.16s...): the trail was rewritten and re-signed",
                           v->cert_line, anchored_key);
                free(starts);
                return;
        }
        if (sodium_memcmp(trail_cert.session_key, v->cert.session_key,
                          sizeof(trail_cert.session_key)) != 0 ||
            memcmp(trail_cert.signature, v->cert.signature, sizeof(trail_cert.signature)) != 0) {
                char trail_key[65];
                audit_hex(trail_cert.session_key, sizeof(trail_cert.session_key), trail_key);
                anchor_set(out, AUDIT_ANCHOR_MISMATCH,
                           "record %zu: the trail's session certificate (session key %.16s...) is "
                           "not the anchored one (session key %.16s...): the trail was re-signed",
                           cert_record, trail_key, anchored_key);
                free(starts);
                return;
        }
        /* each anchored checkpoint, byte for byte, where it belongs */
        size_t anchored = json_array_size(v->checkpoints);
        uint64_t last = 0;
        bool final = false;
        for (size_t k = 0; k < anchored; k++) {
                const json_t *entry = json_array_get(v->checkpoints, k);
                uint64_t at = (uint64_t)json_integer_value(json_object_get(entry, "tree_size"));
                if (at >= count) {
                        anchor_set(out, AUDIT_ANCHOR_TRUNCATED,
                                   "record %llu: the anchor holds a checkpoint there, the trail "
                                   "ends at record %zu: records were cut from the trail",
                                   (unsigned long long)at, count ? count - 1 : 0);
                        free(starts);
                        return;
                }
                json_t *record = anchor_trail_line(trail, starts, (size_t)at);
                bool same = record && json_equal(record, (json_t *)entry);
                json_decref(record);
                if (!same) {
                        const char *root = json_string_value(json_object_get(entry, "root"));
                        anchor_set(out, AUDIT_ANCHOR_MISMATCH,
                                   "record %llu: the trail's record is not the anchored checkpoint "
                                   "(anchored root %.16s...): the trail was rewritten or re-signed "
                                   "before it",
                                   (unsigned long long)at, root ? root : "?");
                        free(starts);
                        return;
                }
                if (at >= last) {
                        last = at;
                        final = json_is_true(json_object_get(entry, "final"));
                }
        }
        out->checkpoints = anchored;
        anchor_set(out, AUDIT_ANCHOR_MATCH,
                   "matches the anchor: its certificate and %zu anchored checkpoint%s (the last "
                   "at record %llu%s)",
                   anchored, anchored == 1 ? "" : "s", (unsigned long long)last,
                   final ? ", final" : ", not final: the session was still running or killed");
        free(starts);
}

void audit_anchor_check(const char *anchor, size_t anchor_length, const char *session,
                        const char *trail, size_t trail_length, const char *trusted_key,
                        struct audit_anchor_result *out)
{
        memset(out, 0, sizeof(*out));
        struct anchor_view v = {.session = session, .trusted_key = trusted_key};
        anchor_each_entry(anchor, anchor_length, anchor_collect_cert, &v);
        if (!v.have_cert) {
                anchor_set(out, AUDIT_ANCHOR_NOTHING,
                           "the anchor holds no certificate of session %.40s%s: it cannot vouch "
                           "for this trail",
                           session, v.ignored ? " (only entries that do not verify)" : "");
                out->ignored = v.ignored;
                return;
        }
        if (v.conflict_line) {
                anchor_set(out, AUDIT_ANCHOR_MISMATCH,
                           "the anchor holds two certificates of session %.40s (lines %zu and "
                           "%zu) for different keys: the second was made with the user key "
                           "after the session started",
                           session, v.cert_line, v.conflict_line);
                return;
        }
        v.checkpoints = json_array();
        if (!v.checkpoints) {
                anchor_set(out, AUDIT_ANCHOR_MISMATCH, "out of memory");
                return;
        }
        anchor_each_entry(anchor, anchor_length, anchor_collect_checkpoint, &v);
        out->ignored = v.ignored;
        out->checkpoints = json_array_size(v.checkpoints);
        if (!trail) {
                anchor_set(out, AUDIT_ANCHOR_DELETED,
                           "session %.40s deleted: the anchor holds its certificate and %llu "
                           "checkpoint%s, no trail was found",
                           session, (unsigned long long)out->checkpoints,
                           out->checkpoints == 1 ? "" : "s");
        } else {
                anchor_compare(&v, trail, trail_length, out);
        }
        json_decref(v.checkpoints);
}

struct anchor_sessions {
        bool (*fn)(void *ctx, const char *session);
        void *ctx;
        json_t *seen;
};

static bool anchor_list_session(void *ctx, json_t *entry, size_t line)
{
        (void)line;
        struct anchor_sessions *s = ctx;
        const char *session = json_string_value(json_object_get(entry, "session"));
        if (!anchor_is(entry, "anchor.cert") || !session || json_object_get(s->seen, session))
                return true;
        json_object_set_new(s->seen, session, json_true());
        return s->fn(s->ctx, session);
}

void audit_anchor_sessions(const char *anchor, size_t anchor_length,
                           bool (*fn)(void *ctx, const char *session), void *ctx)
{
        struct anchor_sessions s = {.fn = fn, .ctx = ctx, .seen = json_object()};
        if (s.seen)
                anchor_each_entry(anchor, anchor_length, anchor_list_session, &s);
        json_decref(s.seen);
}

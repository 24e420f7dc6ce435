/* A small HTTP/1.1 client for the daemon's API on its unix socket
 * (cli/daemon_client.h). One request per connection ("Connection: close"):
 * the answer ends where the daemon closes, or at its Content-Length, and is
 * decoded as JSON. */
#include "cli/daemon_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "audit/runtime.h"
#include "util/cleanup.h"
#include "util/path.h"

#define DAEMON_CONNECT_TIMEOUT 2000 /* ms */
#define DAEMON_HEAD_MAX        (16 << 10)

static long long daemon_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for `events` on fd until `deadline`; -ETIMEDOUT past it. */
static int daemon_wait(int fd, short events, long long deadline)
{
        for (;;) {
                long long left = deadline - daemon_now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                struct pollfd p = {.fd = fd, .events = events};
                int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n > 0)
                        return 0;
        }
}

/* A connected socket to `path`, non-blocking, or -errno. */
static int daemon_connect(const char *path, long long deadline)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        if (strlen(path) >= sizeof(addr.sun_path))
                return -ENAMETOOLONG;
        memcpy(addr.sun_path, path, strlen(path) + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
                return fd;
        int e = errno;
        /* a unix socket connects at once or not at all; EAGAIN is a full
         * backlog: wait for room once, within the deadline */
        if (e == EAGAIN || e == EINPROGRESS) {
                int r = daemon_wait(fd, POLLOUT, deadline);
                socklen_t size = sizeof(e);
                if (r == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &size) == 0 && e == 0)
                        return fd;
                if (r < 0)
                        e = -r;
        }
        close(fd);
        return -e;
}

/* Does a daemon listen on `path`? Only a connection proves it: a socket
 * file alone may be what a daemon killed with -9 left. */
static int daemon_probe(const char *path)
{
        int fd = daemon_connect(path, daemon_now_ms() + DAEMON_CONNECT_TIMEOUT);
        if (fd < 0)
                return fd;
        close(fd);
        return 0;
}

static int daemon_use(struct daemon_client *client, const char *path)
{
        if (strlen(path) >= sizeof(client->socket_path))
                return -ENAMETOOLONG;
        snprintf(client->socket_path, sizeof(client->socket_path), "%s", path);
        return 1;
}

int daemon_client_find(const char *requested, struct daemon_client *client, struct reins_error *err)
{
        const char *from = "--socket";
        if (!requested || !requested[0]) {
                requested = getenv(DAEMON_SOCKET_ENV);
                from = "$" DAEMON_SOCKET_ENV;
        }
        if (requested && requested[0]) {
                /* asked for by name: silence would hide a daemon that is down */
                int r = daemon_probe(requested);
                if (r < 0)
                        return reins_error_errno(err, -r, "%s %s: no reins serve answers there",
                                                 from, requested);
                r = daemon_use(client, requested);
                return r < 0 ? reins_error_errno(err, -r, "%s %s", from, requested) : r;
        }
        /* the user's own daemon, where `reins serve` listens by default */
        cleanup_free char *dir = NULL;
        if (runtime_dir(&dir, NULL) == 0) {
                cleanup_free char *own = path_join(dir, "serve.sock");
                if (own && daemon_probe(own) == 0 && daemon_use(client, own) == 1)
                        return 1;
        }
        /* the host's root daemon; EACCES (a socket for root only) is no
         * daemon for this user */
        if (daemon_probe(DAEMON_SYSTEM_SOCKET) == 0)
                return daemon_use(client, DAEMON_SYSTEM_SOCKET);
        return 0;
}

/* ---- one request ----------------------------------------------------------- */

static int daemon_send_all(int fd, const char *data, size_t length, long long deadline)
{
        while (length > 0) {
                ssize_t n = send(fd, data, length, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN) {
                        int r = daemon_wait(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (n < 0)
                        return -errno;
                data += n;
                length -= (size_t)n;
        }
        return 0;
}

/* Read until the daemon closes, at most DAEMON_REPLY_MAX bytes (plus the
 * head): -EFBIG past it. */
static int daemon_read_all(int fd, char **out, size_t *length, long long deadline)
{
        /* one byte more than the cap: a full buffer then means too large */
        const size_t cap = (size_t)DAEMON_REPLY_MAX + DAEMON_HEAD_MAX + 1;
        size_t size = 0, used = 0;
        char *buffer = NULL;
        for (;;) {
                if (used + 1 >= size) {
                        if (size >= cap) {
                                free(buffer);
                                return -EFBIG;
                        }
                        size_t bigger = size ? size * 2 : 16384;
                        if (bigger > cap)
                                bigger = cap;
                        char *p = realloc(buffer, bigger + 1);
                        if (!p) {
                                free(buffer);
                                return -ENOMEM;
                        }
                        buffer = p;
                        size = bigger;
                }
                ssize_t n = read(fd, buffer + used, size - used);
                if (n > 0) {
                        used += (size_t)n;
                        continue;
                }
                if (n == 0)
                        break;
                if (errno == EINTR)
                        continue;
                int r = errno == EAGAIN ? daemon_wait(fd, POLLIN, deadline) : -errno;
                if (r < 0) {
                        free(buffer);
                        return r;
                }
        }
        buffer[used] = '\0';
        *out = buffer;
        *length = used;
        return 0;
}

/* The value of header `name` in the head (CRLF lines), or NULL; *length
 * gets its length. */
static const char *daemon_header(const char *head, size_t head_length, const char *name,
                                 size_t *length)
{
        size_t n = strlen(name);
        const char *line = memchr(head, '\n', head_length);
        const char *end = head + head_length;
        while (line && ++line < end) {
                const char *eol = memchr(line, '\n', (size_t)(end - line));
                if (!eol)
                        eol = end;
                if ((size_t)(eol - line) > n && strncasecmp(line, name, n) == 0 && line[n] == ':') {
                        const char *value = line + n + 1;
                        while (value < eol && (*value == ' ' || *value == '\t'))
                                value++;
                        const char *stop = eol;
                        while (stop > value && (stop[-1] == '\r' || stop[-1] == ' '))
                                stop--;
                        *length = (size_t)(stop - value);
                        return value;
                }
                line = eol;
        }
        return NULL;
}

/* A chunked body decoded in place; -EPROTO when it is not well formed. */
static int daemon_unchunk(char *body, size_t length, size_t *out_length)
{
        size_t in = 0, out = 0;
        for (;;) {
                char *end = NULL;
                if (in >= length)
                        return -EPROTO;
                unsigned long long size = strtoull(body + in, &end, 16);
                if (end == body + in)
                        return -EPROTO;
                char *eol = memchr(end, '\n', length - (size_t)(end - body));
                if (!eol)
                        return -EPROTO;
                in = (size_t)(eol - body) + 1;
                if (size == 0)
                        break;
                if (size > length - in)
                        return -EPROTO;
                memmove(body + out, body + in, (size_t)size);
                out += (size_t)size;
                in += (size_t)size;
                /* CRLF after the chunk */
                if (in < length && body[in] == '\r')
                        in++;
                if (in < length && body[in] == '\n')
                        in++;
        }
        body[out] = '\0';
        *out_length = out;
        return 0;
}

int daemon_answer_parse(char *answer, size_t length, unsigned *status, char **body,
                        size_t *body_length)
{
        char *head_end = strstr(answer, "\r\n\r\n");
        unsigned code = 0;
        if (!head_end || (size_t)(head_end - answer) > DAEMON_HEAD_MAX ||
            sscanf(answer, "HTTP/1.%*1[01] %3u", &code) != 1 || code < 100 || code > 599)
                return -EPROTO;
        size_t head_length = (size_t)(head_end - answer) + 2;
        char *start = head_end + 4;
        size_t available = length - (size_t)(start - answer);
        size_t n = 0;
        const char *value = daemon_header(answer, head_length, "Transfer-Encoding", &n);
        if (value && n == 7 && strncasecmp(value, "chunked", 7) == 0) {
                if (daemon_unchunk(start, available, &available) < 0)
                        return -EPROTO;
        } else if ((value = daemon_header(answer, head_length, "Content-Length", &n))) {
                char *end = NULL;
                unsigned long long declared = strtoull(value, &end, 10);
                /* an answer cut short is no answer */
                if (end == value || declared > available)
                        return -EPROTO;
                available = (size_t)declared;
                start[available] = '\0';
        }
        *status = code;
        *body = start;
        *body_length = available;
        return 0;
}

int daemon_client_call(const struct daemon_client *client, const char *method, const char *path,
                       const json_t *body, int timeout_ms, unsigned *status, json_t **reply,
                       struct reins_error *err)
{
        const char *where = client->socket_path;
        long long deadline = daemon_now_ms() + timeout_ms;
        unsigned ignored;
        if (!status)
                status = &ignored;
        *status = 0;
        *reply = NULL;
        cleanup_free char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
        if (body && !payload)
                return reins_error_set(err, ENOMEM, "out of memory");
        cleanup_free char *request = NULL;
        int n = payload ? asprintf(&request,
                                   "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                                   "Accept: application/json\r\n"
                                   "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                                   "\r\n%s",
                                   method, path, strlen(payload), payload)
                        : asprintf(&request,
                                   "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                                   "Accept: application/json\r\n%s\r\n",
                                   method, path,
                                   strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n" : "");
        if (n < 0) {
                request = NULL;
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        cleanup_fd int fd = daemon_connect(where, deadline);
        if (fd < 0)
                return reins_error_errno(err, -fd, "reins serve (%s)", where);
        /* no shutdown(SHUT_WR) after the request: an HTTP server may take the
         * half-close for a client that left. "Connection: close" ends it */
        int r = daemon_send_all(fd, request, (size_t)n, deadline);
        cleanup_free char *answer = NULL;
        size_t length = 0;
        if (r == 0)
                r = daemon_read_all(fd, &answer, &length, deadline);
        if (r == -ETIMEDOUT)
                return reins_error_set(err, ETIMEDOUT, "reins serve (%s): no answer within %d s",
                                       where, timeout_ms / 1000);
        if (r == -EFBIG)
                return reins_error_set(err, EFBIG,
                                       "reins serve (%s): the answer is larger than %d MiB", where,
                                       DAEMON_REPLY_MAX >> 20);
        if (r < 0)
                return reins_error_errno(err, -r, "reins serve (%s)", where);
        char *text = NULL;
        size_t text_length = 0;
        if (daemon_answer_parse(answer, length, status, &text, &text_length) < 0)
                return reins_error_set(err, EPROTO, "reins serve (%s): not an HTTP answer", where);
        json_t *decoded = text_length ? json_loadb(text, text_length, 0, NULL) : NULL;
        if (*status < 200 || *status > 299) {
                const char *why = json_string_value(json_object_get(decoded, "error"));
                reins_error_set(err, EREMOTEIO, "reins serve (%s): %u: %s", where, *status,
                                why ? why : "an error without a message");
                json_decref(decoded);
                return -EREMOTEIO;
        }
        if (text_length && !decoded)
                return reins_error_set(err, EPROTO, "reins serve (%s): the answer is not JSON",
                                       where);
        *reply = decoded;
        return 0;
}

/* The control socket's client side (control_client.h). */
#include "session/control_client.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "audit/runtime.h"
#include "govern/answer_sign.h"
#include "util/cleanup.h"

#define CONTROL_REPLY_MAX (1 << 20)

int control_connect(const char *session, struct reins_error *err)
{
        cleanup_free char *dir = NULL;
        int r = runtime_dir(&dir, err);
        if (r < 0)
                return r;
        return control_connect_in(dir, session, err);
}

int control_connect_in(const char *dir, const char *session, struct reins_error *err)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        int n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s.sock", dir, session);
        if (n < 0 || (size_t)n >= sizeof(addr.sun_path))
                return reins_error_set(err, ENAMETOOLONG, "control socket path too long");
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return reins_error_errno(err, errno, "socket");
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
                int e = errno;
                close(fd);
                return reins_error_errno(err, e, "session %s has no control socket %s", session,
                                         addr.sun_path);
        }
        return fd;
}

int control_read_line(int fd, char **line, int timeout_ms, struct reins_error *err)
{
        size_t size = 4096, len = 0;
        char *buf = malloc(size);
        if (!buf)
                return reins_error_set(err, ENOMEM, "out of memory");
        for (;;) {
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int pr = poll(&p, 1, timeout_ms);
                if (pr <= 0) {
                        free(buf);
                        return pr == 0
                                   ? reins_error_set(err, ETIMEDOUT, "the session did not answer")
                                   : reins_error_errno(err, errno, "poll");
                }
                if (len + 1 >= size) {
                        char *bigger = size < CONTROL_REPLY_MAX ? realloc(buf, size * 2) : NULL;
                        if (!bigger) {
                                free(buf);
                                return reins_error_set(err, EFBIG, "reply too large");
                        }
                        buf = bigger;
                        size *= 2;
                }
                /* byte by byte up to the newline: a watcher's stream stays in the socket */
                ssize_t n = read(fd, buf + len, 1);
                if (n <= 0) {
                        free(buf);
                        return n == 0 ? reins_error_set(err, ECONNRESET, "the session went away")
                                      : reins_error_errno(err, errno, "read");
                }
                if (buf[len] == '\n') {
                        buf[len] = '\0';
                        *line = buf;
                        return 0;
                }
                len++;
        }
}

int control_call(int fd, const json_t *request, json_t **reply, int timeout_ms,
                 struct reins_error *err)
{
        char *text = json_dumps(request, JSON_COMPACT);
        if (!text)
                return reins_error_set(err, ENOMEM, "out of memory");
        size_t len = strlen(text);
        text[len] = '\n';
        ssize_t n = send(fd, text, len + 1, MSG_NOSIGNAL);
        free(text);
        if (n != (ssize_t)(len + 1))
                return reins_error_errno(err, errno ? errno : EIO, "sending to the session");
        char *line = NULL;
        int r = control_read_line(fd, &line, timeout_ms, err);
        if (r < 0)
                return r;
        json_error_t jerr;
        *reply = json_loads(line, 0, &jerr);
        free(line);
        if (!json_is_object(*reply)) {
                json_decref(*reply);
                *reply = NULL;
                return reins_error_set(err, EPROTO, "the session sent a malformed reply");
        }
        return 0;
}

int control_signed_call(int fd, const char *session, const char *op, const struct audit_key *key,
                        json_t **reply, struct reins_error *err)
{
        json_auto_t *ask = json_pack("{s:s}", "op", "nonce");
        json_auto_t *given = NULL;
        int r = control_call(fd, ask, &given, 5000, err);
        const char *nonce = r == 0 ? json_string_value(json_object_get(given, "nonce")) : NULL;
        if (r == 0 && !nonce)
                r = reins_error_set(err, EPROTO, "the session gave no nonce (%s)",
                                    json_string_value(json_object_get(given, "error"))
                                        ? json_string_value(json_object_get(given, "error"))
                                        : "an older reins?");
        json_auto_t *payload =
            r == 0 ? control_op_payload(op, session, nonce, (int64_t)time(NULL)) : NULL;
        char signature[ANSWER_SIGNATURE_HEX + 1];
        if (r == 0 && !payload)
                r = reins_error_set(err, ENOMEM, "out of memory");
        if (r == 0)
                r = control_op_sign(key, payload, signature, err);
        json_auto_t *request = r == 0 ? json_pack("{s:s, s:O, s:s}", "op", op, "payload", payload,
                                                  "signature", signature)
                                      : NULL;
        if (r == 0)
                r = request ? control_call(fd, request, reply, 5000, err)
                            : reins_error_set(err, ENOMEM, "out of memory");
        return r;
}

int control_signed_request(const char *session, const char *op, const struct audit_key *key,
                           json_t **reply, struct reins_error *err)
{
        json_auto_t *entry = NULL;
        int r = runtime_find(session, &entry, err);
        if (r < 0)
                return r;
        const char *id = json_string_value(json_object_get(entry, "session"));
        cleanup_fd int fd =
            id ? control_connect(id, err) : reins_error_set(err, EPROTO, "bad registry entry");
        if (fd < 0)
                return fd;
        return control_signed_call(fd, id, op, key, reply, err);
}

int control_request(const char *session, const json_t *request, json_t **reply,
                    struct reins_error *err)
{
        json_auto_t *entry = NULL;
        int r = runtime_find(session, &entry, err);
        if (r < 0)
                return r;
        const char *id = json_string_value(json_object_get(entry, "session"));
        int fd = id ? control_connect(id, err) : reins_error_set(err, EPROTO, "bad registry entry");
        if (fd < 0)
                return fd;
        r = control_call(fd, request, reply, 5000, err);
        close(fd);
        return r;
}

/* ---- one request to many sessions (reins ps) ------------------------------ */

/* At most this many connections open at once: well under a 1 024-fd limit. */
#define CONTROL_EACH_BATCH 256
#define CONTROL_EACH_REPLY (64 * 1024)

struct control_each_conn {
        size_t index; /* into the caller's arrays */
        size_t len;
        char *buf;
};

/* Connect to `dir`/SESSION.sock without blocking and send `text` (a line):
 * the fd, or -1 when the session cannot be asked. */
static int control_each_open(const char *dir, const char *session, const char *text, size_t len)
{
        struct sockaddr_un addr = {.sun_family = AF_UNIX};
        int n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s.sock", dir, session);
        if (n < 0 || (size_t)n >= sizeof(addr.sun_path))
                return -1;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        /* a Unix connect completes at once or fails (EAGAIN: a full backlog,
         * a supervisor that does not accept: no status, as on a timeout) */
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
            send(fd, text, len, MSG_NOSIGNAL) != (ssize_t)len) {
                close(fd);
                return -1;
        }
        return fd;
}

/* Read what is there; true once the connection is done with (a reply line
 * decoded into *reply, or nothing more to expect). */
static bool control_each_read(int fd, struct control_each_conn *c, json_t **reply)
{
        for (;;) {
                if (!c->buf && !(c->buf = malloc(CONTROL_EACH_REPLY)))
                        return true;
                if (c->len == CONTROL_EACH_REPLY)
                        return true; /* no line within the bound: no status */
                ssize_t n = recv(fd, c->buf + c->len, CONTROL_EACH_REPLY - c->len, MSG_DONTWAIT);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        return false;
                if (n <= 0)
                        return true;
                char *newline = memchr(c->buf + c->len, '\n', (size_t)n);
                c->len += (size_t)n;
                if (newline) {
                        json_auto_t *value =
                            json_loadb(c->buf, (size_t)(newline - c->buf), 0, NULL);
                        if (json_is_object(value))
                                *reply = steal_ptr(&value);
                        return true;
                }
        }
}

static int64_t control_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One batch: every connection opened and its request sent first, then the
 * replies read as they come, until all are in or the time is up. */
static void control_each_batch(const char *dir, const char *const *sessions, size_t count,
                               const char *text, size_t len, json_t **replies, int timeout_ms)
{
        struct pollfd fds[CONTROL_EACH_BATCH];
        struct control_each_conn conns[CONTROL_EACH_BATCH];
        size_t open_count = 0;
        for (size_t i = 0; i < count; i++) {
                int fd = sessions[i] ? control_each_open(dir, sessions[i], text, len) : -1;
                if (fd < 0)
                        continue;
                fds[open_count] = (struct pollfd){.fd = fd, .events = POLLIN};
                conns[open_count] = (struct control_each_conn){.index = i};
                open_count++;
        }
        int64_t deadline = control_now_ms() + timeout_ms;
        while (open_count > 0) {
                int64_t left = deadline - control_now_ms();
                int ready = left > 0 ? poll(fds, open_count, (int)left) : 0;
                if (ready < 0 && errno == EINTR)
                        continue;
                if (ready <= 0)
                        break;
                for (size_t k = 0; k < open_count;) {
                        if (!fds[k].revents ||
                            !control_each_read(fds[k].fd, &conns[k], &replies[conns[k].index])) {
                                k++;
                                continue;
                        }
                        /* done: the last one takes its place */
                        close(fds[k].fd);
                        free(conns[k].buf);
                        open_count--;
                        fds[k] = fds[open_count];
                        conns[k] = conns[open_count];
                }
        }
        for (size_t k = 0; k < open_count; k++) {
                close(fds[k].fd);
                free(conns[k].buf);
        }
}

void control_call_each(const char *const *sessions, size_t count, const json_t *request,
                       json_t **replies, int timeout_ms)
{
        for (size_t i = 0; i < count; i++)
                replies[i] = NULL;
        cleanup_free char *dir = NULL;
        if (count == 0 || runtime_dir(&dir, NULL) < 0)
                return;
        cleanup_free char *text = json_dumps(request, JSON_COMPACT);
        if (!text)
                return;
        size_t len = strlen(text);
        char *line = realloc(text, len + 2);
        if (!line)
                return;
        text = line;
        memcpy(text + len, "\n", 2);
        for (size_t first = 0; first < count; first += CONTROL_EACH_BATCH) {
                size_t n = count - first < CONTROL_EACH_BATCH ? count - first : CONTROL_EACH_BATCH;
                control_each_batch(dir, sessions + first, n, text, len + 1, replies + first,
                                   timeout_ms);
        }
}

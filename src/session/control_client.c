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
        return control_signed_call_by(fd, session, op, key, NULL, reply, err);
}

int control_signed_call_by(int fd, const char *session, const char *op, const struct audit_key *key,
                           const json_t *approver, json_t **reply, struct reins_error *err)
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
        if (r == 0 && (!payload ||
                       (approver && json_object_set(payload, "approver", (json_t *)approver) < 0)))
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

/* A session's own audit trail through the API: its records (GET
 * /v1/sessions/{id}/audit?type=PREFIX&limit=N) and its verification (GET
 * /v1/sessions/{id}/audit/verify), for auditors.
 *
 * The trail is written by the session's supervisor as the session's user;
 * the daemon (root, perhaps) reads it only as a regular file of that user,
 * opened without following a symlink at its name: a user cannot point the
 * daemon at a file of someone else's. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/trail.h"
#include "audit/verify.h"
#include "serve/record.h"
#include "serve/serve_internal.h"
#include "serve/sessions.h"
#include "util/cleanup.h"
#include "util/fileio.h"

#define AUDIT_API_TAIL      (8 << 20)   /* records: from the last 8 MiB */
#define AUDIT_API_VERIFY    (256 << 20) /* verification reads the whole trail */
#define AUDIT_API_LIMIT     1000
#define AUDIT_API_LIMIT_MAX 10000

/* The session's trail: where the daemon's record says, else (a session the
 * daemon did not start: its own user's) the default place. */
static char *audit_api_path(const struct serve_request *request, const json_t *entry)
{
        json_auto_t *record = serve_record_read(request->serve->sessions_dir, request->id);
        const char *recorded = json_string_value(json_object_get(record, "trail"));
        if (recorded)
                return strdup(recorded);
        uid_t uid = (uid_t)json_integer_value(json_object_get(entry, "uid"));
        return uid == request->serve->uid ? audit_trail_default_path(request->id, NULL) : NULL;
}

/* Open the trail as a regular file of the session's user. */
static int audit_api_open(const char *path, uid_t uid, struct stat *st)
{
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) || st->st_uid != uid) {
                close(fd);
                return -EPERM;
        }
        return fd;
}

int serve_api_trail_open(const struct serve_request *request, struct serve_reply *reply,
                         struct stat *st, json_t **entry_out)
{
        struct reins_error err = {0};
        json_auto_t *entry = NULL;
        int r = serve_sessions_find(request->serve, request->id, &entry, &err);
        if (r < 0) {
                serve_reply_error(reply, r == -ENOENT ? 404 : 500, "%s", err.message);
                return -1;
        }
        if (!serve_check_agent(request, reply, SERVE_RIGHT_READ_AUDIT, serve_session_policy(entry),
                               serve_session_agent(entry)))
                return -1;
        cleanup_free char *path = audit_api_path(request, entry);
        uid_t uid = (uid_t)json_integer_value(json_object_get(entry, "uid"));
        int fd = path ? audit_api_open(path, uid, st) : -ENOENT;
        if (fd < 0) {
                serve_reply_error(reply, 404, "session %s: no trail the daemon can read (%s)",
                                  request->id, strerror(-fd));
                return -1;
        }
        if (entry_out)
                *entry_out = json_incref(entry);
        return fd;
}

void serve_api_session_audit(const struct serve_request *request, struct serve_reply *reply)
{
        const char *type = serve_request_arg(request, "type");
        const char *limit_text = serve_request_arg(request, "limit");
        char *end = NULL;
        unsigned long limit = limit_text ? strtoul(limit_text, &end, 10) : AUDIT_API_LIMIT;
        if (limit_text && (!*limit_text || *end || limit == 0 || limit > AUDIT_API_LIMIT_MAX)) {
                serve_reply_error(reply, 400, "limit: expected 1 to %d", AUDIT_API_LIMIT_MAX);
                return;
        }
        struct stat st;
        cleanup_fd int fd = serve_api_trail_open(request, reply, &st, NULL);
        if (fd < 0)
                return;
        bool cut = st.st_size > AUDIT_API_TAIL;
        if (cut && lseek(fd, st.st_size - AUDIT_API_TAIL, SEEK_SET) < 0) {
                serve_reply_error(reply, 500, "reading the trail: %s", strerror(errno));
                return;
        }
        cleanup_free char *text = NULL;
        size_t length = 0;
        bool truncated = false;
        if (fileio_read_fd(fd, AUDIT_API_TAIL, &text, &length, &truncated) < 0) {
                serve_reply_error(reply, 500, "reading the trail failed");
                return;
        }
        json_t *records = json_array();
        char *line = text;
        /* cut: the first line may be a part of one; it is skipped */
        if (cut && (line = memchr(text, '\n', length)))
                line++;
        while (line && line < text + length) {
                char *newline = memchr(line, '\n', (size_t)(text + length - line));
                if (!newline)
                        break; /* a torn last write */
                json_t *record = json_loadb(line, (size_t)(newline - line), 0, NULL);
                const char *kind = json_string_value(json_object_get(record, "type"));
                if (json_is_object(record) &&
                    (!type || (kind && strncmp(kind, type, strlen(type)) == 0)))
                        json_array_append(records, record);
                json_decref(record);
                line = newline + 1;
        }
        /* the last `limit` of them */
        while (json_array_size(records) > limit)
                json_array_remove(records, 0);
        serve_reply_json(reply, 200,
                         json_pack("{s:s, s:o, s:b}", "session", request->id, "records", records,
                                   "truncated", cut));
}

void serve_api_session_audit_verify(const struct serve_request *request, struct serve_reply *reply)
{
        struct stat st;
        cleanup_fd int fd = serve_api_trail_open(request, reply, &st, NULL);
        if (fd < 0)
                return;
        if (st.st_size > AUDIT_API_VERIFY) {
                serve_reply_error(reply, 413,
                                  "the trail is larger than 256 MiB: verify it with "
                                  "'reins audit verify' on the host");
                return;
        }
        cleanup_free char *text = NULL;
        size_t length = 0;
        bool truncated = false;
        if (fileio_read_fd(fd, AUDIT_API_VERIFY, &text, &length, &truncated) < 0 || truncated) {
                serve_reply_error(reply, 500, "reading the trail failed");
                return;
        }
        /* trusted: the daemon's user's key, for that user's sessions; for
         * another user's, any consistent key (the answer says which) */
        json_auto_t *entry = NULL;
        struct reins_error err = {0};
        char trusted[65] = "";
        bool own = serve_sessions_find(request->serve, request->id, &entry, &err) == 0 &&
                   (uid_t)json_integer_value(json_object_get(entry, "uid")) == request->serve->uid;
        if (own && audit_user_public_key_hex(trusted, &err) < 0)
                trusted[0] = '\0';
        struct audit_verify_result result;
        audit_verify_buffer(text, length, trusted[0] ? trusted : NULL, &result);
        serve_reply_json(
            reply, 200,
            json_pack("{s:s, s:s, s:b, s:I, s:I, s:I, s:b, s:s, s:s, s:b}", "session", request->id,
                      "verdict", audit_verdict_name(result.verdict), "intact",
                      result.verdict == AUDIT_INTACT, "records", (json_int_t)result.records,
                      "checkpoints", (json_int_t)result.checkpoints, "bad_record",
                      (json_int_t)result.bad_record, "torn_tail", result.torn_tail, "key",
                      result.key, "message", result.message, "key_trusted", trusted[0] != '\0'));
}

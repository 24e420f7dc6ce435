/* The daemon's API tokens (serve/tokens.h). */
#include "serve/tokens.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/clock.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fileio.h"
#include "util/path.h"

#define TOKENS_FILE "tokens.json"
#define TOKENS_LOCK ".tokens.lock"
#define TOKENS_MAX  (4 << 20)

static void tokens_hash_hex(const char *token, char out[2 * DIGEST_SHA256_BYTES + 1])
{
        unsigned char digest[DIGEST_SHA256_BYTES];
        digest_sha256(token, strlen(token), digest);
        sodium_bin2hex(out, 2 * DIGEST_SHA256_BYTES + 1, digest, sizeof(digest));
}

/* The store, read whole: an array (empty when there is no file yet). The
 * file must be a regular file of ours that nobody else may read. */
static int tokens_read(int dir, json_t **tokens, struct reins_error *err)
{
        cleanup_fd int fd = openat(dir, TOKENS_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT) {
                *tokens = json_array();
                return *tokens ? 0 : reins_error_set(err, ENOMEM, "out of memory");
        }
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return reins_error_errno(err, errno, "reading %s", TOKENS_FILE);
        if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
                return reins_error_set(err, EPERM,
                                       "%s must be a file of uid %u that nobody else may read",
                                       TOKENS_FILE, (unsigned)geteuid());
        cleanup_free char *text = NULL;
        size_t length = 0;
        bool truncated = false;
        int r = fileio_read_fd(fd, TOKENS_MAX, &text, &length, &truncated);
        if (r < 0 || truncated)
                return reins_error_set(err, EIO, "%s: unreadable or too large", TOKENS_FILE);
        json_error_t jerr;
        *tokens = json_loadb(text, length, 0, &jerr);
        if (!json_is_array(*tokens)) {
                json_decref(*tokens);
                *tokens = NULL;
                return reins_error_set(err, EINVAL, "%s: not a JSON array", TOKENS_FILE);
        }
        return 0;
}

static int tokens_write(int dir, const json_t *tokens, struct reins_error *err)
{
        static const char tmp[] = "." TOKENS_FILE ".tmp";
        cleanup_free char *text = json_dumps(tokens, JSON_INDENT(1) | JSON_SORT_KEYS);
        if (!text)
                return reins_error_set(err, ENOMEM, "out of memory");
        cleanup_fd int fd =
            openat(dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return reins_error_errno(err, errno, "writing %s", TOKENS_FILE);
        int r = fileio_write_all(fd, text, strlen(text));
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r == 0 && renameat(dir, tmp, dir, TOKENS_FILE) < 0)
                r = -errno;
        if (r < 0) {
                unlinkat(dir, tmp, 0);
                return reins_error_errno(err, -r, "writing %s", TOKENS_FILE);
        }
        return 0;
}

/* The state directory, opened, and the store's lock taken (creations and
 * revocations do not lose each other's writes). */
static int tokens_open_locked(const char *state_dir, int *dir, int *lock, struct reins_error *err)
{
        *dir = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (*dir < 0)
                return reins_error_errno(err, errno, "%s", state_dir);
        *lock = openat(*dir, TOKENS_LOCK, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (*lock < 0 || flock(*lock, LOCK_EX) < 0)
                return reins_error_errno(err, errno, "locking the tokens of %s", state_dir);
        return 0;
}

static bool tokens_valid_name(const char *name)
{
        size_t n =
            strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
        return n > 0 && n <= SERVE_TOKEN_NAME && name[n] == '\0';
}

/* The index of the token named `name`, or -1. */
static ssize_t tokens_index_of(json_t *tokens, const char *name)
{
        size_t i;
        json_t *entry;
        json_array_foreach(tokens, i, entry)
        {
                const char *have = json_string_value(json_object_get(entry, "name"));
                if (have && strcmp(have, name) == 0)
                        return (ssize_t)i;
        }
        return -1;
}

int serve_tokens_create(const char *state_dir, const struct serve_token_request *request,
                        char token[SERVE_TOKEN_TEXT], struct reins_error *err)
{
        if (!tokens_valid_name(request->name))
                return reins_error_set(err, EINVAL,
                                       "a token's name is 1-64 letters, digits, '.', '_' or '-'");
        if (request->role == SERVE_ROLE_NONE)
                return reins_error_set(err, EINVAL, "a token needs a role");
        if (request->role == SERVE_ROLE_OPERATOR && request->policies->count == 0)
                return reins_error_set(err, EINVAL,
                                       "an operator's token needs its policies (--policy)");
        if (request->role != SERVE_ROLE_OPERATOR && request->role != SERVE_ROLE_APPROVER &&
            request->policies->count > 0)
                return reins_error_set(err, EINVAL,
                                       "only an operator's or an approver's token takes policies");
        size_t agent_count = request->agents ? request->agents->count : 0;
        if (request->role != SERVE_ROLE_OPERATOR && request->role != SERVE_ROLE_APPROVER &&
            agent_count > 0)
                return reins_error_set(err, EINVAL,
                                       "only an operator's or an approver's token takes agents");
        for (size_t a = 0; a < agent_count; a++)
                if (!request->agents->items[a][0] || strlen(request->agents->items[a]) > 128)
                        return reins_error_set(err, EINVAL,
                                               "--agent: an agent's name (a policy's agent:), "
                                               "1-128 characters");
        cleanup_fd int dir = -1, lock = -1;
        json_auto_t *tokens = NULL;
        int r = tokens_open_locked(state_dir, &dir, &lock, err);
        if (r < 0 || (r = tokens_read(dir, &tokens, err)) < 0)
                return r;
        if (tokens_index_of(tokens, request->name) >= 0)
                return reins_error_set(err, EEXIST, "a token named %s exists", request->name);
        unsigned char raw[32];
        randombytes_buf(raw, sizeof(raw));
        memcpy(token, SERVE_TOKEN_PREFIX, 4);
        sodium_bin2hex(token + 4, SERVE_TOKEN_TEXT - 4, raw, sizeof(raw));
        sodium_memzero(raw, sizeof(raw));
        char hash[2 * DIGEST_SHA256_BYTES + 1];
        tokens_hash_hex(token, hash);
        char now[AUDIT_TIME_MAX];
        audit_time_now(now);
        json_t *policies = json_array();
        for (size_t p = 0; policies && p < request->policies->count; p++)
                json_array_append_new(policies, json_string(request->policies->items[p]));
        json_t *record =
            json_pack("{s:s, s:s, s:s, s:o, s:I, s:s}", "name", request->name, "sha256", hash,
                      "role", serve_role_name(request->role), "policies", policies, "uid",
                      (json_int_t)request->uid, "created", now);
        if (record && agent_count > 0) {
                json_t *agents = json_array();
                for (size_t a = 0; agents && a < agent_count; a++)
                        json_array_append_new(agents, json_string(request->agents->items[a]));
                json_object_set_new(record, "agents", agents);
        }
        if (!record || json_array_append_new(tokens, record) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        return tokens_write(dir, tokens, err);
}

int serve_tokens_revoke(const char *state_dir, const char *name, struct reins_error *err)
{
        cleanup_fd int dir = -1, lock = -1;
        json_auto_t *tokens = NULL;
        int r = tokens_open_locked(state_dir, &dir, &lock, err);
        if (r < 0 || (r = tokens_read(dir, &tokens, err)) < 0)
                return r;
        ssize_t at = tokens_index_of(tokens, name);
        if (at >= 0) {
                json_array_remove(tokens, (size_t)at);
                return tokens_write(dir, tokens, err);
        }
        return reins_error_set(err, ENOENT, "no token named %s", name);
}

int serve_tokens_list(const char *state_dir, json_t **list, struct reins_error *err)
{
        cleanup_fd int dir = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dir < 0)
                return reins_error_errno(err, errno, "%s", state_dir);
        int r = tokens_read(dir, list, err);
        if (r < 0)
                return r;
        size_t i;
        json_t *entry;
        json_array_foreach(*list, i, entry) json_object_del(entry, "sha256");
        return 0;
}

static enum serve_role tokens_role(const char *name)
{
        for (int role = SERVE_ROLE_ADMIN; role <= SERVE_ROLE_AUDITOR; role++)
                if (name && strcmp(name, serve_role_name((enum serve_role)role)) == 0)
                        return (enum serve_role)role;
        return SERVE_ROLE_NONE;
}

int serve_tokens_lookup(const char *state_dir, const char *presented, struct serve_grant *grant,
                        char name[SERVE_TOKEN_NAME + 1])
{
        memset(grant, 0, sizeof(*grant));
        if (!presented || strlen(presented) != SERVE_TOKEN_TEXT - 1 ||
            strncmp(presented, SERVE_TOKEN_PREFIX, 4) != 0)
                return -EACCES;
        cleanup_fd int dir = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        json_auto_t *tokens = NULL;
        if (dir < 0 || tokens_read(dir, &tokens, NULL) < 0)
                return -EACCES;
        char hash[2 * DIGEST_SHA256_BYTES + 1];
        tokens_hash_hex(presented, hash);
        size_t i;
        json_t *entry;
        json_array_foreach(tokens, i, entry)
        {
                const char *stored = json_string_value(json_object_get(entry, "sha256"));
                /* compared in constant time: no timing tells how much of a
                 * guess was right */
                if (!stored || strlen(stored) != sizeof(hash) - 1 ||
                    sodium_memcmp(stored, hash, sizeof(hash) - 1) != 0)
                        continue;
                grant->role = tokens_role(json_string_value(json_object_get(entry, "role")));
                grant->uid = (uid_t)json_integer_value(json_object_get(entry, "uid"));
                size_t p;
                json_t *policy;
                json_array_foreach(
                    json_object_get(entry, "policies"), p,
                    policy) if (json_is_string(policy) &&
                                strv_push(&grant->policies, json_string_value(policy)) < 0)
                {
                        strv_free(&grant->policies);
                        return -ENOMEM;
                }
                json_t *agent;
                json_array_foreach(json_object_get(entry, "agents"), p,
                                   agent) if (json_is_string(agent) &&
                                              strv_push(&grant->agents, json_string_value(agent)) <
                                                  0)
                {
                        strv_free(&grant->policies);
                        strv_free(&grant->agents);
                        return -ENOMEM;
                }
                snprintf(name, SERVE_TOKEN_NAME + 1, "%s",
                         json_string_value(json_object_get(entry, "name")) ?: "?");
                return grant->role == SERVE_ROLE_NONE ? -EACCES : 0;
        }
        return -EACCES;
}

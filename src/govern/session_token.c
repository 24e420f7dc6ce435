/* A token in use by one session: verify, bind, count, check (session_token.h). */
#include "govern/session_token.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/dirs.h"
#include "govern/token_revoke.h"
#include "util/cleanup.h"
#include "util/path.h"

#define USES_FILE_MAX (1 << 20)

static int read_token_text(const char *file, char **out, struct reins_error *err)
{
        int fd = strcmp(file, "-") == 0 ? dup(STDIN_FILENO) : open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return reins_error_errno(err, errno, "--token %s", file);
        char *text = malloc(TOKEN_MAX_TEXT + 1);
        size_t len = 0;
        ssize_t n = 0;
        while (text && len <= TOKEN_MAX_TEXT &&
               (n = read(fd, text + len, TOKEN_MAX_TEXT + 1 - len)) > 0)
                len += (size_t)n;
        int e = errno;
        close(fd);
        if (!text)
                return reins_error_set(err, ENOMEM, "out of memory");
        if (n < 0 || len > TOKEN_MAX_TEXT) {
                free(text);
                return n < 0 ? reins_error_errno(err, e, "--token %s", file)
                             : reins_error_set(err, EFBIG, "--token %s: larger than a token", file);
        }
        text[len] = '\0';
        *out = text;
        return 0;
}

/* reins' private tokens/ directory (0700, ours). */
static int tokens_dir(char **out, struct reins_error *err)
{
        cleanup_free char *config = NULL;
        int r = audit_config_dir(&config, true, err);
        if (r < 0)
                return r;
        *out = path_join(config, "tokens");
        if (!*out)
                return reins_error_set(err, ENOMEM, "out of memory");
        char *bound = path_join(*out, "bound");
        r = !bound ? reins_error_set(err, ENOMEM, "out of memory")
                   : audit_dir_check(*out, true, AUDIT_DIR_PRIVATE, err);
        if (r == 0)
                r = audit_dir_check(bound, true, AUDIT_DIR_PRIVATE, err);
        free(bound);
        if (r < 0) {
                free(*out);
                *out = NULL;
        }
        return r;
}

/* tokens/bound/ID names the one session that may use the token. */
static int token_bind(const char *dir, const char *id, const struct session_token_context *ctx,
                      struct reins_error *err)
{
        cleanup_free char *path = NULL;
        if (asprintf(&path, "%s/bound/%s", dir, id) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
                dprintf(fd, "{\"session\":\"%s\",\"agent_key\":\"%s\",\"time\":%lld}\n",
                        ctx->session, ctx->agent_key_hex, (long long)time(NULL));
                int r = fsync(fd) < 0 ? -errno : 0;
                close(fd);
                return r < 0 ? reins_error_errno(err, -r, "recording the token binding") : 0;
        }
        if (errno != EEXIST)
                return reins_error_errno(err, errno, "recording the token binding %s", path);
        json_error_t jerr;
        json_auto_t *bound = json_load_file(path, 0, &jerr);
        const char *session = bound ? json_string_value(json_object_get(bound, "session")) : NULL;
        const char *key = bound ? json_string_value(json_object_get(bound, "agent_key")) : NULL;
        int r = 0;
        /* --resume names the copy-on-write session (its id, or a prefix of at
         * least 8 characters), which is the run that bound the token */
        if (ctx->resume && session && strlen(ctx->resume_of) >= 8 &&
            strncmp(session, ctx->resume_of, strlen(ctx->resume_of)) == 0)
                r = 0;
        else
                r = reins_error_set(err, EPERM,
                                    "token refused: already bound to session %s (agent key "
                                    "%.16s...): a token is good for one session; attenuate "
                                    "it once per session ('reins token attenuate')",
                                    session ? session : "?", key ? key : "?");
        return r;
}

struct use_count {
        char id[TOKEN_ID_HEX + 1];
        uint64_t count;
};

static size_t uses_parse(const char *text, struct use_count *counts, size_t max)
{
        size_t n = 0;
        const char *p = text;
        while (*p && n < max) {
                char id[TOKEN_ID_HEX + 1];
                uint64_t count;
                int used = 0;
                if (sscanf(p, "%32s %" SCNu64 "%n", id, &count, &used) == 2 && token_id_valid(id)) {
                        snprintf(counts[n].id, sizeof(counts[n].id), "%s", id);
                        counts[n++].count = count;
                }
                const char *nl = strchr(p, '\n');
                if (!nl)
                        break;
                p = nl + 1;
        }
        return n;
}

static struct use_count *uses_find(struct use_count *counts, size_t n, const char *id)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(counts[i].id, id) == 0)
                        return &counts[i];
        return NULL;
}

/* One more use of every block; refused when a block's `uses` would pass. */
static int token_count_use(const char *dir, const struct token *token, struct reins_error *err)
{
        cleanup_free char *path = path_join(dir, "uses");
        if (!path)
                return reins_error_set(err, ENOMEM, "out of memory");
        cleanup_fd int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 || flock(fd, LOCK_EX) < 0)
                return reins_error_errno(err, errno, "token use counts %s", path);
        size_t max = USES_FILE_MAX / (TOKEN_ID_HEX + 2) + TOKEN_MAX_BLOCKS;
        cleanup_free struct use_count *counts = calloc(max, sizeof(*counts));
        cleanup_free char *text = calloc(1, USES_FILE_MAX + 1);
        if (!counts || !text)
                return reins_error_set(err, ENOMEM, "out of memory");
        ssize_t got = pread(fd, text, USES_FILE_MAX, 0);
        if (got < 0)
                return reins_error_errno(err, errno, "token use counts %s", path);
        size_t n = uses_parse(text, counts, max - TOKEN_MAX_BLOCKS);
        for (size_t i = 0; i < token->count; i++) {
                const struct token_block *b = &token->blocks[i];
                struct use_count *c = uses_find(counts, n, b->id);
                if (!c) {
                        c = &counts[n++];
                        snprintf(c->id, sizeof(c->id), "%s", b->id);
                }
                if (b->restrictions.has_uses && c->count >= b->restrictions.uses)
                        return reins_error_set(
                            err, EPERM,
                            "token refused: block %s allows %" PRIu64 " use%s and all are spent",
                            b->id, b->restrictions.uses, b->restrictions.uses == 1 ? "" : "s");
                c->count++;
        }
        /* rewrite in place under the lock; a crash mid-write leaves counts
         * no lower than they were for the blocks written (fail closed) */
        cleanup_fclose FILE *out = fdopen(dup(fd), "w");
        if (!out)
                return reins_error_errno(err, errno, "token use counts %s", path);
        for (size_t i = 0; i < n; i++)
                fprintf(out, "%s %" PRIu64 "\n", counts[i].id, counts[i].count);
        if (fflush(out) != 0 || fsync(fd) < 0)
                return reins_error_errno(err, errno, "token use counts %s", path);
        return 0;
}

static int token_check_start(struct session_token *st, const struct session_token_context *ctx,
                             struct reins_error *err)
{
        if (st->rights.agent_conflict)
                return reins_error_set(err, EPERM,
                                       "token refused: its blocks name different agents");
        if (!token_check_agent(&st->rights, ctx->agent))
                return reins_error_set(err, EPERM,
                                       "token refused: it is for agent '%s', this session's "
                                       "agent is '%s' (set `agent:` in the policy)",
                                       st->rights.agent, ctx->agent[0] ? ctx->agent : "(none)");
        if (!token_check_cmd(&st->rights, ctx->command))
                return reins_error_set(
                    err, EPERM, "token refused: it does not allow the command '%s'", ctx->command);
        return 0;
}

int session_token_load(const char *file, const unsigned char *user_public,
                       struct session_token *out, struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        struct reins_strv revoked = {0};
        enum token_failure failure = TOKEN_OK;
        int r = read_token_text(file, &out->text, err);
        if (r < 0)
                return r;
        struct reins_error why = {0};
        if ((r = token_revoked_load(&revoked, err)) < 0)
                goto fail;
        if (token_decode(out->text, user_public, &out->token, &failure, &why) < 0 ||
            token_verify(&out->token, user_public, (int64_t)time(NULL), &revoked, &failure, &why) <
                0) {
                r = reins_error_set(err, EPERM, "token refused: %s: %s",
                                    token_failure_name(failure), why.message);
                goto fail;
        }
        snprintf(out->id, sizeof(out->id), "%s", out->token.blocks[out->token.count - 1].id);
        if ((r = token_effective_rights(&out->token, &out->rights, err)) < 0)
                goto fail;
        strv_free(&revoked);
        return 0;
fail:
        strv_free(&revoked);
        session_token_close(out);
        return r;
}

int session_token_bind(struct session_token *st, const struct session_token_context *ctx,
                       struct reins_error *err)
{
        cleanup_free char *dir = NULL;
        int r;
        if ((r = token_check_start(st, ctx, err)) < 0 || (r = tokens_dir(&dir, err)) < 0 ||
            (r = token_bind(dir, st->id, ctx, err)) < 0)
                return r;
        if (!ctx->resume && (r = token_count_use(dir, &st->token, err)) < 0)
                return r;
        return 0;
}

void session_token_close(struct session_token *st)
{
        if (!st)
                return;
        token_rights_free(&st->rights);
        token_free(&st->token);
        free(st->text);
        memset(st, 0, sizeof(*st));
}

bool session_token_allows_dest(struct session_token *st, const char *host, uint16_t port,
                               const char **reason)
{
        if (st->revoked) {
                *reason = "the session's token was revoked";
                return false;
        }
        if (!token_check_time(&st->rights, (int64_t)time(NULL))) {
                *reason = "the session's token has expired";
                return false;
        }
        if (!token_check_dest(&st->rights, host, port)) {
                *reason = "not among the token's destinations";
                return false;
        }
        return true;
}

bool session_token_allows_cmd(const struct session_token *st, const char *name)
{
        return !st->revoked && token_check_cmd(&st->rights, name);
}

bool session_token_refresh(struct session_token *st)
{
        if (st->revoked)
                return false;
        struct reins_strv ids = {0};
        struct reins_error err = {0};
        bool now_revoked = false;
        if (token_revoked_load(&ids, &err) < 0) {
                now_revoked = true; /* an untrustworthy list may hide a revocation */
        } else {
                for (size_t i = 0; i < st->token.count && !now_revoked; i++)
                        for (size_t j = 0; j < ids.count; j++)
                                if (strcmp(ids.items[j], st->token.blocks[i].id) == 0) {
                                        now_revoked = true;
                                        break;
                                }
        }
        strv_free(&ids);
        st->revoked = now_revoked;
        return now_revoked;
}

static json_t *sets_json(const struct token_pattern_sets *sets)
{
        json_t *list = json_array();
        for (size_t i = 0; list && i < sets->count; i++) {
                json_t *set = json_array();
                for (size_t j = 0; set && j < sets->sets[i].count; j++)
                        json_array_append_new(set, json_string(sets->sets[i].items[j]));
                json_array_append_new(list, set);
        }
        return list;
}

json_t *session_token_json(const struct session_token *st)
{
        json_t *blocks = json_array();
        for (size_t i = 0; blocks && i < st->token.count; i++)
                json_array_append_new(blocks, json_string(st->token.blocks[i].id));
        json_t *o = json_pack("{s:s, s:o, s:o, s:o, s:o}", "id", st->id, "blocks", blocks, "dest",
                              sets_json(&st->rights.dest), "path", sets_json(&st->rights.path),
                              "cmd", sets_json(&st->rights.cmd));
        if (o && st->rights.has_expires)
                json_object_set_new(o, "expires", json_integer(st->rights.expires));
        if (o && st->rights.has_uses)
                json_object_set_new(o, "uses", json_integer((json_int_t)st->rights.uses));
        if (o && st->rights.agent)
                json_object_set_new(o, "agent", json_string(st->rights.agent));
        return o;
}

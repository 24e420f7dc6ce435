#include "audit/verify.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/checkpoint.h"
#include "audit/keys.h"
#include "audit/merkle.h"
#include "audit/session_key.h"
#include "util/fileio.h"
#include "util/digest.h"
#include "util/cleanup.h"

const char *audit_verdict_name(enum audit_verdict verdict)
{
        switch (verdict) {
        case AUDIT_INTACT:
                return "intact";
        case AUDIT_ALTERED:
                return "altered";
        case AUDIT_DELETED:
                return "deleted";
        case AUDIT_REORDERED:
                return "reordered";
        case AUDIT_APPENDED:
                return "appended";
        case AUDIT_UNSEALED:
                return "unsealed";
        case AUDIT_BAD_SIGNATURE:
                return "bad signature";
        case AUDIT_UNTRUSTED_KEY:
                return "untrusted key";
        case AUDIT_BAD_CERTIFICATE:
                return "bad certificate";
        }
        return "?";
}

/* What the first pass learns about each line. */
struct verify_line {
        const char *start;
        size_t length;
        int64_t seq; /* -1: not a record (unparseable or no seq) */
        bool has_prev;
        char prev[65];
        json_t *checkpoint; /* the parsed record when type == checkpoint */
        json_t *certified;  /* the parsed record when it carries a session certificate */
};

/* The session certificate met so far (audit/session_key.h). */
struct verify_chain {
        size_t cert_at;    /* SIZE_MAX: none seen yet */
        size_t first_cert; /* the first line carrying one (pre-pass); SIZE_MAX: none */
        struct audit_session_cert cert;
};

static void verify_parse_line(struct verify_line *line)
{
        line->seq = -1;
        json_t *record = json_loadb(line->start, line->length, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(record)) {
                json_decref(record);
                return;
        }
        const json_t *seq = json_object_get(record, "seq");
        const char *prev = json_string_value(json_object_get(record, "prev"));
        if (json_is_integer(seq) && json_integer_value(seq) >= 0)
                line->seq = json_integer_value(seq);
        if (prev && strlen(prev) == 64) {
                memcpy(line->prev, prev, 65);
                line->has_prev = true;
        }
        const char *type = json_string_value(json_object_get(record, "type"));
        if (type && strcmp(type, "checkpoint") == 0)
                line->checkpoint = json_incref(record);
        if (json_object_get(record, AUDIT_CERT_FIELD))
                line->certified = json_incref(record);
        json_decref(record);
}

static void verify_set(struct audit_verify_result *out, enum audit_verdict verdict, uint64_t record,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void verify_set(struct audit_verify_result *out, enum audit_verdict verdict, uint64_t record,
                       const char *fmt, ...)
{
        out->verdict = verdict;
        out->bad_record = record;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(out->message, sizeof(out->message), fmt, ap);
        va_end(ap);
}

/* The chain breaks at line i (its prev is not the hash of line i-1): tell
 * apart an altered predecessor, a deletion and a reordering by the seqs. */
static void verify_classify_break(const struct verify_line *lines, size_t count, size_t i,
                                  struct audit_verify_result *out)
{
        int64_t seq = lines[i].seq;
        if (seq == (int64_t)i) {
                if (i == 0)
                        verify_set(out, AUDIT_ALTERED, 0,
                                   "record 0 altered: its prev is not the 64 zeros of a first "
                                   "record");
                else
                        verify_set(out, AUDIT_ALTERED, i - 1,
                                   "record %zu altered: its hash does not match record %zu's prev",
                                   i - 1, i);
                return;
        }
        if (seq > (int64_t)i) {
                for (size_t j = i + 1; j < count; j++)
                        if (lines[j].seq == (int64_t)i) {
                                verify_set(out, AUDIT_REORDERED, i,
                                           "record %zu reordered: found at line %zu, record "
                                           "%lld stands in its place (line %zu)",
                                           i, j + 1, (long long)seq, i + 1);
                                return;
                        }
                /* "follows record i-1", or at the top, where it starts */
                char where[64];
                if (i == 0)
                        snprintf(where, sizeof(where), "the trail starts at record %lld",
                                 (long long)seq);
                else
                        snprintf(where, sizeof(where), "record %lld follows record %zu",
                                 (long long)seq, i - 1);
                if (seq == (int64_t)i + 1)
                        verify_set(out, AUDIT_DELETED, i, "record %zu deleted: %s", i, where);
                else
                        verify_set(out, AUDIT_DELETED, i, "records %zu to %lld deleted: %s", i,
                                   (long long)seq - 1, where);
                return;
        }
        verify_set(out, AUDIT_REORDERED, i,
                   "record %zu reordered: line %zu holds record %lld, which belongs earlier", i,
                   i + 1, (long long)seq);
}

/* The record at line i carries a session certificate: the only one a
 * trail may hold, for this trail's session, signed by the user's key. */
static bool verify_certificate(const json_t *record, size_t i, struct verify_chain *chain,
                               const char *trusted_key, struct audit_verify_result *out)
{
        char why[200];
        if (chain->cert_at != SIZE_MAX) {
                verify_set(out, AUDIT_BAD_CERTIFICATE, i,
                           "record %zu: a second session certificate (the first is record %zu)", i,
                           chain->cert_at);
                return false;
        }
        if (audit_session_cert_from_json(json_object_get(record, AUDIT_CERT_FIELD), &chain->cert,
                                         why, sizeof(why)) < 0) {
                verify_set(out, AUDIT_BAD_CERTIFICATE, i, "record %zu: %s", i, why);
                return false;
        }
        if (!audit_session_cert_signature_valid(&chain->cert)) {
                verify_set(out, AUDIT_BAD_CERTIFICATE, i,
                           "record %zu: the session certificate's signature is invalid", i);
                return false;
        }
        const char *session = json_string_value(json_object_get(record, "session"));
        if (!session || strcmp(session, chain->cert.session) != 0) {
                verify_set(out, AUDIT_BAD_CERTIFICATE, i,
                           "record %zu: the session certificate is for session %.40s, this trail "
                           "is session %.40s",
                           i, chain->cert.session, session ? session : "(none)");
                return false;
        }
        /* the policy the user's key vouched for is the one the session ran */
        const char *policy =
            json_string_value(json_object_get(json_object_get(record, "policy"), "sha256"));
        if (chain->cert.policy_sha256[0] && policy &&
            strcmp(policy, chain->cert.policy_sha256) != 0) {
                verify_set(out, AUDIT_BAD_CERTIFICATE, i,
                           "record %zu: the session certificate is for policy %.12s..., the "
                           "record says policy %.12s...",
                           i, chain->cert.policy_sha256, policy);
                return false;
        }
        audit_hex(chain->cert.user_key, sizeof(chain->cert.user_key), out->key);
        audit_hex(chain->cert.session_key, sizeof(chain->cert.session_key), out->session_key);
        if (trusted_key && strcasecmp(trusted_key, out->key) != 0) {
                verify_set(out, AUDIT_UNTRUSTED_KEY, i,
                           "record %zu: session certificate signed with key %s, not the trusted "
                           "key %s",
                           i, out->key, trusted_key);
                return false;
        }
        chain->cert_at = i;
        return true;
}

/* A checkpoint at line i: its tree must cover exactly lines 0..i-1 with
 * the root we computed, and its signature must verify. */
static bool verify_checkpoint(const struct verify_line *line, size_t i,
                              const struct merkle_frontier *frontier,
                              const struct verify_chain *chain, const char *trusted_key,
                              struct audit_verify_result *out, bool *final)
{
        struct audit_checkpoint c;
        char why[256];
        if (audit_checkpoint_from_json(line->checkpoint, &c, why, sizeof(why)) < 0) {
                verify_set(out, AUDIT_ALTERED, i, "record %zu altered: %s", i, why);
                return false;
        }
        unsigned char root[MERKLE_HASH_BYTES];
        merkle_frontier_root(frontier, root);
        if (c.tree_size != i || sodium_memcmp(root, c.root, sizeof(root)) != 0) {
                verify_set(out, AUDIT_ALTERED, i,
                           "record %zu altered: checkpoint Merkle root does not match records "
                           "0 to %zu",
                           i, i == 0 ? 0 : i - 1);
                return false;
        }
        if (!audit_checkpoint_signature_valid(&c)) {
                verify_set(out, AUDIT_BAD_SIGNATURE, i, "record %zu: checkpoint signature invalid",
                           i);
                return false;
        }
        char key[65];
        audit_hex(c.public_key, sizeof(c.public_key), key);
        if (chain->cert_at != SIZE_MAX) {
                /* user key → certificate → this checkpoint */
                if (audit_session_cert_check(&chain->cert, c.session, c.public_key, c.time, why,
                                             sizeof(why)) < 0) {
                        verify_set(out, AUDIT_BAD_CERTIFICATE, i, "record %zu: checkpoint %s", i,
                                   why);
                        return false;
                }
                *final = c.final;
                out->checkpoints++;
                return true;
        }
        if (chain->first_cert != SIZE_MAX) {
                verify_set(out, AUDIT_BAD_CERTIFICATE, i,
                           "record %zu: checkpoint comes before the session certificate (record "
                           "%zu) that should vouch for its key",
                           i, chain->first_cert);
                return false;
        }
        out->legacy = true; /* a trail from before session keys */
        if (out->key[0] && strcmp(out->key, key) != 0) {
                verify_set(out, AUDIT_BAD_SIGNATURE, i,
                           "record %zu: checkpoint signed with key %.16s..., earlier ones with "
                           "%.16s...",
                           i, key, out->key);
                return false;
        }
        memcpy(out->key, key, sizeof(key));
        if (trusted_key && strcasecmp(trusted_key, key) != 0) {
                verify_set(out, AUDIT_UNTRUSTED_KEY, i,
                           "record %zu: checkpoint signed with key %s, not the trusted key %s", i,
                           key, trusted_key);
                return false;
        }
        *final = c.final;
        out->checkpoints++;
        return true;
}

void audit_verify_buffer(const char *data, size_t length, const char *trusted_key,
                         struct audit_verify_result *out)
{
        memset(out, 0, sizeof(*out));
        /* split into complete lines; a last line without '\n' is torn */
        size_t count = 0, capacity = 1024;
        struct verify_line *lines = calloc(capacity, sizeof(*lines));
        const char *p = data, *end = data + length;
        while (lines && p < end) {
                const char *newline = memchr(p, '\n', (size_t)(end - p));
                if (!newline) {
                        out->torn_tail = true;
                        break;
                }
                if (count == capacity) {
                        struct verify_line *grown = realloc(lines, 2 * capacity * sizeof(*lines));
                        if (!grown) {
                                free(lines);
                                lines = NULL;
                                break;
                        }
                        lines = grown;
                        memset(lines + capacity, 0, capacity * sizeof(*lines));
                        capacity *= 2;
                }
                lines[count].start = p;
                lines[count].length = (size_t)(newline - p);
                verify_parse_line(&lines[count]);
                count++;
                p = newline + 1;
        }
        if (!lines) {
                verify_set(out, AUDIT_ALTERED, 0, "out of memory");
                return;
        }
        out->records = count;

        struct verify_chain chain = {.cert_at = SIZE_MAX, .first_cert = SIZE_MAX};
        for (size_t i = 0; i < count && chain.first_cert == SIZE_MAX; i++)
                if (lines[i].certified)
                        chain.first_cert = i;
        struct merkle_frontier frontier;
        merkle_frontier_init(&frontier);
        char expected_prev[65];
        memset(expected_prev, '0', 64);
        expected_prev[64] = '\0';
        bool broken = false, sealed = false;
        size_t last_checkpoint = SIZE_MAX, final_at = SIZE_MAX;
        for (size_t i = 0; i < count && !broken; i++) {
                const struct verify_line *line = &lines[i];
                if (sealed) {
                        verify_set(out, AUDIT_APPENDED, i,
                                   "record %zu appended after the final checkpoint (record %zu)", i,
                                   final_at);
                        broken = true;
                        break;
                }
                if (line->seq < 0 || !line->has_prev) {
                        verify_set(out, AUDIT_ALTERED, i,
                                   "record %zu altered: line %zu is not a valid record", i, i + 1);
                        broken = true;
                        break;
                }
                if (strcmp(line->prev, expected_prev) != 0) {
                        verify_classify_break(lines, count, i, out);
                        broken = true;
                        break;
                }
                if (line->seq != (int64_t)i) {
                        /* the chain holds, so this line itself was edited */
                        verify_set(out, AUDIT_ALTERED, i, "record %zu altered: it claims seq %lld",
                                   i, (long long)line->seq);
                        broken = true;
                        break;
                }
                if (line->certified &&
                    !verify_certificate(line->certified, i, &chain, trusted_key, out)) {
                        broken = true;
                        break;
                }
                if (line->checkpoint) {
                        bool final = false;
                        if (!verify_checkpoint(line, i, &frontier, &chain, trusted_key, out,
                                               &final)) {
                                broken = true;
                                break;
                        }
                        last_checkpoint = i;
                        if (final) {
                                sealed = true;
                                final_at = i;
                        }
                }
                unsigned char hash[DIGEST_SHA256_BYTES], leaf[MERKLE_HASH_BYTES];
                digest_sha256(line->start, line->length, hash);
                audit_hex(hash, sizeof(hash), expected_prev);
                merkle_leaf_hash(line->start, line->length, leaf);
                merkle_frontier_append(&frontier, leaf);
                out->intact = i + 1;
        }
        const char *torn = out->torn_tail ? "; torn tail ignored" : "";
        if (!broken) {
                if (count == 0) {
                        verify_set(out, AUDIT_UNSEALED, 0, "empty trail: no records%s", torn);
                } else if (!sealed) {
                        if (last_checkpoint == SIZE_MAX)
                                verify_set(out, AUDIT_UNSEALED, count,
                                           "unsealed: intact up to record %zu, but no "
                                           "checkpoint: nothing is signed (the session was "
                                           "killed, or records were cut from the end)%s",
                                           count - 1, torn);
                        else
                                verify_set(out, AUDIT_UNSEALED, count,
                                           "unsealed: intact up to record %zu, %llu "
                                           "checkpoints, but no final checkpoint: records "
                                           "after %zu are chained, not signed (the session was "
                                           "killed, or records were cut from the end)%s",
                                           count - 1, (unsigned long long)out->checkpoints,
                                           last_checkpoint, torn);
                } else if (out->torn_tail) {
                        verify_set(out, AUDIT_APPENDED, count,
                                   "bytes appended after the final checkpoint (record %zu)",
                                   final_at);
                } else {
                        verify_set(out, AUDIT_INTACT, 0,
                                   "intact: %zu record%s, %llu checkpoint%s%s", count,
                                   count == 1 ? "" : "s", (unsigned long long)out->checkpoints,
                                   out->checkpoints == 1 ? "" : "s",
                                   out->legacy ? " (an older trail: checkpoints signed by the "
                                                 "user key itself, no session certificate)"
                                               : "");
                }
        } else if (out->torn_tail) {
                size_t used = strlen(out->message);
                snprintf(out->message + used, sizeof(out->message) - used, "%s", torn);
        }
        for (size_t i = 0; i < count; i++) {
                json_decref(lines[i].checkpoint);
                json_decref(lines[i].certified);
        }
        free(lines);
}

int audit_read_file(const char *path, char **data, size_t *length, struct reins_error *err)
{
        cleanup_fd int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return reins_error_errno(err, errno, "%s", path);
        struct stat st;
        if (fstat(fd, &st) < 0)
                return reins_error_errno(err, errno, "%s", path);
        if (!S_ISREG(st.st_mode))
                return reins_error_set(err, EINVAL, "%s is not a regular file", path);
        bool truncated = false;
        int r = fileio_read_fd(fd, SIZE_MAX - 1, data, length, &truncated);
        if (r == -ENOMEM)
                return reins_error_set(err, ENOMEM, "out of memory reading %s", path);
        if (r < 0)
                return reins_error_errno(err, -r, "reading %s", path);
        return 0;
}

int audit_verify_file(const char *path, const char *trusted_key, struct audit_verify_result *out,
                      struct reins_error *err)
{
        if (sodium_init() < 0)
                return reins_error_set(err, EIO, "libsodium failed to initialise");
        char *data = NULL;
        size_t length = 0;
        int r = audit_read_file(path, &data, &length, err);
        if (r < 0)
                return r;
        audit_verify_buffer(data, length, trusted_key, out);
        free(data);
        return 0;
}

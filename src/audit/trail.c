/* The trail writer. Each record is the event plus `seq` (0, 1, ...), `mono`
 * (CLOCK_MONOTONIC ns) and `prev` (hex SHA-256 of the previous record's line,
 * 64 zeros for the first), serialized as one line of compact JSON with
 * sorted keys and \u escapes for everything outside ASCII: the same event
 * always gives the same bytes, and no byte of an event (a newline in an
 * argv, a quote) can end a record early. Untrusted bytes that are not UTF-8
 * arrive as {"base64": "..."} objects (util/bytes_json.h).
 *
 * Lines are batched and written with one write() each batch, so a record is
 * never interleaved or split by us; a kill -9 in the middle of a large
 * write() can still cut the file inside a line, which the verifier reports
 * as a torn tail and ignores (audit/verify.h).
 *
 * The trail is bounded (trail_bound.h for one record): past the session's
 * rate (limits.trail_rate, bytes a second with 4 seconds of burst) or size
 * (limits.trail_size) records are counted rather than written, and a
 * `limit` record says how many of which type were dropped. The last
 * stretch of the size is kept for the records that say what happened:
 *   ordinary records       up to size - AUDIT_ROOM_PRIORITY, and the rate
 *   priority records       (session.start, files.changed, limit, risk.*,
 *                          approval.*) up to size - AUDIT_ROOM_CLOSING
 *   closing records        (session.end, the summaries, checkpoints) up to
 *                          the size itself
 * so a capped trail still ends with its summary, session.end and a final
 * checkpoint, and verifies.
 *
 * A write that fails (a full disk) does not end the trail: the batch stays
 * in memory and the trail reports itself blocked; the supervisor freezes
 * the sandbox and only then hands the trail the space reserved next to it
 * at open (trail_reserve.c), which takes the last records. Freezing first
 * matters: released while the agent runs, the space would be the agent's. */
#include "audit/trail.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/checkpoint.h"
#include "audit/clock.h"
#include "audit/dirs.h"
#include "audit/keys.h"
#include "audit/merkle.h"
#include "util/digest.h"
#include "audit/trail_bound.h"
#include "audit/trail_internal.h"
#include "audit/event.h"
#include "util/weaken.h"
#include "util/cleanup.h"
#include "util/path.h"

#define TRAIL_JSON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)
#define TRAIL_TYPES_MAX  16 /* record types a suppression summary names one by one */
#define TRAIL_BURST_NS   (4 * 1000000000ULL) /* the rate's burst: 4 seconds of it */

enum trail_class {
        TRAIL_ORDINARY, /* rate-limited, stops AUDIT_ROOM_PRIORITY before the size */
        TRAIL_PRIORITY, /* stops AUDIT_ROOM_CLOSING before the size */
        TRAIL_CLOSING,  /* up to the size */
};

/* Records counted, not written, for one reason. */
struct trail_drops {
        uint64_t records;
        uint64_t other; /* of types beyond TRAIL_TYPES_MAX */
        size_t type_count;
        struct {
                char name[32];
                uint64_t count;
        } types[TRAIL_TYPES_MAX];
};

struct audit_trail {
        int fd;
        char *path;
        struct audit_key key;
        char session[128];
        char container[136]; /* an OCI container's id, learnt from the events as the session */
        uint64_t seq;        /* the next record's seq */
        uint64_t since_checkpoint; /* event records since the last checkpoint */
        uint64_t checkpoint_every;
        char prev[65];
        struct merkle_frontier frontier;
        char *buffer;
        size_t used, capacity;
        uint64_t oldest_mono; /* mono of the oldest buffered record */
        off_t written;        /* bytes of whole lines in the file */
        int error;            /* sticky -errno: the trail stops growing */
        char error_message[256];
        /* bounds */
        uint64_t size_cap; /* bytes the file may reach */
        uint64_t rate;     /* bytes a second, on average */
        double tokens;     /* bytes the rate allows now (may go below 0) */
        uint64_t refilled; /* mono of the last top-up */
        bool size_reached; /* the size notice is written */
        struct trail_drops rate_drops, size_drops, blocked_drops;
        /* a failed write: the batch waits for the reserve */
        int reserve_fd; /* the space kept for the last records; -1 once used */
        bool blocked;   /* a write failed; nothing is written until the reserve is */
        bool reserve_used;
        char blocked_message[256];
        void (*checkpoint_hook)(void *ctx, const json_t *record); /* anchoring */
        void *checkpoint_hook_ctx;
};

char *audit_trail_dir(struct reins_error *err)
{
        /* reins/ is shared with the workspace sessions: owner-only writes;
         * trails/ is private (trails name every command the agent ran) */
        cleanup_free char *reins = NULL;
        if (audit_state_dir(&reins, err) < 0)
                return NULL;
        char *dir = path_join(reins, "trails");
        if (!dir) {
                reins_error_set(err, ENOMEM, "out of memory");
                return NULL;
        }
        if (audit_dir_check(dir, true, AUDIT_DIR_PRIVATE, err) < 0) {
                free(dir);
                return NULL;
        }
        return dir;
}

char *audit_trail_default_path(const char *session, struct reins_error *err)
{
        cleanup_free char *dir = audit_trail_dir(err);
        if (!dir)
                return NULL;
        char name[160];
        snprintf(name, sizeof(name), "%s" AUDIT_TRAIL_SUFFIX, session);
        char *path = path_join(dir, name);
        if (!path)
                reins_error_set(err, ENOMEM, "out of memory");
        return path;
}

int audit_trail_open_with_key(const char *path, const struct audit_key *key,
                              struct audit_trail **out, struct reins_error *err)
{
        if (sodium_init() < 0)
                return reins_error_set(err, EIO, "libsodium failed to initialise");
        struct audit_trail *t = calloc(1, sizeof(*t));
        if (!t || !(t->path = strdup(path))) {
                free(t);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        t->key = *key;
        t->checkpoint_every = AUDIT_CHECKPOINT_EVERY;
        t->size_cap = AUDIT_TRAIL_SIZE_DEFAULT;
        t->rate = AUDIT_TRAIL_RATE_DEFAULT;
        t->tokens = (double)t->rate * (double)TRAIL_BURST_NS / 1e9;
        t->reserve_fd = -1;
        memset(t->prev, '0', 64);
        merkle_frontier_init(&t->frontier);
        /* O_EXCL: never continue (or clobber) a trail someone prepared;
         * O_NOFOLLOW: a planted symlink cannot point our writes elsewhere;
         * O_APPEND: every batch lands at the end, whatever else holds the file */
        t->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        int r =
            t->fd < 0 ? reins_error_errno(err, errno, "cannot write the audit trail %s", path) : 0;
        /* the room for the last records, should the disk fill up: no
         * trail starts without it */
        if (r == 0 &&
            (r = audit_trail_reserve_make(path, AUDIT_TRAIL_RESERVE, &t->reserve_fd, err)) < 0) {
                close(t->fd);
                unlink(path);
        }
        if (r < 0) {
                audit_key_wipe(&t->key);
                free(t->path);
                free(t);
                return r;
        }
        *out = t;
        return 0;
}

int audit_trail_open(const char *path, struct audit_trail **out, struct reins_error *err)
{
        struct audit_key key;
        int r = audit_key_load(&key, true, err);
        if (r < 0)
                return reins_error_prefix(err, "audit trail %s", path), r;
        r = audit_trail_open_with_key(path, &key, out, err);
        audit_key_wipe(&key);
        return r;
}

void audit_trail_set_checkpoint_interval(struct audit_trail *trail, uint64_t every)
{
        trail->checkpoint_every = every > 0 ? every : 1;
}

void audit_trail_set_checkpoint_hook(struct audit_trail *trail,
                                     void (*hook)(void *ctx, const json_t *record), void *ctx)
{
        trail->checkpoint_hook = hook;
        trail->checkpoint_hook_ctx = ctx;
}

uint64_t audit_trail_records(const struct audit_trail *trail)
{
        return trail->seq;
}

void audit_trail_set_limits(struct audit_trail *trail, uint64_t size, uint64_t rate)
{
        if (size >= AUDIT_TRAIL_SIZE_MIN)
                trail->size_cap = size;
        if (rate >= AUDIT_TRAIL_RATE_MIN)
                trail->rate = rate;
        trail->tokens = (double)trail->rate * (double)TRAIL_BURST_NS / 1e9;
        trail->refilled = 0;
}

static enum trail_class trail_class_of(const char *type)
{
        static const char *const closing[] = {"session.end", "checkpoint"};
        static const char *const priority[] = {"session.start", "files.changed", "limit"};
        for (size_t i = 0; i < sizeof(closing) / sizeof(closing[0]); i++)
                if (strcmp(type, closing[i]) == 0)
                        return TRAIL_CLOSING;
        for (size_t i = 0; i < sizeof(priority) / sizeof(priority[0]); i++)
                if (strcmp(type, priority[i]) == 0)
                        return TRAIL_PRIORITY;
        if (strncmp(type, "risk.", 5) == 0 || strncmp(type, "approval.", 9) == 0)
                return TRAIL_PRIORITY;
        return TRAIL_ORDINARY;
}

/* The most the file may hold once a record of this class is in. */
static uint64_t trail_class_limit(const struct audit_trail *t, enum trail_class class)
{
        switch (class) {
        case TRAIL_ORDINARY:
                return t->size_cap - AUDIT_ROOM_PRIORITY;
        case TRAIL_PRIORITY:
                return t->size_cap - AUDIT_ROOM_CLOSING;
        case TRAIL_CLOSING:
                break;
        }
        return t->size_cap;
}

static void trail_drops_count(struct trail_drops *d, const char *type)
{
        d->records++;
        for (size_t i = 0; i < d->type_count; i++)
                if (strcmp(d->types[i].name, type) == 0) {
                        d->types[i].count++;
                        return;
                }
        if (d->type_count < TRAIL_TYPES_MAX && strlen(type) < sizeof(d->types[0].name)) {
                snprintf(d->types[d->type_count].name, sizeof(d->types[0].name), "%s", type);
                d->types[d->type_count++].count = 1;
                return;
        }
        d->other++;
}

/* {"exec": 120, ...} */
static json_t *trail_drops_types(const struct trail_drops *d)
{
        json_t *types = json_object();
        for (size_t i = 0; types && i < d->type_count; i++)
                json_object_set_new(types, d->types[i].name,
                                    json_integer((json_int_t)d->types[i].count));
        if (types && d->other)
                json_object_set_new(types, "other", json_integer((json_int_t)d->other));
        return types;
}

/* The rate: may an ordinary record be written now? It is charged its
 * length once written (trail_charge); the bucket may go below zero, and
 * nothing ordinary is written until it is back above. */
static bool trail_rate_allows(struct audit_trail *t, uint64_t mono)
{
        double burst = (double)t->rate * (double)TRAIL_BURST_NS / 1e9;
        if (t->refilled == 0)
                t->refilled = mono;
        if (mono > t->refilled) {
                t->tokens += (double)(mono - t->refilled) * (double)t->rate / 1e9;
                if (t->tokens > burst)
                        t->tokens = burst;
                t->refilled = mono;
        }
        return t->tokens > 0;
}

static void trail_fail(struct audit_trail *t, int code, const char *what)
{
        if (t->error)
                return;
        t->error = -code;
        snprintf(t->error_message, sizeof(t->error_message), "%s: %s", what, strerror(code));
}

static int trail_reserve(struct audit_trail *t, size_t more)
{
        if (t->capacity - t->used >= more)
                return 0;
        size_t capacity = t->capacity ? t->capacity : 2 * AUDIT_BATCH_BYTES;
        while (capacity - t->used < more)
                capacity *= 2;
        char *grown = realloc(t->buffer, capacity);
        if (!grown)
                return -ENOMEM;
        t->buffer = grown;
        t->capacity = capacity;
        return 0;
}

/* The line just written at buffer[start, used): chain it, add it to the
 * tree, end it with '\n'. */
static void trail_seal_line(struct audit_trail *t, size_t start, uint64_t mono)
{
        const unsigned char *line = (const unsigned char *)t->buffer + start;
        size_t length = t->used - start;
        unsigned char hash[DIGEST_SHA256_BYTES], leaf[MERKLE_HASH_BYTES];
        digest_sha256(line, length, hash);
        audit_hex(hash, sizeof(hash), t->prev);
        merkle_leaf_hash(line, length, leaf);
        merkle_frontier_append(&t->frontier, leaf);
        t->buffer[t->used++] = '\n';
        if (start == 0)
                t->oldest_mono = mono;
        t->seq++;
}

/* Append the JSON text of `value` at the end of the buffer. */
static int trail_put_json(struct audit_trail *t, const json_t *value)
{
        size_t flags = TRAIL_JSON_FLAGS | JSON_ENCODE_ANY;
        if (trail_reserve(t, 4096) < 0)
                return -ENOMEM;
        /* usually one pass: dump into the free space, redo only if too big */
        size_t room = t->capacity - t->used - 1;
        size_t length = json_dumpb(value, t->buffer + t->used, room, flags);
        if (length == 0)
                return -EINVAL;
        if (length > room) {
                if (trail_reserve(t, length + 1) < 0)
                        return -ENOMEM;
                if (json_dumpb(value, t->buffer + t->used, length, flags) != length)
                        return -EINVAL;
        }
        t->used += length;
        return 0;
}

static int trail_put(struct audit_trail *t, const char *bytes, size_t length)
{
        if (trail_reserve(t, length + 1) < 0)
                return -ENOMEM;
        memcpy(t->buffer + t->used, bytes, length);
        t->used += length;
        return 0;
}

/* Serialize a whole record (checkpoints) as the next line. */
static int trail_append_record(struct audit_trail *t, const json_t *record, uint64_t mono)
{
        size_t start = t->used;
        int r = trail_put_json(t, record);
        if (r < 0) {
                t->used = start;
                return r;
        }
        trail_seal_line(t, start, mono);
        return 0;
}

struct trail_member {
        const char *key;
        const json_t *value; /* NULL: one of ours, written from `number` / `text` */
        uint64_t number;
        const char *text;
};

static int trail_member_compare(const void *a, const void *b)
{
        return strcmp(((const struct trail_member *)a)->key, ((const struct trail_member *)b)->key);
}

/* Strings jansson writes unchanged between quotes with TRAIL_JSON_FLAGS:
 * no '"', no '\\', no control character, nothing above 0x7f. */
static bool trail_plain(const char *s, size_t length)
{
        for (size_t i = 0; i < length; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c < 0x20 || c > 0x7f || c == '"' || c == '\\')
                        return false;
        }
        return true;
}

static int trail_put_plain_string(struct audit_trail *t, const char *s, size_t length)
{
        if (trail_reserve(t, length + 3) < 0)
                return -ENOMEM;
        t->buffer[t->used++] = '"';
        memcpy(t->buffer + t->used, s, length);
        t->used += length;
        t->buffer[t->used++] = '"';
        return 0;
}

static int trail_put_value(struct audit_trail *t, const json_t *value);

/* An object with its keys in strcmp order, plus our own members. */
static int trail_put_object(struct audit_trail *t, const json_t *object,
                            const struct trail_member *extra, size_t extra_count)
{
        size_t count = json_object_size(object) + extra_count, n = 0;
        struct trail_member stack[32];
        struct trail_member *members = count <= 32 ? stack : malloc(count * sizeof(*members));
        if (!members)
                return -ENOMEM;
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)object, key, value)
        {
                bool ours = false;
                for (size_t i = 0; i < extra_count && !ours; i++)
                        ours = strcmp(key, extra[i].key) == 0;
                if (!ours)
                        members[n++] = (struct trail_member){key, value, 0, NULL};
        }
        for (size_t i = 0; i < extra_count; i++)
                members[n++] = extra[i];
        qsort(members, n, sizeof(*members), trail_member_compare);
        int r = trail_put(t, "{", 1);
        for (size_t i = 0; i < n && r == 0; i++) {
                const struct trail_member *m = &members[i];
                if (i > 0)
                        r = trail_put(t, ",", 1);
                if (r == 0 && trail_plain(m->key, strlen(m->key))) {
                        r = trail_put_plain_string(t, m->key, strlen(m->key));
                } else if (r == 0) {
                        json_t *name = json_string(m->key);
                        r = name ? trail_put_json(t, name) : -ENOMEM;
                        json_decref(name);
                }
                if (r == 0)
                        r = trail_put(t, ":", 1);
                if (r < 0)
                        break;
                if (m->value) {
                        r = trail_put_value(t, m->value);
                } else if (m->text) {
                        r = trail_put_plain_string(t, m->text, strlen(m->text));
                } else {
                        char digits[24];
                        int length =
                            snprintf(digits, sizeof(digits), "%llu", (unsigned long long)m->number);
                        r = trail_put(t, digits, (size_t)length);
                }
        }
        if (r == 0)
                r = trail_put(t, "}", 1);
        if (members != stack)
                free(members);
        return r;
}

/* What jansson's json_dumpb would write, without its per-call set-up for
 * the common cases; anything unusual is handed to jansson itself. */
static int trail_put_value(struct audit_trail *t, const json_t *value)
{
        switch (json_typeof(value)) {
        case JSON_STRING: {
                const char *s = json_string_value(value);
                size_t length = json_string_length(value);
                if (trail_plain(s, length))
                        return trail_put_plain_string(t, s, length);
                return trail_put_json(t, value);
        }
        case JSON_INTEGER: {
                char digits[24];
                int length = snprintf(digits, sizeof(digits), "%" JSON_INTEGER_FORMAT,
                                      json_integer_value(value));
                return trail_put(t, digits, (size_t)length);
        }
        case JSON_TRUE:
                return trail_put(t, "true", 4);
        case JSON_FALSE:
                return trail_put(t, "false", 5);
        case JSON_NULL:
                return trail_put(t, "null", 4);
        case JSON_ARRAY: {
                int r = trail_put(t, "[", 1);
                for (size_t i = 0; r == 0 && i < json_array_size(value); i++) {
                        if (i > 0)
                                r = trail_put(t, ",", 1);
                        if (r == 0)
                                r = trail_put_value(t, json_array_get(value, i));
                }
                return r == 0 ? trail_put(t, "]", 1) : r;
        }
        case JSON_OBJECT:
                return trail_put_object(t, value, NULL, 0);
        default:
                return trail_put_json(t, value);
        }
}

/* The event plus seq, mono and prev: exactly the bytes jansson would write
 * for the merged object with TRAIL_JSON_FLAGS (keys sorted by strcmp,
 * compact separators, \u escapes beyond ASCII; a unit test holds it to
 * that), without building the merged object: this is the hot path. The
 * line is left unsealed at the end of the buffer. */
static int trail_put_event(struct audit_trail *t, const json_t *event, uint64_t mono)
{
        const struct trail_member ours[] = {
            {"mono", NULL, mono, NULL},
            {"prev", NULL, 0, t->prev},
            {"seq", NULL, t->seq, NULL},
        };
        size_t start = t->used;
        int r = trail_put_object(t, event, ours, sizeof(ours) / sizeof(ours[0]));
        if (r < 0)
                t->used = start; /* never half a record */
        return r;
}

/* What stands in for a record still longer than AUDIT_RECORD_MAX once
 * bounded (many long keys, say): its type, time and session, and the
 * length and SHA-256 of the line it would have been. */
static json_t *trail_stub(const json_t *event, const char *line, size_t length)
{
        unsigned char hash[DIGEST_SHA256_BYTES];
        char hex[2 * DIGEST_SHA256_BYTES + 1];
        digest_sha256(line, length, hash);
        audit_hex(hash, sizeof(hash), hex);
        json_t *stub = json_pack("{s:{s:I, s:s}}", "truncated_record", "bytes", (json_int_t)length,
                                 "sha256", hex);
        static const char *const kept[] = {"type", "time", "session", "container"};
        for (size_t i = 0; stub && i < sizeof(kept) / sizeof(kept[0]); i++) {
                json_t *value = json_object_get(event, kept[i]);
                if (json_is_string(value) && json_string_length(value) <= 64)
                        json_object_set(stub, kept[i], value);
        }
        return stub;
}

/* Append one record of `class`: 0 written, 1 counted instead (the size
 * says no), or -errno. */
static int trail_append_event(struct audit_trail *t, const json_t *event, uint64_t mono,
                              enum trail_class class, const char *type)
{
        size_t start = t->used;
        int r = trail_put_event(t, event, mono);
        if (r < 0)
                return r;
        if (t->used - start > AUDIT_RECORD_MAX && !weaken("trail")) {
                json_t *stub = trail_stub(event, t->buffer + start, t->used - start);
                t->used = start;
                if (!stub)
                        return -ENOMEM;
                r = trail_put_event(t, stub, mono);
                json_decref(stub);
                if (r < 0)
                        return r;
        }
        if ((uint64_t)t->written + t->used + 1 > trail_class_limit(t, class)) {
                t->used = start;
                trail_drops_count(&t->size_drops, type);
                return 1;
        }
        trail_seal_line(t, start, mono);
        return 0;
}

/* A `limit` record of the trail's own. */
static int trail_append_limit(struct audit_trail *t, const char *kind, json_t *fields,
                              enum trail_class class)
{
        json_t *record = json_pack("{s:s, s:o, s:s, s:s}", "type", "limit", "time",
                                   event_time_json(), "session", t->session, "kind", kind);
        if (record && fields)
                json_object_update(record, fields);
        json_decref(fields);
        if (!record)
                return -ENOMEM;
        if (t->container[0])
                json_object_set_new(record, "container", json_string(t->container));
        int r = trail_append_event(t, record, audit_mono_ns(), class, "limit");
        json_decref(record);
        return r;
}

/* What `d` counted, as one `limit` record; then count afresh. */
static int trail_append_drops(struct audit_trail *t, const char *kind, struct trail_drops *d,
                              json_t *fields)
{
        if (!d->records) {
                json_decref(fields);
                return 0;
        }
        if (!fields)
                return -ENOMEM;
        json_object_set_new(fields, "suppressed", json_integer((json_int_t)d->records));
        json_object_set_new(fields, "suppressed_types", trail_drops_types(d));
        json_object_set_new(fields, "summary", json_true());
        int r = trail_append_limit(t, kind, fields, TRAIL_CLOSING);
        if (r == 0)
                memset(d, 0, sizeof(*d));
        return r < 0 ? r : 0;
}

static int trail_append_rate_drops(struct audit_trail *t)
{
        return trail_append_drops(
            t, "trail_rate", &t->rate_drops,
            json_pack("{s:I, s:I}", "limit_bytes_per_second", (json_int_t)t->rate, "burst_bytes",
                      (json_int_t)(t->rate * (TRAIL_BURST_NS / 1000000000ULL))));
}

/* Every count not yet written: before session.end and at the close. */
static int trail_append_summaries(struct audit_trail *t)
{
        int r = trail_append_rate_drops(t);
        if (r == 0)
                r = trail_append_drops(t, "trail_size", &t->size_drops,
                                       json_pack("{s:I}", "limit_bytes", (json_int_t)t->size_cap));
        if (r == 0)
                r = trail_append_drops(t, "trail_write", &t->blocked_drops,
                                       json_pack("{s:s}", "error", t->blocked_message));
        return r;
}

static int trail_checkpoint(struct audit_trail *t, bool final)
{
        struct audit_checkpoint c;
        memset(&c, 0, sizeof(c));
        snprintf(c.session, sizeof(c.session), "%s", t->session);
        snprintf(c.container, sizeof(c.container), "%s", t->container);
        audit_time_now(c.time);
        c.seq = t->seq;
        c.mono = audit_mono_ns();
        c.tree_size = t->frontier.size;
        merkle_frontier_root(&t->frontier, c.root);
        memcpy(c.prev, t->prev, sizeof(c.prev));
        c.final = final;
        int r = audit_checkpoint_sign(&c, &t->key);
        if (r < 0)
                return r;
        json_t *record = audit_checkpoint_to_json(&c);
        if (!record)
                return -ENOMEM;
        r = trail_append_record(t, record, c.mono);
        if (r == 0 && t->checkpoint_hook) /* out of the trail's reach, as it is made */
                t->checkpoint_hook(t->checkpoint_hook_ctx, record);
        json_decref(record);
        t->since_checkpoint = 0;
        return r;
}

/* One write() for the whole batch. Should the disk fill up half-way, the
 * partial batch is cut off again so the file ends on a whole line, and
 * the batch waits in memory for the reserve (audit_trail_use_reserve). */
static int trail_write_batch(struct audit_trail *t)
{
        if (t->blocked)
                return -ENOSPC;
        size_t done = 0;
        while (done < t->used) {
                ssize_t n = write(t->fd, t->buffer + done, t->used - done);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        int code = n < 0 ? errno : ENOSPC;
                        bool whole = done == 0 || ftruncate(t->fd, t->written) == 0;
                        if (whole && t->reserve_fd >= 0) {
                                t->blocked = true;
                                snprintf(t->blocked_message, sizeof(t->blocked_message), "%s",
                                         strerror(code));
                                return -code;
                        }
                        trail_fail(t, whole ? code : errno, "writing the audit trail");
                        return -code;
                }
                done += (size_t)n;
        }
        t->written += (off_t)t->used;
        t->used = 0;
        return 0;
}

int audit_trail_flush(struct audit_trail *trail)
{
        if (!trail)
                return 0;
        if (trail->error)
                return trail->error;
        return trail->used ? trail_write_batch(trail) : 0;
}

bool audit_trail_pending(const struct audit_trail *trail)
{
        return trail && trail->used > 0 && !trail->error && !trail->blocked;
}

int audit_trail_fd(const struct audit_trail *trail)
{
        return trail ? trail->fd : -1;
}

int audit_trail_sync(struct audit_trail *trail)
{
        int r = audit_trail_flush(trail);
        if (r < 0)
                return r;
        /* the file's data and size; its name in the directory is made
         * durable with it by the journalling filesystems state lives on
         * (ext4, xfs, btrfs log a new file's entry with its fsync): a
         * second flush for the directory would double the cost at start */
        if (fdatasync(trail->fd) < 0) {
                r = -errno;
                trail_fail(trail, errno, "writing the audit trail to disk");
        }
        return r;
}

const char *audit_trail_failure(const struct audit_trail *trail)
{
        if (!trail)
                return NULL;
        if (trail->error)
                return trail->error_message;
        return trail->blocked ? trail->blocked_message : NULL;
}

int audit_trail_use_reserve(struct audit_trail *trail)
{
        if (trail->error)
                return trail->error;
        if (!trail->blocked)
                return 0;
        audit_trail_reserve_release(&trail->reserve_fd);
        trail->reserve_used = true;
        trail->blocked = false;
        /* a journalled filesystem may reuse freed blocks only once the
         * transaction that freed them is committed: commit it now */
        if (syncfs(trail->fd) < 0) {
                /* the write below says whether the room is there */
        }
        return trail_write_batch(trail); /* a failure now is final: no reserve is left */
}

void audit_trail_sink(void *ctx, const json_t *event)
{
        struct audit_trail *t = ctx;
        if (!t || t->error || !json_is_object(event))
                return;
        if (!t->session[0]) {
                const char *session = json_string_value(json_object_get(event, "session"));
                const char *container = json_string_value(json_object_get(event, "container"));
                if (session)
                        snprintf(t->session, sizeof(t->session), "%s", session);
                if (container)
                        snprintf(t->container, sizeof(t->container), "%s", container);
        }
        const char *type = json_string_value(json_object_get(event, "type"));
        if (!type)
                type = "";
        enum trail_class class = trail_class_of(type);
        uint64_t mono = audit_mono_ns();
        /* blocked: what waits for the reserve is bounded by half of it */
        if (t->blocked && t->used >= AUDIT_TRAIL_RESERVE / 2) {
                trail_drops_count(&t->blocked_drops, type);
                return;
        }
        if (weaken("trail")) { /* make weak: the escape probe's unbounded trail */
                t->size_cap = UINT64_MAX / 2;
                int r = trail_append_event(t, event, mono, TRAIL_CLOSING, type);
                if (r < 0)
                        trail_fail(t, -r, "recording an event");
                else if (++t->since_checkpoint >= t->checkpoint_every &&
                         trail_checkpoint(t, false) < 0)
                        trail_fail(t, ENOMEM, "writing a checkpoint");
                if (!t->blocked && t->used >= AUDIT_BATCH_BYTES)
                        trail_write_batch(t);
                return;
        }
        if (class == TRAIL_ORDINARY && !trail_rate_allows(t, mono)) {
                trail_drops_count(&t->rate_drops, type);
                return;
        }
        size_t mark = t->used;
        int r = 0;
        if (t->rate_drops.records && class == TRAIL_ORDINARY)
                r = trail_append_rate_drops(t); /* the end of a suppression */
        else if (strcmp(type, "session.end") == 0)
                r = trail_append_summaries(t);
        json_t *bounded = NULL;
        if (r == 0)
                r = audit_trail_bound(event, AUDIT_FIELD_MAX, AUDIT_RECORD_MAX - 4096, &bounded);
        if (r == 0)
                r = trail_append_event(t, bounded ? bounded : event, mono, class, type);
        json_decref(bounded);
        if (r < 0) {
                trail_fail(t, -r, "recording an event");
                return;
        }
        if (class == TRAIL_ORDINARY)
                t->tokens -= (double)(t->used - mark);
        if (r == 1 && !t->size_reached) {
                /* said once, when it happens; the counts come at the end */
                t->size_reached = true;
                r = trail_append_limit(t, "trail_size",
                                       json_pack("{s:I, s:s}", "limit_bytes",
                                                 (json_int_t)t->size_cap, "note",
                                                 "the trail is full: from here on, records "
                                                 "are counted, not written"),
                                       TRAIL_PRIORITY);
                if (r < 0) {
                        trail_fail(t, -r, "recording an event");
                        return;
                }
        }
        if (r == 0 && ++t->since_checkpoint >= t->checkpoint_every &&
            (r = trail_checkpoint(t, false)) < 0)
                trail_fail(t, -r, "writing a checkpoint");
        if (!t->blocked && (t->used >= AUDIT_BATCH_BYTES ||
                            (t->used && mono - t->oldest_mono > AUDIT_BATCH_AGE_NS)))
                trail_write_batch(t);
}

void audit_trail_abandon(struct audit_trail *trail)
{
        close(trail->fd);
        audit_trail_reserve_release(&trail->reserve_fd);
        audit_key_wipe(&trail->key);
        free(trail->buffer);
        free(trail->path);
        free(trail);
}

int audit_trail_close(struct audit_trail *trail, struct reins_error *err)
{
        if (!trail)
                return 0;
        int r = trail->error;
        /* the sandbox is gone by now: the reserve is ours alone */
        if (r == 0 && trail->blocked)
                r = audit_trail_use_reserve(trail);
        if (r == 0 && (r = trail_append_summaries(trail)) < 0)
                trail_fail(trail, -r, "writing the trail's limit summaries");
        if (r == 0 && (r = trail_checkpoint(trail, true)) < 0)
                trail_fail(trail, -r, "writing the final checkpoint");
        if (r == 0)
                r = audit_trail_flush(trail);
        if (r == 0 && trail->reserve_used) {
                /* a disk that filled up once: the seal goes to it now */
                r = audit_trail_sync(trail);
        } else if (r == 0 && sync_file_range(trail->fd, 0, 0, SYNC_FILE_RANGE_WRITE) < 0 &&
                   errno != ESPIPE && errno != EINVAL) {
                /* start writeback without waiting for it: the sealed trail is
                 * in the page cache (no crash of ours can lose it) and
                 * reaches the disk moments later; waiting here would add a
                 * disk flush to every run */
                r = -errno;
                trail_fail(trail, errno, "writing the audit trail back");
        }
        if (close(trail->fd) < 0 && r == 0) {
                r = -errno;
                trail_fail(trail, errno, "closing the audit trail");
        }
        if (r < 0)
                reins_error_set(err, -r, "audit trail %s: %s", trail->path,
                                trail->error_message[0]     ? trail->error_message
                                : trail->blocked_message[0] ? trail->blocked_message
                                                            : strerror(-r));
        audit_trail_reserve_release(&trail->reserve_fd);
        audit_key_wipe(&trail->key);
        free(trail->buffer);
        free(trail->path);
        free(trail);
        return r;
}

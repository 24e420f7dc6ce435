/* The trail's bounds: long values are cut with the whole value's length and
 * SHA-256 kept, arrays end with a marker over all their items, sizes are
 * counted as the record spells them; past the size or the rate records are
 * counted in a `limit` summary, and the capped trail still verifies. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/event.h"
#include "audit/keys.h"
#include "util/digest.h"
#include "audit/trail.h"
#include "audit/trail_bound.h"
#include "audit/trail_internal.h"
#include "audit/verify.h"

static struct audit_key test_key;
static char tmpdir[] = "/tmp/reins-test-bound.XXXXXX";

static void hex_sha256(const void *data, size_t length, char out[65])
{
        unsigned char hash[DIGEST_SHA256_BYTES];
        digest_sha256(data, length, hash);
        audit_hex(hash, sizeof(hash), out);
}

static void test_small_event_is_not_copied(void **state)
{
        (void)state;
        json_t *event = json_pack("{s:s, s:[s, s]}", "type", "exec", "argv", "ls", "-l");
        json_t *out = (json_t *)1;
        assert_int_equal(audit_trail_bound(event, AUDIT_FIELD_MAX, 60000, &out), 0);
        assert_null(out);
        json_decref(event);
}

static void test_long_string_is_cut_with_length_and_hash(void **state)
{
        (void)state;
        size_t length = 100000;
        char *big = malloc(length + 1);
        memset(big, 'a', length);
        big[length] = '\0';
        json_t *event = json_pack("{s:s, s:[s, s]}", "type", "exec", "argv", "echo", big);
        json_t *out = NULL;
        assert_int_equal(audit_trail_bound(event, AUDIT_FIELD_MAX, 60000, &out), 0);
        assert_non_null(out);
        const json_t *cut = json_array_get(json_object_get(out, "argv"), 1);
        assert_true(json_is_object(cut));
        assert_int_equal(json_integer_value(json_object_get(cut, "bytes")), length);
        char want[65];
        hex_sha256(big, length, want);
        assert_string_equal(json_string_value(json_object_get(cut, "sha256")), want);
        const char *prefix = json_string_value(json_object_get(cut, "truncated"));
        assert_true(strlen(prefix) > 1000 && strlen(prefix) <= AUDIT_FIELD_MAX);
        assert_memory_equal(prefix, big, strlen(prefix));
        /* the small one stays as it was */
        assert_string_equal(json_string_value(json_array_get(json_object_get(out, "argv"), 0)),
                            "echo");
        json_decref(out);
        json_decref(event);
        free(big);
}

/* Control bytes take six bytes each in a record (\u0001): the cap counts
 * that, not the input's length. */
static void test_escapes_are_counted(void **state)
{
        (void)state;
        char text[3001];
        memset(text, 1, 3000);
        text[3000] = '\0';
        json_t *event = json_pack("{s:s}", "path", text);
        json_t *out = NULL;
        assert_int_equal(audit_trail_bound(event, AUDIT_FIELD_MAX, 60000, &out), 0);
        assert_non_null(out);
        const char *prefix =
            json_string_value(json_object_get(json_object_get(out, "path"), "truncated"));
        assert_true(strlen(prefix) * 6 <= AUDIT_FIELD_MAX);
        assert_true(strlen(prefix) > 500);
        char *line = json_dumps(out, JSON_COMPACT | JSON_ENSURE_ASCII);
        assert_true(strlen(line) < AUDIT_FIELD_MAX + 200);
        free(line);
        json_decref(out);
        json_decref(event);
}

/* Past the budget an array keeps its first items and a marker whose
 * length and hash cover every item, each ended by a NUL. */
static void test_array_marker_covers_all_items(void **state)
{
        (void)state;
        json_t *argv = json_array();
        char item[2001];
        size_t total = 0;
        struct digest_sha256 hash;
        digest_sha256_init(&hash);
        for (int i = 0; i < 200; i++) {
                memset(item, 'a' + i % 26, 2000);
                item[2000] = '\0';
                json_array_append_new(argv, json_string(item));
                digest_sha256_update(&hash, item, 2001); /* with its NUL */
                total += 2001;
        }
        unsigned char digest[DIGEST_SHA256_BYTES];
        char want[65];
        digest_sha256_final(&hash, digest);
        audit_hex(digest, sizeof(digest), want);
        json_t *event = json_pack("{s:s, s:o, s:s, s:s}", "type", "exec", "argv", argv, "cwd",
                                  "/some/dir", "result", "ok");
        json_t *out = NULL;
        assert_int_equal(audit_trail_bound(event, AUDIT_FIELD_MAX, 60000, &out), 0);
        /* the small fields are kept whole, whatever the argv took */
        assert_string_equal(json_string_value(json_object_get(out, "cwd")), "/some/dir");
        assert_string_equal(json_string_value(json_object_get(out, "result")), "ok");
        const json_t *kept = json_object_get(out, "argv");
        size_t n = json_array_size(kept);
        assert_true(n > 10 && n < 40);
        const json_t *marker = json_array_get(kept, n - 1);
        assert_int_equal(json_integer_value(json_object_get(marker, "truncated_items")),
                         200 - (n - 1));
        assert_int_equal(json_integer_value(json_object_get(marker, "bytes")), total);
        assert_string_equal(json_string_value(json_object_get(marker, "sha256")), want);
        char *line = json_dumps(out, JSON_COMPACT | JSON_ENSURE_ASCII);
        assert_true(strlen(line) <= 60000);
        free(line);
        json_decref(out);
        json_decref(event);
}

/* Non-UTF-8 bytes ({"base64"}) are cut as bytes and hashed as bytes. */
static void test_base64_value_is_cut_as_bytes(void **state)
{
        (void)state;
        size_t length = 30000;
        unsigned char *bytes = malloc(length);
        for (size_t i = 0; i < length; i++)
                bytes[i] = (unsigned char)(0x80 + i % 64);
        size_t encoded_size = sodium_base64_ENCODED_LEN(length, sodium_base64_VARIANT_ORIGINAL);
        char *encoded = malloc(encoded_size);
        sodium_bin2base64(encoded, encoded_size, bytes, length, sodium_base64_VARIANT_ORIGINAL);
        json_t *event = json_pack("{s:{s:s}}", "path", "base64", encoded);
        json_t *out = NULL;
        assert_int_equal(audit_trail_bound(event, AUDIT_FIELD_MAX, 60000, &out), 0);
        const json_t *cut = json_object_get(out, "path");
        assert_int_equal(json_integer_value(json_object_get(cut, "bytes")), length);
        char want[65];
        hex_sha256(bytes, length, want);
        assert_string_equal(json_string_value(json_object_get(cut, "sha256")), want);
        const char *prefix =
            json_string_value(json_object_get(json_object_get(cut, "truncated"), "base64"));
        assert_non_null(prefix);
        assert_true(strlen(prefix) <= AUDIT_FIELD_MAX);
        json_decref(out);
        json_decref(event);
        free(encoded);
        free(bytes);
}

/* A trail of `events` exec records of `arg` bytes each under the given
 * bounds; its records (caller frees) and whether it verifies. */
static json_t *capped_trail(const char *name, int events, size_t arg, uint64_t size, uint64_t rate,
                            off_t *file_size, enum audit_verdict *verdict)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/%s.jsonl", tmpdir, name);
        struct audit_trail *trail = NULL;
        struct reins_error err = {0};
        assert_int_equal(audit_trail_open_with_key(path, &test_key, &trail, &err), 0);
        audit_trail_set_limits(trail, size, rate);
        struct event_bus bus;
        event_bus_init(&bus, "00112233445566778899aabb");
        event_bus_add_sink(&bus, audit_trail_sink, trail);
        event_emit(&bus, "session.start", json_pack("{s:s}", "user", "u"));
        char *text = malloc(arg + 1);
        memset(text, 'z', arg);
        text[arg] = '\0';
        for (int i = 0; i < events; i++)
                event_emit(&bus, "exec", json_pack("{s:i, s:[s, s]}", "pid", i, "argv", "x", text));
        event_emit(&bus, "session.end", json_pack("{s:i}", "status", 0));
        free(text);
        assert_int_equal(audit_trail_close(trail, &err), 0);
        event_bus_fini(&bus);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        *file_size = st.st_size;
        struct audit_verify_result result;
        assert_int_equal(audit_verify_file(path, NULL, &result, &err), 0);
        *verdict = result.verdict;
        json_t *records = json_array();
        FILE *f = fopen(path, "r");
        char *line = NULL;
        size_t capacity = 0;
        while (getline(&line, &capacity, f) > 0)
                json_array_append_new(records, json_loads(line, 0, NULL));
        free(line);
        fclose(f);
        return records;
}

static const json_t *find_limit(const json_t *records, const char *kind, bool summary)
{
        size_t i;
        const json_t *record;
        const json_t *found = NULL;
        json_array_foreach(records, i, record)
        {
                const char *type = json_string_value(json_object_get(record, "type"));
                const char *k = json_string_value(json_object_get(record, "kind"));
                if (type && strcmp(type, "limit") == 0 && k && strcmp(k, kind) == 0 &&
                    json_is_true(json_object_get(record, "summary")) == summary)
                        found = record;
        }
        return found;
}

static void test_size_cap_counts_and_verifies(void **state)
{
        (void)state;
        off_t size = 0;
        enum audit_verdict verdict;
        json_t *records = capped_trail("size", 3000, 1000, 1 << 20, 1ULL << 40, &size, &verdict);
        assert_true(size <= 1 << 20);
        assert_int_equal(verdict, AUDIT_INTACT);
        assert_non_null(find_limit(records, "trail_size", false)); /* said when it happened */
        const json_t *summary = find_limit(records, "trail_size", true);
        assert_non_null(summary);
        uint64_t dropped = (uint64_t)json_integer_value(json_object_get(summary, "suppressed"));
        assert_true(dropped > 1000);
        assert_int_equal(json_integer_value(
                             json_object_get(json_object_get(summary, "suppressed_types"), "exec")),
                         dropped);
        /* the summary comes before session.end, the seal last */
        size_t n = json_array_size(records);
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(records, n - 2), "type")),
            "session.end");
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(records, n - 1), "type")),
            "checkpoint");
        json_decref(records);
}

static void test_rate_cap_counts_and_verifies(void **state)
{
        (void)state;
        off_t size = 0;
        enum audit_verdict verdict;
        /* 64 KiB/s with 4 s of burst: 256 KiB at once, then what comes
         * faster is counted (10 MB here: unless this took minutes) */
        int events = 5000;
        json_t *records = capped_trail("rate", events, 2000, 1ULL << 30, 64 << 10, &size, &verdict);
        assert_int_equal(verdict, AUDIT_INTACT);
        const json_t *summary = find_limit(records, "trail_rate", true);
        assert_non_null(summary);
        json_int_t dropped = json_integer_value(json_object_get(summary, "suppressed"));
        assert_true(dropped > 0);
        /* every exec is either written or counted */
        json_int_t written = 0;
        size_t i;
        const json_t *record;
        json_array_foreach(records, i, record)
        {
                const char *type = json_string_value(json_object_get(record, "type"));
                if (type && strcmp(type, "exec") == 0)
                        written++;
                if (record != summary && type && strcmp(type, "limit") == 0)
                        dropped += json_integer_value(json_object_get(record, "suppressed"));
        }
        assert_int_equal(written + dropped, events);
        assert_int_equal(json_integer_value(json_object_get(summary, "limit_bytes_per_second")),
                         64 << 10);
        json_decref(records);
}

/* A record still too long once bounded (many long keys) is replaced by a
 * stub naming its type, length and hash. */
static void test_oversized_record_becomes_a_stub(void **state)
{
        (void)state;
        char path[256];
        snprintf(path, sizeof(path), "%s/stub.jsonl", tmpdir);
        struct audit_trail *trail = NULL;
        struct reins_error err = {0};
        assert_int_equal(audit_trail_open_with_key(path, &test_key, &trail, &err), 0);
        json_t *event = json_pack("{s:s, s:s, s:s}", "type", "weird", "time", "t", "session", "s");
        char key[3000];
        for (int i = 0; i < 60; i++) {
                memset(key, 'k', sizeof(key) - 1);
                key[sizeof(key) - 1] = '\0';
                snprintf(key, 8, "%06d", i);
                key[6] = 'k';
                json_object_set_new(event, key, json_true());
        }
        audit_trail_sink(trail, event);
        json_decref(event);
        assert_int_equal(audit_trail_close(trail, &err), 0);
        FILE *f = fopen(path, "r");
        char *line = NULL;
        size_t capacity = 0;
        ssize_t n = getline(&line, &capacity, f);
        fclose(f);
        assert_true(n > 0 && n < 1024);
        json_t *record = json_loads(line, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(record, "type")), "weird");
        assert_true(json_integer_value(json_object_get(json_object_get(record, "truncated_record"),
                                                       "bytes")) > AUDIT_RECORD_MAX);
        json_decref(record);
        free(line);
}

int main(void)
{
        if (sodium_init() < 0 || !mkdtemp(tmpdir))
                return 1;
        crypto_sign_keypair(test_key.public_key, test_key.secret_key);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_small_event_is_not_copied),
            cmocka_unit_test(test_long_string_is_cut_with_length_and_hash),
            cmocka_unit_test(test_escapes_are_counted),
            cmocka_unit_test(test_array_marker_covers_all_items),
            cmocka_unit_test(test_base64_value_is_cut_as_bytes),
            cmocka_unit_test(test_size_cap_counts_and_verifies),
            cmocka_unit_test(test_rate_cap_counts_and_verifies),
            cmocka_unit_test(test_oversized_record_becomes_a_stub),
        };
        int failed = cmocka_run_group_tests(tests, NULL, NULL);
        char command[300];
        snprintf(command, sizeof(command), "rm -rf '%s'", tmpdir);
        if (system(command) != 0)
                failed++;
        return failed;
}

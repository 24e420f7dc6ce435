/* The trail writer and verifier: an untouched trail verifies; each kind of
 * tampering is named with the right record and verdict; checkpoints are
 * signed and a changed signature or field is caught; the hot-path
 * serializer writes exactly what jansson writes; hostile bytes survive. */
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

#include "audit/checkpoint.h"
#include "audit/event.h"
#include "audit/keys.h"
#include "audit/trail.h"
#include "audit/trail_internal.h"
#include "audit/verify.h"
#include "util/bytes_json.h"

static struct audit_key test_key;
static char test_key_hex[65];
static char tmpdir[] = "/tmp/reins-test-audit.XXXXXX";
static int trail_counter;

/* Write a trail of `events` exec events (checkpoint every `every`);
 * returns its bytes (caller frees). */
static char *write_trail(int events, uint64_t every, bool close_it, size_t *length)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/t%d.jsonl", tmpdir, trail_counter++);
        struct audit_trail *trail = NULL;
        struct reins_error err = {0};
        assert_int_equal(audit_trail_open_with_key(path, &test_key, &trail, &err), 0);
        audit_trail_set_checkpoint_interval(trail, every);
        struct event_bus bus;
        event_bus_init(&bus, "00112233445566778899aabb");
        event_bus_add_sink(&bus, audit_trail_sink, trail);
        for (int i = 0; i < events; i++)
                event_emit(&bus, "exec",
                           json_pack("{s:i, s:[s, s]}", "pid", i, "argv", "ls", "-l"));
        if (close_it) {
                assert_int_equal(audit_trail_close(trail, &err), 0);
        } else {
                assert_int_equal(audit_trail_flush(trail), 0);
        }
        int fd = open(path, O_RDONLY);
        assert_true(fd >= 0);
        struct stat st;
        fstat(fd, &st);
        char *data = malloc((size_t)st.st_size + 1);
        assert_int_equal(read(fd, data, (size_t)st.st_size), st.st_size);
        close(fd);
        *length = (size_t)st.st_size;
        if (!close_it)
                audit_trail_abandon(trail); /* no final checkpoint, like kill -9 */
        return data;
}

/* Line boundaries of a buffer: starts[i], lengths[i] (without '\n'). */
static size_t split(const char *data, size_t length, size_t *starts, size_t *lengths, size_t max)
{
        size_t n = 0, start = 0;
        for (size_t i = 0; i < length && n < max; i++)
                if (data[i] == '\n') {
                        starts[n] = start;
                        lengths[n] = i - start;
                        n++;
                        start = i + 1;
                }
        return n;
}

/* Rebuild a trail from lines in the given order (indices; -1 ends). */
static char *reassemble(const char *data, const size_t *starts, const size_t *lengths,
                        const int *order, size_t *out_length)
{
        size_t total = 0;
        for (const int *o = order; *o >= 0; o++)
                total += lengths[*o] + 1;
        char *out = malloc(total + 1);
        size_t used = 0;
        for (const int *o = order; *o >= 0; o++) {
                memcpy(out + used, data + starts[*o], lengths[*o]);
                used += lengths[*o];
                out[used++] = '\n';
        }
        *out_length = used;
        return out;
}

static struct audit_verify_result verify(const char *data, size_t length)
{
        struct audit_verify_result result;
        audit_verify_buffer(data, length, test_key_hex, &result);
        return result;
}

static void test_intact(void **state)
{
        (void)state;
        size_t length;
        char *data = write_trail(25, 10, true, &length);
        struct audit_verify_result r = verify(data, length);
        assert_int_equal(r.verdict, AUDIT_INTACT);
        /* 25 events + checkpoints after 10 and 20 + the final one */
        assert_int_equal(r.records, 28);
        assert_int_equal(r.checkpoints, 3);
        /* signed with the key directly, as before session certificates */
        assert_string_equal(r.message, "intact: 28 records, 3 checkpoints (an older trail: "
                                       "checkpoints signed by the user key itself, no session "
                                       "certificate)");
        assert_string_equal(r.key, test_key_hex);
        /* the first record chains from 64 zeros, seq 0 */
        assert_non_null(strstr(data, "\"prev\":\"0000000000000000000000000000000000000000000000"
                                     "000000000000000000\""));
        free(data);
}

static void test_one_byte_changed(void **state)
{
        (void)state;
        size_t length, starts[64], lengths[64];
        char *data = write_trail(8, 1000, true, &length);
        split(data, length, starts, lengths, 64);
        /* change the pid digit of record 3 */
        char *p = strstr(data + starts[3], "\"pid\":3");
        assert_non_null(p);
        p[6] = '4';
        struct audit_verify_result r = verify(data, length);
        assert_int_equal(r.verdict, AUDIT_ALTERED);
        assert_int_equal(r.bad_record, 3);
        assert_non_null(strstr(r.message, "record 3 altered"));
        free(data);
}

static void test_deleted(void **state)
{
        (void)state;
        size_t length, starts[64], lengths[64], n;
        char *data = write_trail(8, 1000, true, &length);
        split(data, length, starts, lengths, 64);
        int order[] = {0, 1, 2, 3, 5, 6, 7, 8, -1};
        char *cut = reassemble(data, starts, lengths, order, &n);
        struct audit_verify_result r = verify(cut, n);
        assert_int_equal(r.verdict, AUDIT_DELETED);
        assert_int_equal(r.bad_record, 4);
        assert_non_null(strstr(r.message, "record 4 deleted"));
        free(cut);
        /* the first record */
        int order0[] = {1, 2, 3, 4, 5, 6, 7, 8, -1};
        cut = reassemble(data, starts, lengths, order0, &n);
        r = verify(cut, n);
        assert_int_equal(r.verdict, AUDIT_DELETED);
        assert_int_equal(r.bad_record, 0);
        /* no record comes before the first (the message once named record
         * SIZE_MAX; found while writing fuzz_trail) */
        assert_string_equal(r.message, "record 0 deleted: the trail starts at record 1");
        free(cut);
        int order01[] = {2, 3, 4, 5, 6, 7, 8, -1};
        cut = reassemble(data, starts, lengths, order01, &n);
        r = verify(cut, n);
        assert_int_equal(r.verdict, AUDIT_DELETED);
        assert_string_equal(r.message, "records 0 to 1 deleted: the trail starts at record 2");
        free(cut);
        free(data);
}

static void test_swapped(void **state)
{
        (void)state;
        size_t length, starts[64], lengths[64], n;
        char *data = write_trail(8, 1000, true, &length);
        split(data, length, starts, lengths, 64);
        int order[] = {0, 1, 2, 4, 3, 5, 6, 7, 8, -1};
        char *swapped = reassemble(data, starts, lengths, order, &n);
        struct audit_verify_result r = verify(swapped, n);
        assert_int_equal(r.verdict, AUDIT_REORDERED);
        assert_int_equal(r.bad_record, 3);
        free(swapped);
        free(data);
}

static void test_appended(void **state)
{
        (void)state;
        size_t length, starts[64], lengths[64], n;
        char *data = write_trail(8, 1000, true, &length);
        split(data, length, starts, lengths, 64);
        /* a copy of an earlier record after the final checkpoint */
        int order[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 2, -1};
        char *more = reassemble(data, starts, lengths, order, &n);
        struct audit_verify_result r = verify(more, n);
        assert_int_equal(r.verdict, AUDIT_APPENDED);
        assert_int_equal(r.bad_record, 9);
        free(more);
        free(data);
}

static void test_checkpoint_signature_altered(void **state)
{
        (void)state;
        size_t length, starts[64], lengths[64];
        char *data = write_trail(8, 1000, true, &length);
        size_t n = split(data, length, starts, lengths, 64);
        char *signature = strstr(data + starts[n - 1], "\"signature\":\"");
        assert_non_null(signature);
        signature += 13;
        *signature = *signature == 'a' ? 'b' : 'a';
        struct audit_verify_result r = verify(data, length);
        assert_int_equal(r.verdict, AUDIT_BAD_SIGNATURE);
        assert_int_equal(r.bad_record, n - 1);
        free(data);
}

static void test_checkpoint_fields_signed(void **state)
{
        (void)state;
        struct audit_checkpoint c;
        memset(&c, 0, sizeof(c));
        snprintf(c.session, sizeof(c.session), "abc");
        snprintf(c.time, sizeof(c.time), "2026-01-01T00:00:00.000000Z");
        c.seq = 7;
        c.tree_size = 7;
        memset(c.prev, 'a', 64);
        c.final = true;
        assert_int_equal(audit_checkpoint_sign(&c, &test_key), 0);
        assert_true(audit_checkpoint_signature_valid(&c));
        char message[512];
        int n = audit_checkpoint_message(&c, message, sizeof(message));
        assert_true(n > 0);
        assert_memory_equal(message, "reins-checkpoint-v1\nsession=3:abc\n", 34);
        struct audit_checkpoint changed = c;
        changed.final = false; /* a final checkpoint passed off as an interim one */
        assert_false(audit_checkpoint_signature_valid(&changed));
        changed = c;
        changed.tree_size = 6;
        assert_false(audit_checkpoint_signature_valid(&changed));
        changed = c;
        changed.time[5] = '1';
        assert_false(audit_checkpoint_signature_valid(&changed));
        changed = c;
        changed.signature[0] ^= 1;
        assert_false(audit_checkpoint_signature_valid(&changed));
        /* round trip through JSON, and an extra field is refused */
        json_t *record = audit_checkpoint_to_json(&c);
        struct audit_checkpoint parsed;
        char why[128];
        assert_int_equal(audit_checkpoint_from_json(record, &parsed, why, sizeof(why)), 0);
        assert_true(audit_checkpoint_signature_valid(&parsed));
        json_object_set_new(record, "note", json_string("x"));
        assert_int_equal(audit_checkpoint_from_json(record, &parsed, why, sizeof(why)), -EINVAL);
        json_decref(record);
}

static void test_wrong_key(void **state)
{
        (void)state;
        size_t length;
        char *data = write_trail(3, 1000, true, &length);
        struct audit_verify_result r;
        char other[65];
        memset(other, 'c', 64);
        other[64] = '\0';
        audit_verify_buffer(data, length, other, &r);
        assert_int_equal(r.verdict, AUDIT_UNTRUSTED_KEY);
        audit_verify_buffer(data, length, NULL, &r);
        assert_int_equal(r.verdict, AUDIT_INTACT);
        free(data);
}

/* kill -9: no final checkpoint, maybe half a line at the end. */
static void test_unsealed_and_torn(void **state)
{
        (void)state;
        size_t length;
        char *data = write_trail(12, 5, false, &length);
        struct audit_verify_result r = verify(data, length);
        assert_int_equal(r.verdict, AUDIT_UNSEALED);
        assert_int_equal(r.records, 14); /* 12 events + 2 checkpoints */
        assert_int_equal(r.intact, 14);
        assert_int_equal(r.checkpoints, 2);
        /* a torn last line: ignored, said */
        char *torn = malloc(length + 20);
        memcpy(torn, data, length);
        memcpy(torn + length, "{\"argv\":[\"l", 11);
        r = verify(torn, length + 11);
        assert_int_equal(r.verdict, AUDIT_UNSEALED);
        assert_true(r.torn_tail);
        assert_int_equal(r.intact, 14);
        assert_non_null(strstr(r.message, "intact up to record 13"));
        assert_non_null(strstr(r.message, "torn tail ignored"));
        free(torn);
        free(data);
}

/* The hot-path serializer writes what jansson writes for the merged
 * object, for hostile values too. */
static void test_serializer_matches_jansson(void **state)
{
        (void)state;
        static const char invalid[] = "a\xff\xfe\n\"b";
        json_t *event = json_pack(
            "{s:s, s:s, s:s, s:o, s:o, s:s, s:{s:[i, b, n, f], s:s}, s:s, s:I, s:s}", "type",
            "exec", "time", "t", "session", "s", "argv",
            bytes_json_array((char *[]){"rm", "-rf", "a\nb", "q\"uote", "back\\slash",
                                        (char *)invalid, "\x7f\x01", NULL}),
            "path", bytes_json_z(invalid), "unicode", "\xc3\xa9\xe2\x80\xae\xf0\x9f\x98\x80",
            "nested", "z", 1, 1, 0.5, "a", "slash/", "Key with \"quote\"", "v", "big",
            (json_int_t)-9007199254740993LL, "seq", "forged");
        char path[256];
        snprintf(path, sizeof(path), "%s/ser.jsonl", tmpdir);
        struct audit_trail *trail = NULL;
        struct reins_error err = {0};
        assert_int_equal(audit_trail_open_with_key(path, &test_key, &trail, &err), 0);
        audit_trail_sink(trail, event);
        assert_int_equal(audit_trail_close(trail, &err), 0);
        FILE *f = fopen(path, "r");
        char *line = NULL;
        size_t size = 0;
        ssize_t n = getline(&line, &size, f);
        fclose(f);
        assert_true(n > 1);
        line[n - 1] = '\0';
        /* rebuild the merged object from the line's own seq/mono/prev */
        json_t *parsed = json_loads(line, 0, NULL);
        assert_non_null(parsed);
        assert_int_equal(json_integer_value(json_object_get(parsed, "seq")), 0);
        json_t *merged = json_deep_copy(event);
        json_object_set(merged, "seq", json_object_get(parsed, "seq"));
        json_object_set(merged, "mono", json_object_get(parsed, "mono"));
        json_object_set(merged, "prev", json_object_get(parsed, "prev"));
        char *expected = json_dumps(merged, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
        assert_string_equal(line, expected);
        /* no raw control byte or non-ASCII byte in the line */
        for (const unsigned char *p = (const unsigned char *)line; *p; p++)
                assert_true(*p >= 0x20 && *p <= 0x7f);
        /* the invalid UTF-8 comes back byte for byte */
        const char *b64 =
            json_string_value(json_object_get(json_object_get(parsed, "path"), "base64"));
        assert_non_null(b64);
        unsigned char decoded[64];
        size_t decoded_length = 0;
        assert_int_equal(sodium_base642bin(decoded, sizeof(decoded), b64, strlen(b64), NULL,
                                           &decoded_length, NULL, sodium_base64_VARIANT_ORIGINAL),
                         0);
        assert_int_equal(decoded_length, sizeof(invalid) - 1);
        assert_memory_equal(decoded, invalid, decoded_length);
        /* a valid UTF-8 argument stays a string, exactly */
        assert_string_equal(json_string_value(json_array_get(json_object_get(parsed, "argv"), 2)),
                            "a\nb");
        free(expected);
        free(line);
        json_decref(merged);
        json_decref(parsed);
        json_decref(event);
}

static void test_open_refuses_existing(void **state)
{
        (void)state;
        char path[256], target[256];
        snprintf(path, sizeof(path), "%s/exists.jsonl", tmpdir);
        snprintf(target, sizeof(target), "%s/elsewhere", tmpdir);
        close(open(path, O_CREAT | O_WRONLY, 0600));
        struct audit_trail *trail = NULL;
        struct reins_error err = {0};
        assert_int_equal(audit_trail_open_with_key(path, &test_key, &trail, &err), -EEXIST);
        /* a planted symlink is not followed */
        snprintf(path, sizeof(path), "%s/link.jsonl", tmpdir);
        assert_int_equal(symlink(target, path), 0);
        assert_true(audit_trail_open_with_key(path, &test_key, &trail, &err) < 0);
        assert_int_equal(access(target, F_OK), -1);
}

static void test_file_mode(void **state)
{
        (void)state;
        char path[256];
        snprintf(path, sizeof(path), "%s/mode.jsonl", tmpdir);
        mode_t old = umask(0);
        struct audit_trail *trail = NULL;
        struct reins_error err = {0};
        assert_int_equal(audit_trail_open_with_key(path, &test_key, &trail, &err), 0);
        umask(old);
        assert_int_equal(audit_trail_close(trail, &err), 0);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
}

/* A key readable by others is refused with a message that says so. */
static void test_key_permissions(void **state)
{
        (void)state;
        char path[256];
        snprintf(path, sizeof(path), "%s/key", tmpdir);
        int fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0600);
        unsigned char seed[32] = {1};
        assert_int_equal(write(fd, seed, sizeof(seed)), 32);
        close(fd);
        struct audit_key key;
        struct reins_error err = {0};
        assert_int_equal(audit_key_load_file(path, &key, &err), 0);
        chmod(path, 0644);
        assert_int_equal(audit_key_load_file(path, &key, &err), -EPERM);
        assert_non_null(strstr(err.message, "group or others"));
        chmod(path, 0600);
        assert_int_equal(truncate(path, 31), 0);
        assert_int_equal(audit_key_load_file(path, &key, &err), -EINVAL);
}

int main(void)
{
        if (sodium_init() < 0 || !mkdtemp(tmpdir))
                return 1;
        crypto_sign_keypair(test_key.public_key, test_key.secret_key);
        audit_hex(test_key.public_key, sizeof(test_key.public_key), test_key_hex);
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_intact),
            cmocka_unit_test(test_one_byte_changed),
            cmocka_unit_test(test_deleted),
            cmocka_unit_test(test_swapped),
            cmocka_unit_test(test_appended),
            cmocka_unit_test(test_checkpoint_signature_altered),
            cmocka_unit_test(test_checkpoint_fields_signed),
            cmocka_unit_test(test_wrong_key),
            cmocka_unit_test(test_unsealed_and_torn),
            cmocka_unit_test(test_serializer_matches_jansson),
            cmocka_unit_test(test_open_refuses_existing),
            cmocka_unit_test(test_file_mode),
            cmocka_unit_test(test_key_permissions),
        };
        int failed = cmocka_run_group_tests(tests, NULL, NULL);
        char command[300];
        snprintf(command, sizeof(command), "rm -rf '%s'", tmpdir);
        if (system(command) != 0)
                return 1;
        return failed;
}

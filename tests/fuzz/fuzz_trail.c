/* The trail as `reins audit verify`, `show` and `export` read it: a file of
 * JSON lines that anyone who could write the trail directory may have
 * edited. audit_verify_buffer must name a verdict for any bytes; every
 * record that parses is also rendered for a person (audit_format_line) and
 * exported (OCSF, syslog, CEF), and the text forms must be ASCII without
 * control bytes, whatever the record holds.
 *
 * The first byte picks the input: bit 0 clear, the bytes as they are (the
 * fuzzer rarely chains a SHA-256 by chance, so this mostly exercises the
 * first records and the classification of breaks); set, the lines re-chained
 * here as an honest writer would (seq, prev) with every well-formed
 * checkpoint re-rooted and re-signed by a fixed key, so that the fuzzer
 * reaches the checkpoint and sealing logic. A trail re-chained that way
 * must verify as intact, unsealed or appended, never as tampered. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "audit/checkpoint.h"
#include "audit/export.h"
#include "audit/format.h"
#include "audit/keys.h"
#include "audit/merkle.h"
#include "audit/session_key.h"
#include "util/digest.h"
#include "audit/text.h"
#include "audit/verify.h"
#include "fuzz.h"
#include "util/text_escape.h"

static struct audit_key key;
static char key_hex[65];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        static const unsigned char seed[crypto_sign_SEEDBYTES] = "reins fuzz trail key seed 32 byt";
        FUZZ_CHECK(sodium_init() >= 0);
        crypto_sign_seed_keypair(key.public_key, key.secret_key, seed);
        audit_hex(key.public_key, sizeof(key.public_key), key_hex);
        json_object_seed(1);
        return 0;
}

/* Text for a person: printable ASCII, and where utf8 is allowed (audit
 * show) printable UTF-8 too -- never a control byte, C1 control, bidi
 * override or invalid sequence (util/text_escape.h decides which). */
static void check_text(const char *text, bool colour, bool utf8)
{
        FUZZ_CHECK(text != NULL);
        const unsigned char *start = (const unsigned char *)text;
        for (const unsigned char *p = start; *p; p++) {
                bool ok = (*p >= 0x20 && *p < 0x7f) || (colour && *p == 0x1b);
                if (!ok && utf8 && *p >= 0xc0) {
                        size_t n = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
                        if (strnlen((const char *)p, n) == n &&
                            !text_escape_needed((const char *)p, n, TEXT_ESCAPE_KEEP_BACKSLASH)) {
                                p += n - 1;
                                continue;
                        }
                }
                if (!ok) {
                        fprintf(stderr, "byte 0x%02x at %zu in: ", *p, (size_t)(p - start));
                        for (const unsigned char *q = start; *q; q++)
                                fprintf(stderr, *q >= 0x20 && *q < 0x7f ? "%c" : "\\x%02x", *q);
                        fprintf(stderr, "\n");
                        FUZZ_CHECK(false && "text for a person holds a control byte");
                }
        }
}

static void render(const char *line, size_t length)
{
        json_t *record = json_loadb(line, length, 0, NULL);
        if (!json_is_object(record)) {
                json_decref(record);
                return;
        }
        char *text = audit_format_line(record, false);
        check_text(text, false, true);
        free(text);
        text = audit_format_line(record, true);
        check_text(text, true, true);
        free(text);
        text = audit_export_line(AUDIT_EXPORT_SYSLOG, record, "host");
        check_text(text, false, false);
        free(text);
        text = audit_export_line(AUDIT_EXPORT_CEF, record, "host");
        check_text(text, false, false);
        free(text);
        text = audit_export_line(AUDIT_EXPORT_OCSF, record, "host");
        FUZZ_CHECK(text != NULL);
        free(text);
        json_decref(record);
}

struct chain {
        struct audit_buffer out;
        char prev[65];
        struct merkle_frontier frontier;
        size_t count;
        bool faithful; /* every line became a record an honest writer could write */
};

static void chain_add(struct chain *c, const char *line, size_t length)
{
        json_t *record = json_loadb(line, length, JSON_REJECT_DUPLICATES, NULL);
        char *text = NULL;
        if (json_is_object(record)) {
                json_object_set_new(record, "seq", json_integer((json_int_t)c->count));
                json_object_set_new(record, "prev", json_string(c->prev));
                /* a session certificate vouches for another key than the
                 * fixed one re-signing here: the trail is no longer one an
                 * honest writer made (verify names the uncertified key) */
                if (json_object_get(record, AUDIT_CERT_FIELD))
                        c->faithful = false;
                const char *type = json_string_value(json_object_get(record, "type"));
                struct audit_checkpoint checkpoint;
                char why[160];
                if (type && strcmp(type, "checkpoint") == 0) {
                        if (audit_checkpoint_from_json(record, &checkpoint, why, sizeof(why)) ==
                            0) {
                                checkpoint.tree_size = c->count;
                                merkle_frontier_root(&c->frontier, checkpoint.root);
                                FUZZ_CHECK(audit_checkpoint_sign(&checkpoint, &key) == 0);
                                json_decref(record);
                                record = audit_checkpoint_to_json(&checkpoint);
                        } else {
                                c->faithful = false;
                        }
                }
                text = json_dumps(record, JSON_COMPACT);
        }
        json_decref(record);
        if (!text) {
                c->faithful = false;
                audit_buffer_add(&c->out, line, length);
        } else {
                length = strlen(text);
                audit_buffer_add(&c->out, text, length);
                line = c->out.data + c->out.length - length;
        }
        unsigned char hash[DIGEST_SHA256_BYTES], leaf[MERKLE_HASH_BYTES];
        digest_sha256(line, length, hash);
        audit_hex(hash, sizeof(hash), c->prev);
        merkle_leaf_hash(line, length, leaf);
        merkle_frontier_append(&c->frontier, leaf);
        audit_buffer_add(&c->out, "\n", 1);
        c->count++;
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1 || size > 200000)
                return 0;
        const char *input = (const char *)data + 1;
        size_t length = size - 1;
        struct chain c = {.faithful = true};
        memset(c.prev, '0', 64);
        merkle_frontier_init(&c.frontier);
        const char *p = input, *end = input + length;
        size_t rendered = 0;
        while (p < end) {
                const char *newline = memchr(p, '\n', (size_t)(end - p));
                size_t n = newline ? (size_t)(newline - p) : (size_t)(end - p);
                /* a few records are enough to render: the formats see one
                 * record at a time, and jansson under ASan is slow */
                if (rendered++ < 4)
                        render(p, n);
                if (data[0] & 1) {
                        if (newline) {
                                chain_add(&c, p, n);
                        } else {
                                c.faithful = false; /* a torn tail stays as it is */
                                audit_buffer_add(&c.out, p, n);
                        }
                }
                p += n + 1;
        }
        const char *trail = input;
        size_t trail_length = length;
        if (data[0] & 1) {
                if (c.out.failed) {
                        free(c.out.data);
                        return 0;
                }
                trail = c.out.data ? c.out.data : "";
                trail_length = c.out.length;
        }
        /* an exact copy: ASan sees a read one byte past the end */
        char *copy = malloc(trail_length ? trail_length : 1);
        FUZZ_CHECK(copy != NULL);
        memcpy(copy, trail, trail_length);
        struct audit_verify_result result;
        audit_verify_buffer(copy, trail_length, NULL, &result);
        FUZZ_CHECK(result.message[0] != '\0' && result.intact <= result.records);
        FUZZ_CHECK(!strstr(result.message, "18446744073709551615")); /* no record -1 */
        if ((data[0] & 1) && c.faithful && c.count > 0 &&
            !(result.verdict == AUDIT_INTACT || result.verdict == AUDIT_UNSEALED ||
              result.verdict == AUDIT_APPENDED)) {
                fprintf(stderr, "an honestly chained trail does not verify: %s: %s\n",
                        audit_verdict_name(result.verdict), result.message);
                abort();
        }
        audit_verify_buffer(copy, trail_length, key_hex, &result);
        free(copy);
        free(c.out.data);
        return 0;
}

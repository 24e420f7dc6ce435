/* Cutting an event down to what one trail record may hold (trail_bound.h).
 * Pure: no I/O, no state; the writer calls it for every event, so the
 * common case (everything fits) only measures and copies nothing. */
#include "audit/trail_bound.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/digest.h"
#include "audit/text.h"

/* What a cut value's wrapper takes besides its prefix:
 * {"truncated":,"bytes":NNNNNNNNNN,"sha256":"<64 hex>"} and a comma. */
#define BOUND_WRAPPER 112
/* What an array's closing marker takes:
 * {"truncated_items":NNNNNNNNNN,"bytes":NNNNNNNNNN,"sha256":"<64 hex>"} */
#define BOUND_MARKER 140
/* A string this short is kept before the large values of its object. */
#define BOUND_SMALL 256
/* An array keeps items while at least this much of one could be kept. */
#define BOUND_ITEM_MIN 256
/* A number, true, false, null, and the punctuation around a value. */
#define BOUND_SCALAR 24

size_t audit_trail_spelled_length(const char *bytes, size_t length)
{
        size_t spelled = 0;
        for (size_t i = 0; i < length; i++) {
                unsigned char c = (unsigned char)bytes[i];
                if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' ||
                    c == '\t')
                        spelled += 2;
                else if (c < 0x20)
                        spelled += 6; /* \u00XX */
                else if (c < 0x80)
                        spelled += 1;
                else if (c >= 0xf0)
                        spelled += 12; /* a surrogate pair: \uXXXX\uXXXX */
                else if (c >= 0xc0)
                        spelled += 6; /* \uXXXX; continuation bytes add nothing */
        }
        return spelled;
}

static size_t saturating_sub(size_t a, size_t b)
{
        return a > b ? a - b : 0;
}

/* A {"base64": "..."} value (util/bytes_json.h): untrusted bytes that are
 * not UTF-8. */
static bool bound_is_base64(const json_t *value)
{
        return json_is_object(value) && json_object_size(value) == 1 &&
               json_is_string(json_object_get(value, "base64"));
}

/* ---- measuring: does the event fit as it is? */

struct bound_measure {
        size_t field_max;
        size_t total;   /* what the values take in all (at most) */
        size_t longest; /* the longest string (at most) */
};

static void bound_measure_value(const json_t *value, struct bound_measure *m)
{
        switch (json_typeof(value)) {
        case JSON_STRING: {
                /* no byte takes more than 6 (\u00XX): short strings are not
                 * scanned, the hot path stays a walk over the structure */
                size_t length = json_string_length(value);
                size_t spelled = length <= m->field_max / 6
                                     ? 6 * length
                                     : audit_trail_spelled_length(json_string_value(value), length);
                if (spelled > m->longest)
                        m->longest = spelled;
                m->total += spelled + 3;
                return;
        }
        case JSON_ARRAY: {
                size_t i;
                const json_t *item;
                m->total += 2;
                json_array_foreach(value, i, item) bound_measure_value(item, m);
                return;
        }
        case JSON_OBJECT: {
                const char *key;
                const json_t *member;
                m->total += 2;
                json_object_foreach((json_t *)value, key, member)
                {
                        m->total += audit_trail_spelled_length(key, strlen(key)) + 4;
                        bound_measure_value(member, m);
                }
                return;
        }
        default:
                m->total += BOUND_SCALAR;
                return;
        }
}

/* ---- cutting */

static json_t *bound_hash_text(const unsigned char hash[DIGEST_SHA256_BYTES])
{
        char hex[2 * DIGEST_SHA256_BYTES + 1];
        sodium_bin2hex(hex, sizeof(hex), hash, DIGEST_SHA256_BYTES);
        return json_string(hex);
}

static json_t *bound_wrapper(json_t *prefix, const void *whole, size_t length)
{
        unsigned char hash[DIGEST_SHA256_BYTES];
        digest_sha256(whole, length, hash);
        return json_pack("{s:o, s:I, s:o}", "truncated", prefix, "bytes", (json_int_t)length,
                         "sha256", bound_hash_text(hash));
}

/* The longest start of a UTF-8 string that takes at most `room` spelled
 * bytes, ending on a character boundary. */
static size_t bound_utf8_prefix(const char *s, size_t length, size_t room)
{
        size_t spelled = 0, cut = 0;
        for (size_t i = 0; i < length;) {
                size_t char_length = 1;
                unsigned char c = (unsigned char)s[i];
                if (c >= 0xf0)
                        char_length = 4;
                else if (c >= 0xe0)
                        char_length = 3;
                else if (c >= 0xc0)
                        char_length = 2;
                if (char_length > length - i)
                        break;
                spelled += audit_trail_spelled_length(s + i, char_length);
                if (spelled > room)
                        break;
                i += char_length;
                cut = i;
        }
        return cut;
}

static json_t *bound_string(const json_t *value, size_t field_max, size_t *remaining)
{
        const char *s = json_string_value(value);
        size_t length = json_string_length(value);
        size_t spelled = audit_trail_spelled_length(s, length);
        if (spelled <= field_max && spelled + 3 <= *remaining) {
                *remaining -= spelled + 3;
                return json_incref((json_t *)value);
        }
        size_t room = saturating_sub(*remaining, BOUND_WRAPPER);
        if (room > field_max)
                room = field_max;
        size_t cut = bound_utf8_prefix(s, length, room);
        *remaining = saturating_sub(*remaining, audit_trail_spelled_length(s, cut) + BOUND_WRAPPER);
        return bound_wrapper(json_stringn(s, cut), s, length);
}

static json_t *bound_base64(const json_t *value, size_t field_max, size_t *remaining)
{
        size_t spelled = json_string_length(json_object_get(value, "base64")) + 14;
        if (spelled <= field_max && spelled <= *remaining) {
                *remaining -= spelled;
                return json_incref((json_t *)value);
        }
        size_t length = 0;
        unsigned char *bytes = (unsigned char *)audit_value_bytes(value, &length);
        if (!bytes)
                return NULL;
        size_t room = saturating_sub(*remaining, BOUND_WRAPPER + 16);
        if (room > field_max)
                room = field_max;
        size_t cut = room / 4 * 3; /* base64: 4 characters for 3 bytes */
        if (cut > length)
                cut = length;
        size_t encoded_size = sodium_base64_ENCODED_LEN(cut, sodium_base64_VARIANT_ORIGINAL);
        char *encoded = malloc(encoded_size);
        json_t *out = NULL;
        if (encoded) {
                sodium_bin2base64(encoded, encoded_size, bytes, cut,
                                  sodium_base64_VARIANT_ORIGINAL);
                out = bound_wrapper(json_pack("{s:s}", "base64", encoded), bytes, length);
                *remaining = saturating_sub(*remaining, strlen(encoded) + 16 + BOUND_WRAPPER);
        }
        free(encoded);
        free(bytes);
        return out;
}

/* One array item as the marker's hash counts it: its bytes, then a NUL. */
static int bound_hash_item(struct digest_sha256 *hash, size_t *total, const json_t *item)
{
        static const unsigned char nul = 0;
        size_t length = 0;
        char *bytes = NULL;
        if (json_is_string(item) || bound_is_base64(item))
                bytes = audit_value_bytes(item, &length);
        else if ((bytes = json_dumps(item, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII |
                                               JSON_ENCODE_ANY)))
                length = strlen(bytes);
        if (!bytes)
                return -ENOMEM;
        digest_sha256_update(hash, bytes, length);
        digest_sha256_update(hash, &nul, 1);
        *total += length + 1;
        free(bytes);
        return 0;
}

static json_t *bound_marker(const json_t *array, size_t left_out)
{
        struct digest_sha256 hash;
        digest_sha256_init(&hash);
        size_t total = 0, i;
        const json_t *item;
        json_array_foreach(array, i,
                           item) if (bound_hash_item(&hash, &total, item) < 0) return NULL;
        unsigned char digest[DIGEST_SHA256_BYTES];
        digest_sha256_final(&hash, digest);
        return json_pack("{s:I, s:I, s:o}", "truncated_items", (json_int_t)left_out, "bytes",
                         (json_int_t)total, "sha256", bound_hash_text(digest));
}

static json_t *bound_value(const json_t *value, size_t field_max, size_t *remaining);

static json_t *bound_array(const json_t *value, size_t field_max, size_t *remaining)
{
        json_t *out = json_array();
        size_t count = json_array_size(value), i = 0;
        *remaining = saturating_sub(*remaining, 2);
        for (; out && i < count; i++) {
                /* keep room for the marker, and stop before items would be
                 * cut to almost nothing */
                if (*remaining < BOUND_MARKER + BOUND_WRAPPER + BOUND_ITEM_MIN)
                        break;
                size_t room = *remaining - BOUND_MARKER;
                json_t *item = bound_value(json_array_get(value, i), field_max, &room);
                if (!item || json_array_append_new(out, item) < 0) {
                        json_decref(out);
                        return NULL;
                }
                *remaining = room + BOUND_MARKER;
        }
        if (out && i < count) {
                json_t *marker = bound_marker(value, count - i);
                *remaining = saturating_sub(*remaining, BOUND_MARKER);
                if (!marker || json_array_append_new(out, marker) < 0) {
                        json_decref(out);
                        return NULL;
                }
        }
        return out;
}

/* Is this member small: a scalar, or a string of at most BOUND_SMALL? */
static bool bound_is_small(const json_t *value)
{
        if (json_is_string(value))
                return json_string_length(value) <= BOUND_SMALL;
        return !json_is_object(value) && !json_is_array(value);
}

static json_t *bound_object(const json_t *value, size_t field_max, size_t *remaining)
{
        json_t *out = json_object();
        *remaining = saturating_sub(*remaining, 2);
        /* small members first (cwd, result, pid...): one large argv must not
         * leave them nothing; then the large ones share what is left */
        for (int pass = 0; out && pass < 2; pass++) {
                const char *key;
                const json_t *member;
                json_object_foreach((json_t *)value, key, member)
                {
                        if (bound_is_small(member) != (pass == 0))
                                continue;
                        *remaining = saturating_sub(
                            *remaining, audit_trail_spelled_length(key, strlen(key)) + 4);
                        json_t *bounded = bound_value(member, field_max, remaining);
                        if (!bounded || json_object_set_new(out, key, bounded) < 0) {
                                json_decref(out);
                                return NULL;
                        }
                }
        }
        return out;
}

static json_t *bound_value(const json_t *value, size_t field_max, size_t *remaining)
{
        switch (json_typeof(value)) {
        case JSON_STRING:
                return bound_string(value, field_max, remaining);
        case JSON_ARRAY:
                return bound_array(value, field_max, remaining);
        case JSON_OBJECT:
                if (bound_is_base64(value))
                        return bound_base64(value, field_max, remaining);
                return bound_object(value, field_max, remaining);
        default:
                *remaining = saturating_sub(*remaining, BOUND_SCALAR);
                return json_incref((json_t *)value);
        }
}

int audit_trail_bound(const json_t *event, size_t field_max, size_t budget, json_t **out)
{
        struct bound_measure m = {.field_max = field_max};
        *out = NULL;
        bound_measure_value(event, &m);
        if (m.longest <= field_max && m.total <= budget)
                return 0;
        size_t remaining = budget;
        *out = bound_value(event, field_max, &remaining);
        return *out ? 0 : -ENOMEM;
}

/* The one digest API (util/digest.h): SHA-256 and SHA-1 known answers from
 * FIPS 180-2 appendix B/C ("abc", the 448- and 896-bit messages, a million
 * 'a') and NIST CAVS SHAVS short messages (one byte), each hashed in one
 * call and fed in pieces of every size; a context reused after final;
 * and SHA-256 against libsodium's over random data of many lengths, so a
 * broken block boundary cannot hide behind the few fixed vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "util/digest.h"

struct vector {
        const char *message; /* NULL: a million 'a' */
        size_t length;       /* for one-byte binary messages */
        const char *sha256;
        const char *sha1;
};

static const struct vector vectors[] = {
    {"", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
     "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
    {"abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
     "a9993e364706816aba3e25717850c26c9cd0d89d"},
    /* 448 bits: the padding spills into a second block */
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
     "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
    /* 896 bits */
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmno"
     "pqrsmnopqrstnopqrstu",
     112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
     "a49b2446a02c645bf419f995b67091253a04a259"},
    /* SHAVS short messages, Len = 8 */
    {"\xd3", 1, "28969cdfa74a12c82f3bad960b0b000aca2ac329deea5c2328ebc6f2ba9802c1",
     "b34db2b72d63f33dbef80fb30e094cc0a91d6322"},
    {"\x36", 1, "e7f6c011776e8db7cd330b54174fd76f7d0216b612387a5ffcfb81e6f0919683",
     "c1dfd96eea8cc2b62785275bca38ac261256e278"},
    {NULL, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
     "34aa973cd4c4daa4f61eeb2bdbad27316534016f"},
};

static void hex_of(const unsigned char *digest, size_t length, char *hex)
{
        for (size_t i = 0; i < length; i++)
                snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

static const unsigned char *message_of(const struct vector *v, unsigned char **owned)
{
        *owned = NULL;
        if (v->message)
                return (const unsigned char *)v->message;
        *owned = malloc(v->length);
        assert_non_null(*owned);
        memset(*owned, 'a', v->length);
        return *owned;
}

/* Feed `data` in pieces of `step` bytes (the last one shorter). */
static void sha256_in_pieces(const unsigned char *data, size_t length, size_t step,
                             unsigned char out[DIGEST_SHA256_BYTES])
{
        struct digest_sha256 ctx;
        digest_sha256_init(&ctx);
        for (size_t done = 0; done < length; done += step)
                digest_sha256_update(&ctx, data + done,
                                     length - done < step ? length - done : step);
        digest_sha256_final(&ctx, out);
}

static void sha1_in_pieces(const unsigned char *data, size_t length, size_t step,
                           unsigned char out[DIGEST_SHA1_BYTES])
{
        struct digest_sha1 ctx;
        digest_sha1_init(&ctx);
        for (size_t done = 0; done < length; done += step)
                digest_sha1_update(&ctx, data + done, length - done < step ? length - done : step);
        digest_sha1_final(&ctx, out);
}

/* Piece sizes around the 64-byte block: 1, 3, 55..65, 127, 1000. */
static const size_t steps[] = {1, 3, 55, 56, 63, 64, 65, 127, 1000};

static void test_sha256_known_answers(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
                unsigned char *owned;
                const unsigned char *m = message_of(&vectors[i], &owned);
                unsigned char digest[DIGEST_SHA256_BYTES];
                char hex[2 * DIGEST_SHA256_BYTES + 1];
                digest_sha256(m, vectors[i].length, digest);
                hex_of(digest, sizeof(digest), hex);
                assert_string_equal(hex, vectors[i].sha256);
                for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
                        sha256_in_pieces(m, vectors[i].length, steps[s], digest);
                        hex_of(digest, sizeof(digest), hex);
                        if (strcmp(hex, vectors[i].sha256) != 0)
                                fail_msg("vector %zu in pieces of %zu: %s", i, steps[s], hex);
                }
                free(owned);
        }
}

static void test_sha1_known_answers(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
                unsigned char *owned;
                const unsigned char *m = message_of(&vectors[i], &owned);
                unsigned char digest[DIGEST_SHA1_BYTES];
                char hex[2 * DIGEST_SHA1_BYTES + 1];
                digest_sha1(m, vectors[i].length, digest);
                hex_of(digest, sizeof(digest), hex);
                assert_string_equal(hex, vectors[i].sha1);
                for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
                        sha1_in_pieces(m, vectors[i].length, steps[s], digest);
                        hex_of(digest, sizeof(digest), hex);
                        if (strcmp(hex, vectors[i].sha1) != 0)
                                fail_msg("vector %zu in pieces of %zu: %s", i, steps[s], hex);
                }
                free(owned);
        }
}

/* An empty message may be given as NULL (the Merkle tree's empty root). */
static void test_empty_message_as_null(void **state)
{
        (void)state;
        unsigned char digest[DIGEST_SHA256_BYTES];
        char hex[2 * DIGEST_SHA256_BYTES + 1];
        digest_sha256(NULL, 0, digest);
        hex_of(digest, sizeof(digest), hex);
        assert_string_equal(hex, vectors[0].sha256);
}

/* After final the context hashes a new message from scratch. */
static void test_context_reused_after_final(void **state)
{
        (void)state;
        struct digest_sha256 ctx;
        unsigned char digest[DIGEST_SHA256_BYTES];
        char hex[2 * DIGEST_SHA256_BYTES + 1];
        digest_sha256_init(&ctx);
        digest_sha256_update(&ctx, "something else", 14);
        digest_sha256_final(&ctx, digest);
        digest_sha256_update(&ctx, "abc", 3);
        digest_sha256_final(&ctx, digest);
        hex_of(digest, sizeof(digest), hex);
        assert_string_equal(hex, vectors[1].sha256);

        struct digest_sha1 ctx1;
        unsigned char digest1[DIGEST_SHA1_BYTES];
        char hex1[2 * DIGEST_SHA1_BYTES + 1];
        digest_sha1_init(&ctx1);
        digest_sha1_update(&ctx1, "something else", 14);
        digest_sha1_final(&ctx1, digest1);
        digest_sha1_update(&ctx1, "abc", 3);
        digest_sha1_final(&ctx1, digest1);
        hex_of(digest1, sizeof(digest1), hex1);
        assert_string_equal(hex1, vectors[1].sha1);
}

/* Every length from 0 to 200, then steps of 97 up to 5000, one call and in
 * irregular pieces, against libsodium's independent SHA-256. */
static void test_sha256_against_libsodium(void **state)
{
        (void)state;
        static unsigned char data[5000];
        randombytes_buf(data, sizeof(data));
        for (size_t n = 0; n < sizeof(data); n += (n < 200 ? 1 : 97)) {
                unsigned char a[DIGEST_SHA256_BYTES], b[crypto_hash_sha256_BYTES];
                crypto_hash_sha256(b, data, n);
                digest_sha256(data, n, a);
                if (memcmp(a, b, sizeof(a)) != 0)
                        fail_msg("sha256 differs from libsodium's at length %zu", n);
                struct digest_sha256 ctx;
                digest_sha256_init(&ctx);
                for (size_t done = 0; done < n;) {
                        size_t step = (done * 7 + 13) % 150 + 1;
                        if (step > n - done)
                                step = n - done;
                        digest_sha256_update(&ctx, data + done, step);
                        done += step;
                }
                digest_sha256_final(&ctx, a);
                if (memcmp(a, b, sizeof(a)) != 0)
                        fail_msg("incremental sha256 differs from libsodium's at length %zu", n);
        }
}

int main(void)
{
        if (sodium_init() < 0)
                return 1;
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sha256_known_answers),
            cmocka_unit_test(test_sha1_known_answers),
            cmocka_unit_test(test_empty_message_as_null),
            cmocka_unit_test(test_context_reused_after_final),
            cmocka_unit_test(test_sha256_against_libsodium),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SNI extraction from real ClientHellos (captured from `openssl s_client`,
 * see the comments) and from truncated, fragmented and garbled ones: the
 * parser must never read past its input and must tell "not TLS" (allowed
 * through) from "TLS but broken" (a mismatch). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/sni.h"

/* openssl s_client -servername api.github.com -tls1_3 */
static const uint8_t hello_tls13_sni[] = {
    0x16, 0x03, 0x01, 0x00, 0xf3, 0x01, 0x00, 0x00, 0xef, 0x03, 0x03, 0x8f, 0xef, 0x4f, 0xc3, 0x70,
    0xce, 0x7f, 0x17, 0x45, 0x7b, 0x08, 0xb3, 0xe2, 0xf9, 0x16, 0x52, 0xc5, 0x05, 0x6c, 0xc5, 0x54,
    0x2c, 0x37, 0xe1, 0x9f, 0x23, 0x3b, 0x13, 0xdd, 0x7b, 0x8d, 0x4e, 0x20, 0x2e, 0x61, 0x53, 0x4e,
    0xeb, 0x72, 0x95, 0x26, 0x6d, 0xd7, 0x0e, 0x31, 0x46, 0xe4, 0x15, 0xaa, 0xdb, 0x3f, 0x46, 0xb6,
    0xf6, 0xcd, 0xe4, 0x60, 0xca, 0xfb, 0x34, 0xc9, 0xb3, 0x73, 0xaa, 0x71, 0x00, 0x08, 0x13, 0x02,
    0x13, 0x03, 0x13, 0x01, 0x00, 0xff, 0x01, 0x00, 0x00, 0x9e, 0x00, 0x00, 0x00, 0x13, 0x00, 0x11,
    0x00, 0x00, 0x0e, 0x61, 0x70, 0x69, 0x2e, 0x67, 0x69, 0x74, 0x68, 0x75, 0x62, 0x2e, 0x63, 0x6f,
    0x6d, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16, 0x00, 0x14, 0x00,
    0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01,
    0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00,
    0x0d, 0x00, 0x1e, 0x00, 0x1c, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08,
    0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06,
    0x01, 0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33,
    0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x2d, 0x78, 0xdb, 0x10, 0x9e, 0x41, 0x96, 0x39,
    0xc9, 0xe5, 0x24, 0x9e, 0x65, 0x6c, 0x1c, 0x36, 0x59, 0x78, 0xc0, 0x8a, 0xfd, 0x49, 0xfa, 0xd6,
    0xae, 0x8c, 0x32, 0x32, 0x50, 0x4b, 0xcb, 0x0b,
};

/* openssl s_client -noservername -tls1_2 */
static const uint8_t hello_tls12_no_sni[] = {
    0x16, 0x03, 0x01, 0x00, 0xb7, 0x01, 0x00, 0x00, 0xb3, 0x03, 0x03, 0xf0, 0x62, 0x0f, 0xc6, 0x60,
    0xd5, 0xac, 0x3a, 0xb6, 0x35, 0x45, 0x98, 0x79, 0x8b, 0xe1, 0x83, 0x3d, 0xba, 0xc6, 0x39, 0xdf,
    0xbf, 0xbb, 0xef, 0xca, 0xe7, 0x97, 0xc6, 0xe5, 0x42, 0x2c, 0x3b, 0x00, 0x00, 0x38, 0xc0, 0x2c,
    0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa, 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e,
    0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14,
    0x00, 0x39, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c,
    0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0x52, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00,
    0x01, 0x02, 0x00, 0x0a, 0x00, 0x0c, 0x00, 0x0a, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19,
    0x00, 0x18, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d,
    0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09,
    0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01,
    0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02,
};

static enum net_sni_result parse(const uint8_t *buf, size_t len, char *out)
{
        /* a heap copy of exactly len bytes: valgrind/ASan see any over-read */
        uint8_t *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, buf, len);
        enum net_sni_result r = net_sni_parse(copy, len, out, 256);
        free(copy);
        return r;
}

static void test_real_hello_with_sni(void **state)
{
        (void)state;
        char out[256];
        assert_int_equal(parse(hello_tls13_sni, sizeof(hello_tls13_sni), out), NET_SNI_FOUND);
        assert_string_equal(out, "api.github.com");
}

static void test_real_hello_without_sni(void **state)
{
        (void)state;
        char out[256];
        assert_int_equal(parse(hello_tls12_no_sni, sizeof(hello_tls12_no_sni), out),
                         NET_SNI_ABSENT);
}

static void test_every_truncation_needs_more(void **state)
{
        (void)state;
        char out[256];
        for (size_t len = 0; len < sizeof(hello_tls13_sni); len++) {
                enum net_sni_result r = parse(hello_tls13_sni, len, out);
                if (r != NET_SNI_NEED_MORE)
                        fail_msg("prefix of %zu bytes: result %d", len, r);
        }
}

/* The same hello split over records of n bytes each. */
static size_t fragment(const uint8_t *hello, size_t len, size_t n, uint8_t *out)
{
        const uint8_t *body = hello + 5;
        size_t body_len = len - 5, used = 0;
        for (size_t off = 0; off < body_len; off += n) {
                size_t take = body_len - off < n ? body_len - off : n;
                out[used++] = 0x16;
                out[used++] = 0x03;
                out[used++] = 0x01;
                out[used++] = (uint8_t)(take >> 8);
                out[used++] = (uint8_t)take;
                memcpy(out + used, body + off, take);
                used += take;
        }
        return used;
}

static void test_hello_over_several_records(void **state)
{
        (void)state;
        static uint8_t buf[8192];
        char out[256];
        for (size_t n = 1; n <= 64; n += 7) {
                size_t len = fragment(hello_tls13_sni, sizeof(hello_tls13_sni), n, buf);
                assert_int_equal(parse(buf, len, out), NET_SNI_FOUND);
                assert_string_equal(out, "api.github.com");
                assert_int_equal(parse(buf, len - 1, out), NET_SNI_NEED_MORE);
        }
}

static void test_not_tls(void **state)
{
        (void)state;
        char out[256];
        const char *plain[] = {"GET / HTTP/1.1\r\n", "SSH-2.0-OpenSSH_9.6\r\n", "\x05\x01\x00",
                               "\x16\x01garbage"};
        for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
                assert_int_equal(parse((const uint8_t *)plain[i], strlen(plain[i]), out),
                                 NET_SNI_NOT_TLS);
}

static void test_garbled(void **state)
{
        (void)state;
        char out[256];
        uint8_t buf[sizeof(hello_tls13_sni)];

        /* a handshake that is not a ClientHello */
        memcpy(buf, hello_tls13_sni, sizeof(buf));
        buf[5] = 2;
        assert_int_equal(parse(buf, sizeof(buf), out), NET_SNI_MALFORMED);

        /* a handshake length far over the limit */
        memcpy(buf, hello_tls13_sni, sizeof(buf));
        buf[6] = 0x7f;
        assert_int_equal(parse(buf, sizeof(buf), out), NET_SNI_MALFORMED);

        /* zero-length record */
        const uint8_t empty[] = {0x16, 0x03, 0x01, 0x00, 0x00};
        assert_int_equal(parse(empty, sizeof(empty), out), NET_SNI_MALFORMED);

        /* a record of another type after the first fragment */
        static uint8_t frag[8192];
        size_t len = fragment(hello_tls13_sni, sizeof(hello_tls13_sni), 16, frag);
        frag[5 + 16] = 0x17;
        assert_int_equal(parse(frag, len, out), NET_SNI_MALFORMED);

        /* every single-byte corruption: any answer, but no crash or over-read,
         * and never "found" with a name other than the real one */
        for (size_t i = 5; i < sizeof(hello_tls13_sni); i++) {
                for (unsigned v = 0; v < 256; v += 51) {
                        memcpy(buf, hello_tls13_sni, sizeof(buf));
                        buf[i] = (uint8_t)(buf[i] ^ (v | 1));
                        enum net_sni_result r = parse(buf, sizeof(buf), out);
                        if (r == NET_SNI_FOUND && strlen(out) != strlen("api.github.com"))
                                fail_msg("byte %zu: found '%s'", i, out);
                }
        }
}

/* Find the server_name bytes in the captured hello. */
static size_t sni_offset(void)
{
        const uint8_t *p = memmem(hello_tls13_sni, sizeof(hello_tls13_sni), "api.github.com", 14);
        assert_non_null(p);
        return (size_t)(p - hello_tls13_sni);
}

static void test_name_with_nul_or_space_is_malformed(void **state)
{
        (void)state;
        char out[256];
        uint8_t buf[sizeof(hello_tls13_sni)];
        size_t at = sni_offset();
        memcpy(buf, hello_tls13_sni, sizeof(buf));
        buf[at + 3] = '\0'; /* "api\0github.com" */
        assert_int_equal(parse(buf, sizeof(buf), out), NET_SNI_MALFORMED);
        memcpy(buf, hello_tls13_sni, sizeof(buf));
        buf[at + 3] = ' ';
        assert_int_equal(parse(buf, sizeof(buf), out), NET_SNI_MALFORMED);
}

static void test_upper_case_is_lowered(void **state)
{
        (void)state;
        char out[256];
        uint8_t buf[sizeof(hello_tls13_sni)];
        size_t at = sni_offset();
        memcpy(buf, hello_tls13_sni, sizeof(buf));
        memcpy(buf + at, "API.GitHub.COM", 14);
        assert_int_equal(parse(buf, sizeof(buf), out), NET_SNI_FOUND);
        assert_string_equal(out, "api.github.com");
}

static void test_small_output_buffer(void **state)
{
        (void)state;
        char out[8];
        assert_int_equal(net_sni_parse(hello_tls13_sni, sizeof(hello_tls13_sni), out, sizeof(out)),
                         NET_SNI_MALFORMED);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_real_hello_with_sni),
            cmocka_unit_test(test_real_hello_without_sni),
            cmocka_unit_test(test_every_truncation_needs_more),
            cmocka_unit_test(test_hello_over_several_records),
            cmocka_unit_test(test_not_tls),
            cmocka_unit_test(test_garbled),
            cmocka_unit_test(test_name_with_nul_or_space_is_malformed),
            cmocka_unit_test(test_upper_case_is_lowered),
            cmocka_unit_test(test_small_output_buffer),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Sizes, durations, cpu counts and plain counts: what is accepted, what each
 * means, and that junk, negatives, rounding and overflow are refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy/parse_units.h"

struct good_case {
        const char *text;
        uint64_t value;
};

struct bad_case {
        const char *text;
        int error;
};

#define KiB 1024ULL
#define MiB (1024ULL * KiB)
#define GiB (1024ULL * MiB)
#define TiB (1024ULL * GiB)

typedef int (*unit_parser)(const char *, uint64_t *);

static void check_good(unit_parser parse, const struct good_case *cases, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                uint64_t value = 12345;
                int r = parse(cases[i].text, &value);
                if (r != 0 || value != cases[i].value)
                        fail_msg("'%s': got r=%d value=%llu, want %llu", cases[i].text, r,
                                 (unsigned long long)value, (unsigned long long)cases[i].value);
        }
}

static void check_bad(unit_parser parse, const struct bad_case *cases, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                uint64_t value = 12345;
                int r = parse(cases[i].text, &value);
                if (r != -cases[i].error || value != 12345)
                        fail_msg("'%s': got r=%d value=%llu, want r=%d and value untouched",
                                 cases[i].text, r, (unsigned long long)value, -cases[i].error);
        }
}

#define CHECK_GOOD(parse, cases) check_good(parse, cases, sizeof(cases) / sizeof(cases[0]))
#define CHECK_BAD(parse, cases)  check_bad(parse, cases, sizeof(cases) / sizeof(cases[0]))

static void test_size_accepts(void **state)
{
        (void)state;
        static const struct good_case cases[] = {
            {"0", 0},
            {"1048576", 1048576},
            {"512B", 512},
            {"1k", KiB},
            {"1K", KiB},
            {"1KB", 1000},
            {"1kB", 1000},
            {"1KiB", KiB},
            {"512m", 512 * MiB},
            {"512M", 512 * MiB},
            {"100MB", 100000000},
            {"100MiB", 100 * MiB},
            {"4G", 4 * GiB},
            {"4GB", 4000000000ULL},
            {"4GiB", 4 * GiB},
            {"4 GiB", 4 * GiB},
            {"2T", 2 * TiB},
            {"2TiB", 2 * TiB},
            {"1.5GiB", 3 * GiB / 2},
            {"0.5KiB", 512},
            {"1.25 MiB", 5 * MiB / 4},
            {"007MiB", 7 * MiB},
        };
        CHECK_GOOD(parse_size, cases);
        uint64_t max;
        assert_int_equal(parse_size("18446744073709551615", &max), 0);
        assert_true(max == UINT64_MAX);
        assert_int_equal(parse_size("15EiB", &max), 0);
        assert_true(max == 15ULL << 60);
}

static void test_size_refuses(void **state)
{
        (void)state;
        static const struct bad_case cases[] = {
            {"", EINVAL},
            {"4Gx", EINVAL},
            {"GiB", EINVAL},
            {"-1", EINVAL},
            {"-1GiB", EINVAL},
            {"+1", EINVAL},
            {" 4GiB", EINVAL},
            {"4GiB ", EINVAL},
            {"4  GiB", EINVAL},
            {"512 ", EINVAL},
            {"4gib", EINVAL},
            {"4Gib", EINVAL},
            {"4b", EINVAL},
            {"4X", EINVAL},
            {"1.5", EINVAL},    /* half a byte */
            {"0.3KiB", EINVAL}, /* 307.2 bytes */
            {"1.", EINVAL},
            {".5GiB", EINVAL},
            {"1,5GiB", EINVAL},
            {"1e9", EINVAL},
            {"0x10", EINVAL},
            {"4 G iB", EINVAL},
            {"18446744073709551616", ERANGE},
            {"99999999999999999999999", ERANGE},
            {"16EiB", ERANGE},
            {"17179869184GiB", ERANGE},
            {"16777216TiB", ERANGE},
        };
        CHECK_BAD(parse_size, cases);
        assert_int_equal(parse_size(NULL, &(uint64_t){0}), -EINVAL);
}

static void test_duration_accepts(void **state)
{
        (void)state;
        static const struct good_case cases[] = {
            {"0", 0},           {"90", 90000},      {"250ms", 250},
            {"30s", 30000},     {"10m", 600000},    {"2h", 7200000},
            {"1h30m", 5400000}, {"1d", 86400000},   {"1d2h3m4s5ms", 93784005},
            {"0s", 0},          {"1m500ms", 60500}, {"120s", 120000},
        };
        CHECK_GOOD(parse_duration_ms, cases);
}

static void test_duration_refuses(void **state)
{
        (void)state;
        static const struct bad_case cases[] = {
            {"", EINVAL},
            {"s", EINVAL},
            {"-1s", EINVAL},
            {"1.5h", EINVAL},
            {"1h30", EINVAL},  /* 30 what? */
            {"30m1h", EINVAL}, /* units out of order */
            {"1m1m", EINVAL},
            {"1min", EINVAL},
            {"1 s", EINVAL},
            {"1sec", EINVAL},
            {"1w", EINVAL},
            {"1H", EINVAL},
            {"1hh", EINVAL},
            {"10msx", EINVAL},
            {"18446744073709551615", ERANGE}, /* seconds: * 1000 overflows */
            {"213503982335d", ERANGE},
            {"99999999999999999999999ms", ERANGE},
            {"213503982334d99999999999999999h", ERANGE},
        };
        CHECK_BAD(parse_duration_ms, cases);
}

static void test_cpus(void **state)
{
        (void)state;
        static const struct good_case good[] = {
            {"0", 0},        {"2", 2000},     {"0.5", 500},  {"1.25", 1250}, {"0.001", 1},
            {"1500m", 1500}, {"0.5000", 500}, {"16", 16000}, {"1m", 1},      {"10.1", 10100},
        };
        CHECK_GOOD(parse_cpus_milli, good);
        static const struct bad_case bad[] = {
            {"", EINVAL},
            {"-1", EINVAL},
            {"0.0005", EINVAL},
            {".5", EINVAL},
            {"1.", EINVAL},
            {"2 cpus", EINVAL},
            {"1.5m", EINVAL},
            {"m", EINVAL},
            {"2x", EINVAL},
            {"1,5", EINVAL},
            {"18446744073709551615", ERANGE},
            {"18446744073709551616m", ERANGE},
        };
        CHECK_BAD(parse_cpus_milli, bad);
}

static void test_count(void **state)
{
        (void)state;
        static const struct good_case good[] = {
            {"0", 0},
            {"1024", 1024},
            {"18446744073709551615", UINT64_MAX},
        };
        CHECK_GOOD(parse_count, good);
        static const struct bad_case bad[] = {
            {"", EINVAL},    {"-1", EINVAL},
            {"+1", EINVAL},  {"1k", EINVAL},
            {"1.0", EINVAL}, {" 1", EINVAL},
            {"1 ", EINVAL},  {"0x10", EINVAL},
            {"ten", EINVAL}, {"18446744073709551616", ERANGE},
        };
        CHECK_BAD(parse_count, bad);
}

static void test_format_size(void **state)
{
        (void)state;
        char buf[32];
        assert_string_equal(format_size(3, buf, sizeof(buf)), "3 bytes");
        assert_string_equal(format_size(1, buf, sizeof(buf)), "1 byte");
        assert_string_equal(format_size(256 * MiB, buf, sizeof(buf)), "256 MiB");
        assert_string_equal(format_size(3 * GiB / 2, buf, sizeof(buf)), "1.5 GiB");
        assert_string_equal(format_size(1536, buf, sizeof(buf)), "1.5 KiB");
        assert_string_equal(format_size(4000000000ULL, buf, sizeof(buf)), "3.7 GiB");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_size_accepts),
            cmocka_unit_test(test_size_refuses),
            cmocka_unit_test(test_duration_accepts),
            cmocka_unit_test(test_duration_refuses),
            cmocka_unit_test(test_cpus),
            cmocka_unit_test(test_count),
            cmocka_unit_test(test_format_size),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

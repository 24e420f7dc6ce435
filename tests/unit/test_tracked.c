/* The git index reader behind the "hidden but tracked" note: versions 2, 3
 * and 4, and refusal of truncated or lying indexes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "workspace/tracked.h"

struct builder {
        unsigned char data[4096];
        size_t length;
        char previous[256];
};

static void put32(struct builder *b, uint32_t v)
{
        b->data[b->length++] = (unsigned char)(v >> 24);
        b->data[b->length++] = (unsigned char)(v >> 16);
        b->data[b->length++] = (unsigned char)(v >> 8);
        b->data[b->length++] = (unsigned char)v;
}

static void header(struct builder *b, uint32_t version, uint32_t entries)
{
        memset(b, 0, sizeof(*b));
        memcpy(b->data, "DIRC", 4);
        b->length = 4;
        put32(b, version);
        put32(b, entries);
}

/* An entry of version 2 (or 3 with `extended`): 62 fixed bytes, the path,
 * NUL padding to a multiple of 8. */
static void entry_v2(struct builder *b, const char *path, bool extended)
{
        size_t start = b->length;
        memset(b->data + b->length, 0, 60);
        b->length += 60;
        size_t len = strlen(path);
        unsigned flags = (unsigned)(len < 0xfff ? len : 0xfff) | (extended ? 0x4000u : 0);
        b->data[b->length++] = (unsigned char)(flags >> 8);
        b->data[b->length++] = (unsigned char)flags;
        if (extended) {
                b->data[b->length++] = 0;
                b->data[b->length++] = 0;
        }
        memcpy(b->data + b->length, path, len);
        b->length += len;
        size_t used = b->length - start;
        size_t padded = (used + 8) & ~(size_t)7;
        memset(b->data + b->length, 0, padded - used);
        b->length = start + padded;
}

/* Version 4: the number of bytes dropped from the previous path (one-byte
 * varint here), then the rest, NUL-terminated; no padding. */
static void entry_v4(struct builder *b, const char *path)
{
        memset(b->data + b->length, 0, 60);
        b->length += 60;
        size_t len = strlen(path);
        b->data[b->length++] = (unsigned char)(len >> 8);
        b->data[b->length++] = (unsigned char)len;
        size_t common = 0;
        while (b->previous[common] && b->previous[common] == path[common])
                common++;
        size_t drop = strlen(b->previous) - common;
        b->data[b->length++] = (unsigned char)drop;
        memcpy(b->data + b->length, path + common, len - common + 1);
        b->length += len - common + 1;
        strcpy(b->previous, path);
}

static char *paths[] = {"certs/dev.pem", ".env", "src/main.c", "absent"};

static void test_version2(void **state)
{
        (void)state;
        struct builder b;
        header(&b, 2, 3);
        entry_v2(&b, ".env", false);
        entry_v2(&b, "certs/dev.pem", false);
        entry_v2(&b, "src/main.c", false);
        bool tracked[4] = {0};
        assert_int_equal(tracked_in_index(b.data, b.length, paths, 4, tracked), 3);
        assert_true(tracked[0] && tracked[1] && tracked[2] && !tracked[3]);
}

static void test_version3_extended(void **state)
{
        (void)state;
        struct builder b;
        header(&b, 3, 2);
        entry_v2(&b, "certs/dev.pem", true);
        entry_v2(&b, "zz", false);
        bool tracked[4] = {0};
        assert_int_equal(tracked_in_index(b.data, b.length, paths, 4, tracked), 1);
        assert_true(tracked[0]);
}

static void test_version4_prefix_compressed(void **state)
{
        (void)state;
        struct builder b;
        header(&b, 4, 3);
        entry_v4(&b, "certs/a.pem");
        entry_v4(&b, "certs/dev.pem");
        entry_v4(&b, "src/main.c");
        bool tracked[4] = {0};
        assert_int_equal(tracked_in_index(b.data, b.length, paths, 4, tracked), 2);
        assert_true(tracked[0] && !tracked[1] && tracked[2]);
}

static void test_refuses_corrupt(void **state)
{
        (void)state;
        bool tracked[4] = {0};
        struct builder b;
        header(&b, 2, 2);
        entry_v2(&b, ".env", false);
        /* claims two entries, holds one */
        assert_int_equal(tracked_in_index(b.data, b.length, paths, 4, tracked), -EINVAL);
        /* every truncation of a valid index is refused or reads a prefix, never past the end */
        header(&b, 4, 2);
        entry_v4(&b, "certs/dev.pem");
        entry_v4(&b, "certs/x");
        for (size_t cut = 0; cut < b.length; cut++)
                assert_true(tracked_in_index(b.data, cut, paths, 4, tracked) < 0);
        /* version 4 dropping more than the previous path had */
        header(&b, 4, 1);
        entry_v4(&b, "a");
        b.data[12 + 62] = 9;
        assert_int_equal(tracked_in_index(b.data, b.length, paths, 4, tracked), -EINVAL);
        /* not an index; unknown version; extended flag in version 2 */
        assert_int_equal(tracked_in_index((const unsigned char *)"PACK", 4, paths, 4, tracked),
                         -EINVAL);
        header(&b, 5, 0);
        assert_int_equal(tracked_in_index(b.data, b.length, paths, 4, tracked), -EINVAL);
        header(&b, 2, 1);
        entry_v2(&b, ".env", true);
        assert_int_equal(tracked_in_index(b.data, b.length, paths, 4, tracked), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_version2),
            cmocka_unit_test(test_version3_extended),
            cmocka_unit_test(test_version4_prefix_compressed),
            cmocka_unit_test(test_refuses_corrupt),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

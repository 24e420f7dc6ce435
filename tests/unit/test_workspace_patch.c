/* The git patch format: blob ids (SHA-1 of "blob N\0" + data, checked by
 * git apply before a binary patch), quoting of hostile names, binary
 * literals (base85 over a zlib stream, inflated back here), and the exact
 * patch text for creations, deletions, edits and mode changes. */
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
#include <zlib.h>

#include "workspace/fsops.h"
#include "workspace/gitformat.h"
#include "workspace/review.h"
#include "workspace/scan.h"

static void test_blob_ids_match_git(void **state)
{
        (void)state;
        char id[41];
        gitformat_blob_id("", 0, id); /* git hash-object /dev/null */
        assert_string_equal(id, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
        gitformat_blob_id("hello\n", 6, id);
        assert_string_equal(id, "ce013625030ba8dba906f756967f9e9ca394464a");
}

static char *path_text(const char *prefix, const char *name)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        gitformat_write_path(f, prefix, name);
        fclose(f);
        return buf;
}

static void test_quoting(void **state)
{
        (void)state;
        char *s = path_text("a/", "plain/name.c");
        assert_string_equal(s, "a/plain/name.c");
        free(s);
        s = path_text("a/", "new\nline");
        assert_string_equal(s, "\"a/new\\nline\"");
        free(s);
        s = path_text("b/", "q\"b\\s\t");
        assert_string_equal(s, "\"b/q\\\"b\\\\s\\t\"");
        free(s);
        s = path_text("a/", "caf\xc3\xa9\xff");
        assert_string_equal(s, "\"a/caf\\303\\251\\377\"");
        free(s);
        s = path_text("", "-rf"); /* a leading dash needs nothing: it follows a/ */
        assert_string_equal(s, "-rf");
        free(s);
}

/* base85 decode (git's alphabet) for the round trip */
static int b85_value(char c)
{
        static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
                                       "vwxyz!#$%&()*+-;<=>?@^_`{|}~";
        const char *p = strchr(alphabet, c);
        return p ? (int)(p - alphabet) : -1;
}

/* Decode a "literal N" block back to the bytes: base85 lines -> zlib
 * stream -> data (inflated by zlib, as git apply does), checked to be N
 * bytes long. */
static size_t decode_literal(const char *text, uint8_t *out, size_t out_size)
{
        size_t size = strtoul(text + strlen("literal "), NULL, 10);
        const char *p = strchr(text, '\n') + 1;
        static uint8_t z[1 << 20];
        size_t zn = 0;
        while (*p && *p != '\n') {
                char c = *p++;
                size_t n = c <= 'Z' ? (size_t)(c - 'A' + 1) : (size_t)(c - 'a' + 27);
                uint8_t group[4];
                for (size_t done = 0; done < n; done += 4) {
                        uint32_t v = 0;
                        for (int k = 0; k < 5; k++)
                                v = v * 85 + (uint32_t)b85_value(*p++);
                        for (int k = 0; k < 4; k++)
                                group[k] = (uint8_t)(v >> (24 - 8 * k));
                        size_t take = n - done < 4 ? n - done : 4;
                        assert_true(zn + take <= sizeof(z));
                        memcpy(z + zn, group, take);
                        zn += take;
                }
                assert_int_equal(*p++, '\n');
        }
        assert_int_equal((z[0] * 256 + z[1]) % 31, 0); /* a zlib header */
        uLongf n = out_size;
        assert_int_equal(uncompress(out, &n, z, zn), Z_OK);
        assert_int_equal(n, size);
        return n;
}

static char *literal_text(const uint8_t *data, size_t length)
{
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_non_null(f);
        assert_int_equal(gitformat_write_binary_literal(f, (const char *)data, length), 0);
        fclose(f);
        return buf;
}

static void test_binary_literal_round_trip(void **state)
{
        (void)state;
        static uint8_t data[200000], back[200000];
        uint32_t x = 12345; /* incompressible: more than one deflate block */
        for (size_t i = 0; i < sizeof(data); i++) {
                x = x * 1103515245u + 12345u;
                data[i] = (uint8_t)(x >> 16);
        }
        size_t sizes[] = {0, 1, 3, 4, 5, 52, 53, 300, 65535, 65536, sizeof(data)};
        for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
                char *buf = literal_text(data, sizes[k]);
                size_t n = decode_literal(buf, back, sizeof(back));
                assert_int_equal(n, sizes[k]);
                assert_memory_equal(back, data, n);
                free(buf);
        }
}

/* A compressible binary costs what it compresses to, not 5/4 of its size:
 * 64 KiB of a repeated pattern stays under 1 KiB of patch text. */
static void test_binary_literal_is_compressed(void **state)
{
        (void)state;
        static uint8_t data[65536], back[65536];
        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)(i % 7 == 0 ? 0 : i % 3);
        char *buf = literal_text(data, sizeof(data));
        assert_true(strlen(buf) < 1024);
        assert_int_equal(decode_literal(buf, back, sizeof(back)), sizeof(data));
        assert_memory_equal(back, data, sizeof(data));
        free(buf);
}

static void write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        chmod(path, mode);
}

static void test_patch_text(void **state)
{
        (void)state;
        char root[] = "/tmp/reins-patch-XXXXXX";
        assert_non_null(mkdtemp(root));
        char lower[64], upper[64];
        snprintf(lower, sizeof(lower), "%s/lower", root);
        snprintf(upper, sizeof(upper), "%s/upper", root);
        mkdir(lower, 0755);
        mkdir(upper, 0755);
        write_file(lower, "edit", "a\nb\n", 0644);
        write_file(upper, "edit", "a\nB\n", 0644);
        write_file(lower, "run", "x\n", 0644);
        write_file(upper, "run", "x\n", 0755);
        write_file(upper, "new", "hello\n", 0644);
        write_file(upper, "empty", "", 0644);

        struct workspace_changes c;
        struct reins_error err = {0};
        assert_int_equal(workspace_scan(upper, lower, &c, &err), 0);
        int lfd = open(lower, O_PATH | O_DIRECTORY), ufd = open(upper, O_PATH | O_DIRECTORY);
        struct workspace_roots roots = {{-1, lfd, ufd, -1}};
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_int_equal(
            workspace_review_write(f, &c, &roots, WORKSPACE_REVIEW_PATCH, NULL, NULL, &err), 0);
        fclose(f);
        const char *expected = "diff --git a/edit b/edit\n"
                               "index 422c2b7ab3b3c668038da977e4e93a5fc623169c.."
                               "55dce135f5939fc45738aec42a917794a39cbfce 100644\n"
                               "--- a/edit\n"
                               "+++ b/edit\n"
                               "@@ -1,2 +1,2 @@\n"
                               " a\n"
                               "-b\n"
                               "+B\n"
                               "diff --git a/empty b/empty\n"
                               "new file mode 100644\n"
                               "index 0000000000000000000000000000000000000000.."
                               "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391\n"
                               "diff --git a/new b/new\n"
                               "new file mode 100644\n"
                               "index 0000000000000000000000000000000000000000.."
                               "ce013625030ba8dba906f756967f9e9ca394464a\n"
                               "--- /dev/null\n"
                               "+++ b/new\n"
                               "@@ -0,0 +1 @@\n"
                               "+hello\n"
                               "diff --git a/run b/run\n"
                               "old mode 100644\n"
                               "new mode 100755\n";
        if (strcmp(buf, expected) != 0)
                fail_msg("patch mismatch\n--- expected\n%s--- got\n%s", expected, buf);
        free(buf);
        workspace_changes_free(&c);
        close(lfd);
        close(ufd);
        int tmp = open("/tmp", O_RDONLY | O_DIRECTORY);
        ws_remove_tree_at(tmp, root + 5);
        close(tmp);
}

static void test_symlink_escapes(void **state)
{
        (void)state;
        assert_true(workspace_symlink_escapes("a", "/etc/passwd"));
        assert_true(workspace_symlink_escapes("a", "../x"));
        assert_true(workspace_symlink_escapes("d/a", "../../x"));
        assert_true(workspace_symlink_escapes("d/a", "x/../../../y"));
        assert_false(workspace_symlink_escapes("d/a", "../x"));
        assert_false(workspace_symlink_escapes("a", "b/c"));
        assert_false(workspace_symlink_escapes("a", "./b"));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_blob_ids_match_git),
            cmocka_unit_test(test_quoting),
            cmocka_unit_test(test_binary_literal_round_trip),
            cmocka_unit_test(test_binary_literal_is_compressed),
            cmocka_unit_test(test_patch_text),
            cmocka_unit_test(test_symlink_escapes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

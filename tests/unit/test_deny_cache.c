/* The deny globs' cache (sandbox/deny_cache.c) on a real tree in a temporary
 * directory: the same matches as a plain walk, an unchanged tree re-checked
 * with no directory listed again, exactly the changed directory listed again,
 * a damaged cache ignored, and the entry cap. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/deny_cache.h"

struct fixture {
        char root[64];
        char tree[96];
        char cache[96];
        char *patterns[2];
        char pattern_storage[2][160];
};

static void make_file(const char *dir, const char *name)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        close(fd);
}

static void make_dir(const char *dir, const char *name)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        assert_int_equal(mkdir(path, 0700), 0);
}

static int setup(void **state)
{
        struct fixture *f = calloc(1, sizeof(*f));
        snprintf(f->root, sizeof(f->root), "/tmp/reins-unit-deny-XXXXXX");
        if (!mkdtemp(f->root))
                return -1;
        snprintf(f->tree, sizeof(f->tree), "%s/tree", f->root);
        snprintf(f->cache, sizeof(f->cache), "%s/cache", f->root);
        mkdir(f->tree, 0700);
        mkdir(f->cache, 0700);
        snprintf(f->pattern_storage[0], 160, "%s/**/.env", f->tree);
        snprintf(f->pattern_storage[1], 160, "%s/**/secrets", f->tree);
        f->patterns[0] = f->pattern_storage[0];
        f->patterns[1] = f->pattern_storage[1];
        /* tree/a/b/c with files, a .env at a/, a matched directory with a
         * .env inside (not listed: hidden with its directory) */
        char path[256];
        make_dir(f->tree, "a");
        snprintf(path, sizeof(path), "%s/a", f->tree);
        make_file(path, ".env");
        make_file(path, "one.txt");
        make_dir(path, "b");
        make_dir(path, "secrets");
        snprintf(path, sizeof(path), "%s/a/secrets", f->tree);
        make_file(path, ".env");
        snprintf(path, sizeof(path), "%s/a/b", f->tree);
        make_dir(path, "c");
        snprintf(path, sizeof(path), "%s/a/b/c", f->tree);
        make_file(path, "two.txt");
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
        if (system(cmd) != 0)
                return -1;
        free(f);
        return 0;
}

static bool has(const struct reins_strv *v, const char *tree, const char *rel)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", tree, rel);
        return strv_contains(v, path);
}

static void collect(struct fixture *f, const char *cache, struct reins_strv *out,
                    struct deny_cache_stats *stats)
{
        memset(out, 0, sizeof(*out));
        assert_int_equal(deny_cache_collect(f->patterns, 2, f->tree, cache, 1000, out, stats), 0);
}

static void test_cached_equals_walk_and_follows_changes(void **state)
{
        struct fixture *f = *state;
        struct reins_strv walk, cached;
        struct deny_cache_stats stats;
        collect(f, NULL, &walk, &stats);
        assert_int_equal(walk.count, 2);
        assert_true(has(&walk, f->tree, "a/.env"));
        assert_true(has(&walk, f->tree, "a/secrets"));
        assert_int_equal(stats.cache, 0);

        collect(f, f->cache, &cached, &stats); /* makes the cache; all racy yet */
        assert_int_equal(stats.cache, 0);
        assert_int_equal(cached.count, 2);
        strv_free(&cached);
        sleep(3); /* past the racy window: the next listing is trusted */
        collect(f, f->cache, &cached, &stats);
        assert_int_equal(stats.cache, 1);
        strv_free(&cached);
        collect(f, f->cache, &cached, &stats);
        assert_int_equal(stats.cache, 1);
        assert_int_equal(stats.reread, 0); /* nothing listed: stats only */
        assert_int_equal(stats.dirs, 4);   /* tree, a, b, c (secrets is a match) */
        assert_int_equal(cached.count, 2);
        assert_true(has(&cached, f->tree, "a/.env"));
        assert_true(has(&cached, f->tree, "a/secrets"));
        strv_free(&cached);

        /* a new match deep down: exactly that directory is listed again */
        char deep[256];
        snprintf(deep, sizeof(deep), "%s/a/b/c", f->tree);
        make_file(deep, ".env");
        collect(f, f->cache, &cached, &stats);
        assert_int_equal(stats.reread, 1);
        assert_int_equal(cached.count, 3);
        assert_true(has(&cached, f->tree, "a/b/c/.env"));
        strv_free(&cached);
        strv_free(&walk);
}

static void test_damaged_cache_is_ignored(void **state)
{
        struct fixture *f = *state;
        struct reins_strv out;
        struct deny_cache_stats stats;
        collect(f, f->cache, &out, &stats);
        strv_free(&out);
        /* every cache file cut to half its size */
        char cmd[256];
        snprintf(cmd, sizeof(cmd),
                 "for c in '%s'/*; do head -c $(( $(stat -c %%s \"$c\") / 2 )) \"$c\" > \"$c.x\" "
                 "&& mv \"$c.x\" \"$c\"; done",
                 f->cache);
        assert_int_equal(system(cmd), 0);
        collect(f, f->cache, &out, &stats);
        assert_int_equal(stats.cache, -1);
        assert_int_equal(out.count, 2);
        strv_free(&out);
}

static void test_entry_cap(void **state)
{
        struct fixture *f = *state;
        struct reins_strv out = {0};
        assert_int_equal(deny_cache_collect(f->patterns, 2, f->tree, f->cache, 3, &out, NULL),
                         -E2BIG);
        strv_free(&out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_cached_equals_walk_and_follows_changes, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_damaged_cache_is_ignored, setup, teardown),
            cmocka_unit_test_setup_teardown(test_entry_cap, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

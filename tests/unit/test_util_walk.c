/* The tree walker: order (pre, post, sorted), skipping a subtree, symlinks
 * never followed, the depth cap, the byte cap on names held, cut paths,
 * twins, and a visit that stops the walk. */
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

#include "util/walk.h"
#include "workspace/fsops.h"

struct trace {
        char text[8192];
        size_t length;
        const char *skip;  /* a directory not entered */
        const char *stop;  /* the entry that ends the walk */
        int twins_seen;    /* entries whose parent_twin was the expected one */
        int twin_expected; /* an fd */
};

static int trace_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        (void)err;
        struct trace *t = context;
        const char *kind = e->visit == WALK_LEAF      ? "f"
                           : e->visit == WALK_DIR_PRE ? (e->too_deep ? "deep" : "pre")
                                                      : "post";
        t->length += (size_t)snprintf(t->text + t->length, sizeof(t->text) - t->length,
                                      "%s:%s%s%s;", kind, e->path, e->path_cut ? "(cut)" : "",
                                      S_ISLNK(e->st->st_mode) ? "(link)" : "");
        if (t->twin_expected >= 0 && e->depth == 1 && e->parent_twin == t->twin_expected)
                t->twins_seen++;
        if (t->stop && strcmp(e->path, t->stop) == 0)
                return WALK_STOP;
        if (t->skip && e->visit == WALK_DIR_PRE && strcmp(e->path, t->skip) == 0)
                return WALK_SKIP;
        return WALK_NEXT;
}

static char root_path[64];

static int make_tree(void)
{
        strcpy(root_path, "/tmp/reins-walk-XXXXXX");
        assert_non_null(mkdtemp(root_path));
        int root = open(root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(root >= 0);
        assert_int_equal(mkdirat(root, "b", 0700), 0);
        assert_int_equal(mkdirat(root, "b/c", 0700), 0);
        assert_int_equal(mkdirat(root, "b/c/d", 0700), 0);
        int fd = openat(root, "b/c/d/e", O_WRONLY | O_CREAT, 0600);
        assert_true(fd >= 0);
        close(fd);
        fd = openat(root, "a", O_WRONLY | O_CREAT, 0600);
        assert_true(fd >= 0);
        close(fd);
        /* a link to a directory outside the tree: reported, never entered */
        assert_int_equal(symlinkat("/", root, "z"), 0);
        return root;
}

static void remove_tree(int root)
{
        close(root);
        int parent = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_int_equal(ws_remove_tree_at(parent, root_path + 5), 0);
        close(parent);
        struct stat st;
        assert_int_equal(lstat(root_path, &st), -1);
}

static void test_sorted_pre_and_post(void **state)
{
        (void)state;
        int root = make_tree();
        struct trace t = {.twin_expected = -1};
        struct walk_options o = {
            .visit = trace_visit, .context = &t, .sorted = true, .post_order = true};
        assert_int_equal(walk_tree(root, &o, NULL), 0);
        assert_string_equal(t.text, "f:a;pre:b;pre:b/c;pre:b/c/d;f:b/c/d/e;post:b/c/d;post:b/c;"
                                    "post:b;f:z(link);");
        remove_tree(root);
}

static void test_skip_stop_depth_prefix(void **state)
{
        (void)state;
        int root = make_tree();
        struct trace t = {.skip = "b/c", .twin_expected = -1};
        struct walk_options o = {.visit = trace_visit, .context = &t, .sorted = true};
        assert_int_equal(walk_tree(root, &o, NULL), 0);
        assert_string_equal(t.text, "f:a;pre:b;pre:b/c;f:z(link);");

        struct trace deep = {.twin_expected = -1};
        struct walk_options od = {
            .visit = trace_visit, .context = &deep, .sorted = true, .max_depth = 2};
        assert_int_equal(walk_tree(root, &od, NULL), 0);
        assert_string_equal(deep.text, "f:a;pre:b;pre:b/c;deep:b/c/d;f:z(link);");

        struct trace stop = {.stop = "b/c", .twin_expected = -1};
        struct walk_options os = {
            .visit = trace_visit, .context = &stop, .sorted = true, .prefix = "top"};
        stop.stop = "top/b/c";
        assert_int_equal(walk_tree(root, &os, NULL), WALK_STOP);
        assert_string_equal(stop.text, "f:top/a;pre:top/b;pre:top/b/c;");
        remove_tree(root);
}

static void test_caps_and_twin(void **state)
{
        (void)state;
        int root = make_tree();
        /* the names held: "a", "b", "z" and their slots do not fit in 20 bytes */
        struct trace t = {.twin_expected = -1};
        size_t held = 0;
        struct walk_options o = {
            .visit = trace_visit, .context = &t, .sorted = true, .max_bytes = 20, .bytes = &held};
        assert_int_equal(walk_tree(root, &o, NULL), WALK_FULL);
        assert_int_equal(held, 0); /* everything charged is given back */

        /* a path longer than max_path stops at the last component that fits */
        struct trace cut = {.twin_expected = -1};
        struct walk_options oc = {
            .visit = trace_visit, .context = &cut, .sorted = true, .max_path = 3};
        assert_int_equal(walk_tree(root, &oc, NULL), 0);
        assert_string_equal(cut.text, "f:a;pre:b;pre:b/c;pre:b/c(cut);f:b/c(cut);f:z(link);");

        int twin = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct trace tw = {.twin_expected = twin};
        struct walk_options ot = {.visit = trace_visit, .context = &tw, .root_twin = &twin};
        assert_int_equal(walk_tree(root, &ot, NULL), 0);
        assert_int_equal(tw.twins_seen, 3);
        assert_true(fcntl(twin, F_GETFD) >= 0); /* borrowed: still open */
        close(twin);
        remove_tree(root);
}

static int fail_visit(const struct walk_entry *e, void *context, struct reins_error *err)
{
        (void)context;
        if (e->visit == WALK_LEAF && strcmp(e->name, "e") == 0)
                return reins_error_set(err, EIO, "cannot %s", e->path);
        return WALK_NEXT;
}

static void test_error_from_visit(void **state)
{
        (void)state;
        int root = make_tree();
        struct reins_error err = {0};
        struct walk_options o = {.visit = fail_visit};
        assert_int_equal(walk_tree(root, &o, &err), -EIO);
        assert_string_equal(err.message, "cannot b/c/d/e");
        remove_tree(root);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sorted_pre_and_post),
            cmocka_unit_test(test_skip_stop_depth_prefix),
            cmocka_unit_test(test_caps_and_twin),
            cmocka_unit_test(test_error_from_visit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

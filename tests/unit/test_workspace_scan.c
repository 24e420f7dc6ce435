/* The upper-dir scan on synthetic overlay layers: creations, edits, a copy-up
 * left identical (no change), mode-only changes, whiteouts of files and of
 * whole directories (expanded), opaque directories (replaced: what the lower
 * one held and the upper one does not is deleted), type changes both ways,
 * symlinks with their targets, hard links, and protected-path marking.
 * Whiteouts and opaque markers come in the kernel's form (char device 0:0,
 * trusted.overlay.opaque: needs root) and in the xattr form an unprivileged
 * (userxattr) mount uses (user.overlay.whiteout / user.overlay.opaque). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/path.h"
#include "workspace/fsops.h"
#include "workspace/protect.h"
#include "workspace/scan.h"

struct layers {
        char root[64];
        char lower[96];
        char upper[96];
};

static void put(const char *dir, const char *path, const char *text, mode_t mode)
{
        char full[512];
        snprintf(full, sizeof(full), "%s/%s", dir, path);
        FILE *f = fopen(full, "w");
        if (!f)
                fail_msg("creating %s: %s", full, strerror(errno));
        fputs(text, f);
        fclose(f);
        assert_int_equal(chmod(full, mode), 0);
}

static void dir(const char *base, const char *path)
{
        char full[512];
        snprintf(full, sizeof(full), "%s/%s", base, path);
        assert_int_equal(mkdir(full, 0755), 0);
}

static void symlink_at(const char *base, const char *path, const char *target)
{
        char full[512];
        snprintf(full, sizeof(full), "%s/%s", base, path);
        assert_int_equal(symlink(target, full), 0);
}

/* A whiteout in the form the running user can make. */
static void whiteout(const char *base, const char *path, bool xattr_form)
{
        char full[512];
        snprintf(full, sizeof(full), "%s/%s", base, path);
        if (!xattr_form) {
                assert_int_equal(mknod(full, S_IFCHR | 0, makedev(0, 0)), 0);
                return;
        }
        put(base, path, "", 0644);
        assert_int_equal(setxattr(full, "user.overlay.whiteout", "", 0, 0), 0);
}

static void opaque(const char *base, const char *path, bool xattr_form)
{
        char full[512];
        snprintf(full, sizeof(full), "%s/%s", base, path);
        const char *key = xattr_form ? "user.overlay.opaque" : "trusted.overlay.opaque";
        assert_int_equal(setxattr(full, key, "y", 1, 0), 0);
}

static void layers_make(struct layers *l)
{
        snprintf(l->root, sizeof(l->root), "/tmp/reins-scan-XXXXXX");
        assert_non_null(mkdtemp(l->root));
        snprintf(l->lower, sizeof(l->lower), "%s/lower", l->root);
        snprintf(l->upper, sizeof(l->upper), "%s/upper", l->root);
        assert_int_equal(mkdir(l->lower, 0755), 0);
        assert_int_equal(mkdir(l->upper, 0755), 0);
}

static void layers_remove(struct layers *l)
{
        int fd = open("/tmp", O_RDONLY | O_DIRECTORY);
        ws_remove_tree_at(fd, l->root + strlen("/tmp/"));
        close(fd);
}

static const struct workspace_change *find(const struct workspace_changes *c, const char *path)
{
        const struct workspace_change *ch = workspace_changes_find(c, path);
        if (!ch)
                fail_msg("no change reported for '%s'", path);
        return ch;
}

static void expect_kind(const struct workspace_changes *c, const char *path,
                        enum workspace_change_kind kind)
{
        const struct workspace_change *ch = find(c, path);
        if (ch->kind != kind)
                fail_msg("'%s': expected %s, got %s", path, workspace_change_kind_name(kind),
                         workspace_change_kind_name(ch->kind));
}

static void expect_absent(const struct workspace_changes *c, const char *path)
{
        if (workspace_changes_find(c, path))
                fail_msg("'%s' reported as a change, but it is not one", path);
}

/* The same scenario in either marker form. */
static void scenario(bool xattr_form)
{
        struct layers l;
        layers_make(&l);
        /* lower: the host workspace */
        put(l.lower, "edited.txt", "one\n", 0644);
        put(l.lower, "same.txt", "same\n", 0644);
        put(l.lower, "chmod.sh", "echo\n", 0644);
        put(l.lower, "gone.txt", "bye\n", 0644);
        dir(l.lower, "olddir");
        put(l.lower, "olddir/a", "a\n", 0644);
        dir(l.lower, "olddir/sub");
        put(l.lower, "olddir/sub/b", "b\n", 0644);
        dir(l.lower, "repl");
        put(l.lower, "repl/kept", "k\n", 0644);
        put(l.lower, "repl/dropped", "d\n", 0644);
        put(l.lower, "file2dir", "f\n", 0644);
        dir(l.lower, "dir2file");
        put(l.lower, "dir2file/inner", "i\n", 0644);
        symlink_at(l.lower, "link", "target-a");
        dir(l.lower, "untouched");
        put(l.lower, "untouched/x", "x\n", 0644);

        /* upper: what the agent did */
        put(l.upper, "edited.txt", "two\n", 0644);
        put(l.upper, "same.txt", "same\n", 0644); /* copied up, left identical */
        put(l.upper, "chmod.sh", "echo\n", 0755);
        whiteout(l.upper, "gone.txt", xattr_form);
        whiteout(l.upper, "olddir", xattr_form);
        whiteout(l.upper, "never-existed", xattr_form); /* host lost it too: nothing */
        dir(l.upper, "repl");
        opaque(l.upper, "repl", xattr_form);
        put(l.upper, "repl/kept", "k2\n", 0644);
        put(l.upper, "repl/fresh", "n\n", 0644);
        dir(l.upper, "file2dir");
        put(l.upper, "file2dir/child", "c\n", 0644);
        put(l.upper, "dir2file", "now a file\n", 0644);
        symlink_at(l.upper, "link", "target-b");
        symlink_at(l.upper, "ssh", "/root/.ssh");
        put(l.upper, "new.txt", "new\n", 0600);
        char a[512], b[512];
        snprintf(a, sizeof(a), "%s/new.txt", l.upper);
        snprintf(b, sizeof(b), "%s/new-link.txt", l.upper);
        assert_int_equal(link(a, b), 0);
        dir(l.upper, ".git");
        dir(l.upper, ".git/hooks");
        put(l.upper, ".git/hooks/pre-commit", "#!/bin/sh\n", 0755);

        struct workspace_changes c;
        struct reins_error err = {0};
        if (workspace_scan(l.upper, l.lower, &c, &err) < 0)
                fail_msg("scan: %s", err.message);

        expect_kind(&c, "edited.txt", WORKSPACE_MODIFIED);
        expect_absent(&c, "same.txt");
        expect_kind(&c, "chmod.sh", WORKSPACE_MODE_CHANGED);
        assert_int_equal(find(&c, "chmod.sh")->old.mode & 0777, 0644);
        assert_int_equal(find(&c, "chmod.sh")->new.mode & 0777, 0755);
        expect_kind(&c, "gone.txt", WORKSPACE_DELETED);
        /* a removed directory: it and everything below it */
        expect_kind(&c, "olddir", WORKSPACE_DELETED);
        expect_kind(&c, "olddir/a", WORKSPACE_DELETED);
        expect_kind(&c, "olddir/sub", WORKSPACE_DELETED);
        expect_kind(&c, "olddir/sub/b", WORKSPACE_DELETED);
        expect_absent(&c, "never-existed");
        /* an opaque directory: replaced, its lower-only entries deleted */
        expect_kind(&c, "repl", WORKSPACE_REPLACED);
        expect_kind(&c, "repl/kept", WORKSPACE_MODIFIED);
        expect_kind(&c, "repl/dropped", WORKSPACE_DELETED);
        expect_kind(&c, "repl/fresh", WORKSPACE_CREATED);
        /* type changes, both ways */
        expect_kind(&c, "file2dir", WORKSPACE_TYPE_CHANGED);
        assert_true(S_ISREG(find(&c, "file2dir")->old.mode));
        assert_true(S_ISDIR(find(&c, "file2dir")->new.mode));
        expect_kind(&c, "file2dir/child", WORKSPACE_CREATED);
        expect_kind(&c, "dir2file", WORKSPACE_TYPE_CHANGED);
        expect_kind(&c, "dir2file/inner", WORKSPACE_DELETED);
        /* symlinks, with targets */
        expect_kind(&c, "link", WORKSPACE_MODIFIED);
        assert_string_equal(find(&c, "link")->old.target, "target-a");
        assert_string_equal(find(&c, "link")->new.target, "target-b");
        expect_kind(&c, "ssh", WORKSPACE_CREATED);
        assert_string_equal(find(&c, "ssh")->new.target, "/root/.ssh");
        /* hard links: the later path names the first */
        expect_kind(&c, "new.txt", WORKSPACE_CREATED);
        expect_kind(&c, "new-link.txt", WORKSPACE_CREATED);
        const struct workspace_change *h1 = find(&c, "new-link.txt"), *h2 = find(&c, "new.txt");
        assert_true((h1->hardlink && strcmp(h1->hardlink, "new.txt") == 0) ||
                    (h2->hardlink && strcmp(h2->hardlink, "new-link.txt") == 0));
        expect_absent(&c, "untouched");
        expect_absent(&c, "untouched/x");

        /* order: a directory before what is below it */
        for (size_t i = 1; i < c.count; i++)
                if (path_compare_components(c.items[i - 1].path, c.items[i].path) > 0)
                        fail_msg("out of order: %s before %s", c.items[i - 1].path,
                                 c.items[i].path);

        /* protected: defaults plus the session's own patterns */
        json_t *meta = json_pack("{s:[s]}", "protect", "*.sh");
        struct reins_strv patterns = {0};
        assert_int_equal(workspace_protect_patterns(meta, &patterns), 0);
        workspace_protect_mark(&patterns, &c);
        assert_true(find(&c, ".git/hooks/pre-commit")->protected);
        assert_true(find(&c, ".git/hooks")->protected);
        assert_true(find(&c, "chmod.sh")->protected);
        assert_false(find(&c, "edited.txt")->protected);
        assert_false(find(&c, "new.txt")->protected);
        strv_free(&patterns);
        json_decref(meta);

        /* filtering by path keeps the path and what is below it */
        workspace_changes_filter(&c, (char *[]){"olddir"}, 1);
        assert_int_equal(c.count, 4);
        workspace_changes_free(&c);
        layers_remove(&l);
}

static void test_scan_kernel_markers(void **state)
{
        (void)state;
        if (geteuid() != 0)
                skip(); /* mknod 0:0 and trusted.* xattrs need root */
        scenario(false);
}

static void test_scan_xattr_markers(void **state)
{
        (void)state;
        scenario(true);
}

static void test_protected_directory_removal(void **state)
{
        (void)state;
        struct layers l;
        layers_make(&l);
        dir(l.lower, ".git");
        dir(l.lower, ".git/hooks");
        put(l.lower, ".git/hooks/post-checkout", "ok\n", 0755);
        put(l.lower, ".git/HEAD", "ref\n", 0644);
        whiteout(l.upper, ".git", true);
        struct workspace_changes c;
        struct reins_error err = {0};
        assert_int_equal(workspace_scan(l.upper, l.lower, &c, &err), 0);
        struct reins_strv patterns = {0};
        assert_int_equal(workspace_protect_patterns(NULL, &patterns), 0);
        workspace_protect_mark(&patterns, &c);
        /* removing .git would remove its hooks: the removal is protected */
        assert_true(find(&c, ".git")->protected);
        assert_true(find(&c, ".git/hooks/post-checkout")->protected);
        assert_false(find(&c, ".git/HEAD")->protected);
        strv_free(&patterns);
        workspace_changes_free(&c);
        layers_remove(&l);
}

static void test_protect_patterns(void **state)
{
        (void)state;
        struct reins_strv p = {0};
        assert_int_equal(workspace_protect_patterns(NULL, &p), 0);
        assert_true(workspace_protect_matches(&p, ".git/hooks"));
        assert_true(workspace_protect_matches(&p, ".git/hooks/pre-commit"));
        assert_true(workspace_protect_matches(&p, ".git/config"));
        assert_true(workspace_protect_matches(&p, ".claude/settings.local.json"));
        assert_true(workspace_protect_matches(&p, ".mcp.json"));
        assert_true(workspace_protect_matches(&p, ".vscode/tasks.json"));
        assert_true(workspace_protect_matches(&p, ".bashrc"));
        assert_true(workspace_protect_matches(&p, "sub/.zshrc"));
        assert_true(workspace_protect_matches(&p, "vendor/lib/.git/hooks/x"));
        assert_false(workspace_protect_matches(&p, ".git/HEAD"));
        assert_false(workspace_protect_matches(&p, "src/main.c"));
        /* git redirections and anything git may read that is not its data */
        assert_true(workspace_protect_matches(&p, ".git/commondir"));
        assert_true(workspace_protect_matches(&p, ".git/config.worktree"));
        assert_true(workspace_protect_matches(&p, ".git/info/attributes"));
        assert_true(workspace_protect_matches(&p, ".git/worktrees/w/config.worktree"));
        assert_true(workspace_protect_matches(&p, ".git/modules/sub/config"));
        assert_true(workspace_protect_matches(&p, ".git"));
        assert_true(workspace_protect_matches(&p, "sub/.git"));
        assert_false(workspace_protect_matches(&p, ".git/objects/ab/cdef"));
        assert_false(workspace_protect_matches(&p, ".git/refs/heads/main"));
        assert_false(workspace_protect_matches(&p, ".git/index"));
        assert_false(workspace_protect_matches(&p, ".gitignore"));
        assert_false(workspace_protect_matches(&p, "x.git/config"));
        /* agent and editor permission files */
        assert_false(workspace_protect_matches(&p, ".claude/notes.md"));
        assert_true(workspace_protect_matches(&p, ".claude/settings.backup.json"));
        assert_true(workspace_protect_matches(&p, ".codex/config.toml"));
        assert_true(workspace_protect_matches(&p, ".cursor/rules"));
        assert_true(workspace_protect_matches(&p, ".vscode/settings.json"));
        assert_false(workspace_protect_matches(&p, ".vscode/launch.json"));
        strv_free(&p);
}

static void test_relative_paths(void **state)
{
        (void)state;
        char *p = workspace_relative_path("/ws/a//b/./c/", "/ws");
        assert_string_equal(p, "a/b/c");
        free(p);
        p = workspace_relative_path("./x", "/nonexistent-ws");
        assert_string_equal(p, "x");
        free(p);
        p = workspace_relative_path("-n", "/nonexistent-ws");
        assert_string_equal(p, "-n");
        free(p);
        assert_null(workspace_relative_path("../etc/passwd", "/nonexistent-ws"));
        assert_null(workspace_relative_path("/etc/passwd", "/ws"));
        assert_null(workspace_relative_path("/wsx/a", "/ws"));
}

/* A chain of `levels` directories named `name` below base (through fds:
 * the whole path may be longer than PATH_MAX), a file "f" at the bottom. */
static void deep_chain(const char *base, const char *name, int levels)
{
        int fd = open(base, O_RDONLY | O_DIRECTORY);
        assert_true(fd >= 0);
        for (int i = 0; i < levels; i++) {
                assert_int_equal(mkdirat(fd, name, 0755), 0);
                int sub = openat(fd, name, O_RDONLY | O_DIRECTORY);
                assert_true(sub >= 0);
                close(fd);
                fd = sub;
        }
        int f = openat(fd, "f", O_WRONLY | O_CREAT, 0644);
        assert_true(f >= 0);
        close(f);
        close(fd);
}

static void test_scan_depth_cap(void **state)
{
        (void)state;
        struct layers l;
        layers_make(&l);
        deep_chain(l.upper, "d", WORKSPACE_SCAN_MAX_DEPTH + 20);
        struct workspace_changes c;
        struct reins_error err = {0};
        assert_int_equal(workspace_scan(l.upper, l.lower, &c, &err), 0);
        assert_true(c.truncated);
        assert_string_equal(c.cap, "depth");
        /* every level above the cap is listed, none below it */
        assert_int_equal(c.count, WORKSPACE_SCAN_MAX_DEPTH + 1);
        char buf[256];
        assert_non_null(strstr(workspace_changes_truncation(&c, buf, sizeof(buf)), "truncated"));
        workspace_changes_free(&c);
        layers_remove(&l);
}

static void test_scan_path_length_cap(void **state)
{
        (void)state;
        struct layers l;
        layers_make(&l);
        char name[251];
        memset(name, 'n', 250);
        name[250] = '\0';
        deep_chain(l.upper, name, 40); /* 40 x 251 bytes: past PATH_MAX */
        struct workspace_changes c;
        struct reins_error err = {0};
        assert_int_equal(workspace_scan(l.upper, l.lower, &c, &err), 0);
        assert_true(c.truncated);
        assert_string_equal(c.cap, "path length");
        for (size_t i = 0; i < c.count; i++)
                assert_true(strlen(c.items[i].path) <= WORKSPACE_SCAN_MAX_PATH);
        assert_int_equal(c.count, WORKSPACE_SCAN_MAX_PATH / 251);
        workspace_changes_free(&c);
        layers_remove(&l);
}

static void test_scan_only_below_paths(void **state)
{
        (void)state;
        struct layers l;
        layers_make(&l);
        dir(l.upper, "a");
        put(l.upper, "a/x", "x\n", 0644);
        dir(l.upper, "b");
        put(l.upper, "b/y", "y\n", 0644);
        deep_chain(l.upper, "deep", WORKSPACE_SCAN_MAX_DEPTH + 5);
        char *paths[] = {"a/x"};
        struct workspace_changes c;
        struct reins_error err = {0};
        assert_int_equal(workspace_scan_paths(l.upper, l.lower, paths, 1, &c, &err), 0);
        /* what lies elsewhere (b, the deep chain) is never looked at */
        assert_false(c.truncated);
        assert_int_equal(c.count, 2);
        find(&c, "a");
        find(&c, "a/x");
        workspace_changes_filter(&c, paths, 1);
        assert_int_equal(c.count, 1);
        workspace_changes_free(&c);
        layers_remove(&l);
}

/* reins discard of a copy holding a chain deeper than the fd limit: the
 * removal never holds one fd per level. */
static void test_remove_a_very_deep_tree(void **state)
{
        (void)state;
        struct layers l;
        layers_make(&l);
        deep_chain(l.upper, "d", 3000);
        int fd = open(l.root, O_RDONLY | O_DIRECTORY);
        assert_true(fd >= 0);
        assert_int_equal(ws_remove_tree_at(fd, "upper"), 0);
        struct stat st;
        assert_int_equal(fstatat(fd, "upper", &st, AT_SYMLINK_NOFOLLOW), -1);
        close(fd);
        layers_remove(&l);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_scan_kernel_markers),
            cmocka_unit_test(test_scan_xattr_markers),
            cmocka_unit_test(test_protected_directory_removal),
            cmocka_unit_test(test_protect_patterns),
            cmocka_unit_test(test_relative_paths),
            cmocka_unit_test(test_scan_depth_cap),
            cmocka_unit_test(test_scan_path_length_cap),
            cmocka_unit_test(test_scan_only_below_paths),
            cmocka_unit_test(test_remove_a_very_deep_tree),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

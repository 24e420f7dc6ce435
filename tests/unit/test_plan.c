/* The plan: policy + options -> ordered mounts, hides, Landlock rules, env. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"
#include "sandbox/plan.h"
#include "util/path.h"

struct fixture {
        char workspace[256];
        char home[256];
        struct reins_policy *policy;
};

static void touch(const char *dir, const char *name)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        int fd = open(path, O_CREAT | O_WRONLY, 0600);
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
        strcpy(f->workspace, "/tmp/reins-plan-ws-XXXXXX");
        strcpy(f->home, "/tmp/reins-plan-home-XXXXXX");
        assert_non_null(mkdtemp(f->workspace));
        assert_non_null(mkdtemp(f->home));
        touch(f->workspace, ".env");
        touch(f->workspace, "main.c");
        make_dir(f->workspace, "keys");
        touch(f->workspace, "keys/server.pem");
        make_dir(f->workspace, ".git");
        make_dir(f->workspace, ".git/hooks");
        make_dir(f->home, ".ssh");
        struct reins_error err = {0};
        assert_int_equal(policy_load("default", &f->policy, &err), 0);
        *state = f;
        return 0;
}

static int teardown(void **state)
{
        struct fixture *f = *state;
        char cmd[600];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", f->workspace, f->home);
        assert_int_equal(system(cmd), 0);
        policy_free(f->policy);
        free(f);
        return 0;
}

static char *argv_true[] = {"/bin/true", NULL};

static struct plan_options options_for(struct fixture *f)
{
        struct plan_options o = {0};
        o.workspace = f->workspace;
        o.home = f->home;
        o.argv = argv_true;
        return o;
}

static const struct mount_op *find_op(const struct reins_plan *plan, enum mount_op_kind kind,
                                      const char *target)
{
        for (size_t i = 0; i < plan->mount_count; i++)
                if (plan->mounts[i].kind == kind && strcmp(plan->mounts[i].target, target) == 0)
                        return &plan->mounts[i];
        return NULL;
}

static ptrdiff_t index_of(const struct reins_plan *plan, const char *target)
{
        for (size_t i = 0; i < plan->mount_count; i++)
                if (strcmp(plan->mounts[i].target, target) == 0)
                        return (ptrdiff_t)i;
        return -1;
}

static void test_workspace_bound_rw_and_tmp_first(void **state)
{
        struct fixture *f = *state;
        struct plan_options o = options_for(f);
        struct reins_plan *plan = NULL;
        struct reins_error err = {0};
        assert_int_equal(plan_build(f->policy, &o, &plan, &err), 0);
        assert_non_null(find_op(plan, MOUNT_OP_BIND_RW, f->workspace));
        assert_non_null(find_op(plan, MOUNT_OP_BIND_RO, "/usr"));
        assert_non_null(find_op(plan, MOUNT_OP_TMPFS, "/tmp"));
        /* the workspace lives under /tmp: the private /tmp must come first */
        assert_true(index_of(plan, "/tmp") < index_of(plan, f->workspace));
        assert_string_equal(plan->cwd, f->workspace);
        plan_free(plan);
}

/* /tmp and /dev/shm share one tmpfs, sized within the memory limit. */
static void test_scratch_size_within_memory(void **state)
{
        (void)state;
        const uint64_t MiB = 1024 * 1024;
        struct policy_limits l = {.memory_bytes = 256 * MiB, .tmp_size_bytes = 1024 * MiB};
        assert_true(plan_scratch_size(&l, false) == 128 * MiB);
        l.tmp_size_bytes = 64 * MiB;
        assert_true(plan_scratch_size(&l, false) == 64 * MiB);
        l.tmp_size_bytes = 0; /* no tmp_size: the memory limit still caps it */
        assert_true(plan_scratch_size(&l, false) == 128 * MiB);
        l.workspace_size_bytes = 200 * MiB; /* the capped overlay copy is memory too */
        assert_true(plan_scratch_size(&l, true) == 28 * MiB);
        assert_true(plan_scratch_size(&l, false) == 128 * MiB);
        l.memory_bytes = 0;
        l.tmp_size_bytes = 1024 * MiB;
        assert_true(plan_scratch_size(&l, false) == 1024 * MiB);
        l.tmp_size_bytes = 0;
        assert_true(plan_scratch_size(&l, false) == 0);
}

static void test_tmp_and_shm_share_the_scratch(void **state)
{
        struct fixture *f = *state;
        struct plan_options o = options_for(f);
        o.memory = "128MiB";
        struct reins_plan *plan = NULL;
        struct reins_error err = {0};
        assert_int_equal(plan_build(f->policy, &o, &plan, &err), 0);
        const struct mount_op *tmp = find_op(plan, MOUNT_OP_TMPFS, "/tmp");
        const struct mount_op *dev = find_op(plan, MOUNT_OP_DEV, "/dev");
        assert_non_null(tmp);
        assert_non_null(dev);
        assert_true(tmp->shared_scratch && dev->shared_scratch);
        assert_true(tmp->size_bytes == 64u * 1024 * 1024 && dev->size_bytes == tmp->size_bytes);
        plan_free(plan);
}

static void test_deny_hides_matches_inside_workspace(void **state)
{
        struct fixture *f = *state;
        struct plan_options o = options_for(f);
        struct reins_plan *plan = NULL;
        struct reins_error err = {0};
        char env[512], pem[512], main_c[512];
        snprintf(env, sizeof(env), "%s/.env", f->workspace);
        snprintf(pem, sizeof(pem), "%s/keys/server.pem", f->workspace);
        snprintf(main_c, sizeof(main_c), "%s/main.c", f->workspace);
        assert_int_equal(plan_build(f->policy, &o, &plan, &err), 0);
        assert_non_null(find_op(plan, MOUNT_OP_HIDE, env));
        assert_non_null(find_op(plan, MOUNT_OP_HIDE, pem));
        assert_null(find_op(plan, MOUNT_OP_HIDE, main_c));
        /* hides come after every bind, so nothing is mounted over them */
        assert_true(index_of(plan, env) > index_of(plan, f->workspace));
        plan_free(plan);
}

static void test_protect_makes_git_hooks_read_only(void **state)
{
        struct fixture *f = *state;
        struct plan_options o = options_for(f);
        struct reins_plan *plan = NULL;
        struct reins_error err = {0};
        char hooks[512];
        snprintf(hooks, sizeof(hooks), "%s/.git/hooks", f->workspace);
        assert_int_equal(plan_build(f->policy, &o, &plan, &err), 0);
        assert_non_null(find_op(plan, MOUNT_OP_PROTECT, hooks));
        plan_free(plan);
        /* readonly mode: the whole workspace is read-only, no protect needed */
        o.workspace_mode = "readonly";
        assert_int_equal(plan_build(f->policy, &o, &plan, &err), 0);
        assert_non_null(find_op(plan, MOUNT_OP_BIND_RO, f->workspace));
        assert_null(find_op(plan, MOUNT_OP_PROTECT, hooks));
        plan_free(plan);
}

static void test_protect_pins_ancestors_and_overlays_git(void **state)
{
        struct fixture *f = *state;
        struct plan_options o = options_for(f);
        struct reins_plan *plan = NULL;
        struct reins_error err = {0};
        char git[512], hooks[512], objects[512], claude[512];
        snprintf(git, sizeof(git), "%s/.git", f->workspace);
        snprintf(hooks, sizeof(hooks), "%s/.git/hooks", f->workspace);
        snprintf(objects, sizeof(objects), "%s/.git/objects", f->workspace);
        snprintf(claude, sizeof(claude), "%s/.claude", f->workspace);
        make_dir(f->workspace, ".git/objects");
        assert_int_equal(plan_build(f->policy, &o, &plan, &err), 0);
        /* .git: a private overlay (a mount point: it cannot be renamed),
         * objects bound through, the hooks read-only above both */
        assert_non_null(find_op(plan, MOUNT_OP_GITDIR, git));
        assert_string_equal(plan->gitdir, git);
        assert_non_null(find_op(plan, MOUNT_OP_BIND_RW, objects));
        assert_true(index_of(plan, git) > index_of(plan, f->workspace));
        assert_true(index_of(plan, hooks) > index_of(plan, objects));
        /* a missing protected directory: created empty, read-only */
        assert_non_null(find_op(plan, MOUNT_OP_PROTECT, claude));
        assert_true(plan->placeholders.count > 0);
        plan_remove_placeholders(plan);
        struct stat st;
        assert_int_equal(lstat(claude, &st), -1);
        plan_free(plan);

        /* a policy path two levels down: its parent directory is pinned */
        make_dir(f->workspace, "ci");
        touch(f->workspace, "ci/build.sh");
        struct reins_policy *policy = NULL;
        char pinned[512], script[512];
        snprintf(pinned, sizeof(pinned), "%s/ci", f->workspace);
        snprintf(script, sizeof(script), "%s/ci/build.sh", f->workspace);
        assert_int_equal(policy_load_text("version: 1\nextends: default\nfilesystem:\n"
                                          "  protect: [ci/build.sh]\n",
                                          "test", &policy, &err),
                         0);
        assert_int_equal(plan_build(policy, &o, &plan, &err), 0);
        assert_non_null(find_op(plan, MOUNT_OP_PIN, pinned));
        assert_non_null(find_op(plan, MOUNT_OP_PROTECT, script));
        assert_true(index_of(plan, script) > index_of(plan, pinned));
        plan_remove_placeholders(plan);
        plan_free(plan);
        policy_free(policy);
}

static void test_denied_rw_option_is_refused(void **state)
{
        struct fixture *f = *state;
        struct plan_options o = options_for(f);
        struct reins_plan *plan = NULL;
        struct reins_error err = {0};
        char ssh[512];
        snprintf(ssh, sizeof(ssh), "%s/.ssh", f->home);
        strv_push(&o.extra_rw, ssh);
        assert_true(plan_build(f->policy, &o, &plan, &err) < 0);
        assert_null(plan);
        assert_non_null(strstr(err.message, "denied by filesystem.deny"));
        strv_free(&o.extra_rw);
}

static void test_missing_option_path_is_an_error(void **state)
{
        struct fixture *f = *state;
        struct plan_options o = options_for(f);
        struct reins_plan *plan = NULL;
        struct reins_error err = {0};
        strv_push(&o.extra_ro, "/nonexistent/reins/path");
        assert_true(plan_build(f->policy, &o, &plan, &err) < 0);
        assert_non_null(strstr(err.message, "--ro /nonexistent/reins/path"));
        strv_free(&o.extra_ro);
}

static void test_root_workspace_refused(void **state)
{
        struct fixture *f = *state;
        struct plan_options o = options_for(f);
        struct reins_plan *plan = NULL;
        struct reins_error err = {0};
        o.workspace = "/";
        assert_true(plan_build(f->policy, &o, &plan, &err) < 0);
        o.workspace = "/proc/self";
        assert_true(plan_build(f->policy, &o, &plan, &err) < 0);
        o.workspace = "/nonexistent-workspace";
        assert_true(plan_build(f->policy, &o, &plan, &err) < 0);
        assert_non_null(strstr(err.message, "nonexistent-workspace"));
}

static void test_env_keeps_only_listed_names(void **state)
{
        struct fixture *f = *state;
        struct plan_options o = options_for(f);
        struct reins_plan *plan = NULL;
        struct reins_error err = {0};
        char *environ_list[] = {"PATH=/usr/bin", "AWS_SECRET_ACCESS_KEY=x", "TERM=xterm", "FOO=bar",
                                NULL};
        o.host_environ = environ_list;
        strv_push(&o.extra_env, "FOO");
        strv_push(&o.extra_env, "SET_BY_FLAG=1");
        assert_int_equal(plan_build(f->policy, &o, &plan, &err), 0);
        assert_true(strv_contains(&plan->env, "PATH=/usr/bin"));
        assert_true(strv_contains(&plan->env, "TERM=xterm"));
        assert_true(strv_contains(&plan->env, "FOO=bar"));
        assert_true(strv_contains(&plan->env, "SET_BY_FLAG=1"));
        for (size_t i = 0; i < plan->env.count; i++)
                assert_null(strstr(plan->env.items[i], "AWS_SECRET"));
        plan_free(plan);
        strv_free(&o.extra_env);
        strv_push(&o.extra_env, "1BAD");
        assert_true(plan_build(f->policy, &o, &plan, &err) < 0);
        strv_free(&o.extra_env);
}

static void test_limit_overrides(void **state)
{
        struct fixture *f = *state;
        struct plan_options o = options_for(f);
        struct reins_plan *plan = NULL;
        struct reins_error err = {0};
        o.memory = "64MiB";
        o.pids = "32";
        o.cpus = "0.5";
        o.timeout = "1500ms";
        assert_int_equal(plan_build(f->policy, &o, &plan, &err), 0);
        assert_int_equal(plan->cgroup.memory_bytes, 64ULL << 20);
        assert_int_equal(plan->cgroup.pids, 32);
        assert_int_equal(plan->cgroup.cpus_milli, 500);
        assert_int_equal(plan->limits.wall_time_ms, 1500);
        plan_free(plan);
        o.memory = "lots";
        assert_true(plan_build(f->policy, &o, &plan, &err) < 0);
        assert_non_null(strstr(err.message, "--memory"));
}

/* A freezer cgroup only when the risk engine, which alone freezes, is on. */
static void test_freezer_follows_risk_engine(void **state)
{
        struct fixture *f = *state;
        struct plan_options o = options_for(f);
        struct reins_plan *plan = NULL;
        struct reins_error err = {0};
        assert_int_equal(plan_build(f->policy, &o, &plan, &err), 0);
        assert_true(plan->cgroup.freezer);
        plan_free(plan);
        f->policy->risk.engine = POLICY_RISK_ENGINE_OFF;
        assert_int_equal(plan_build(f->policy, &o, &plan, &err), 0);
        assert_false(plan->cgroup.freezer);
        plan_free(plan);
}

static void test_landlock_mirrors_mounts(void **state)
{
        struct fixture *f = *state;
        struct plan_options o = options_for(f);
        struct reins_plan *plan = NULL;
        struct reins_error err = {0};
        assert_int_equal(plan_build(f->policy, &o, &plan, &err), 0);
        bool usr_ro = false, ws_rw = false;
        for (size_t i = 0; i < plan->landlock_count; i++) {
                if (strcmp(plan->landlock[i].path, "/usr") == 0)
                        usr_ro = plan->landlock[i].access == LANDLOCK_RULE_READ_EXEC;
                if (strcmp(plan->landlock[i].path, f->workspace) == 0)
                        ws_rw = plan->landlock[i].access == LANDLOCK_RULE_READ_WRITE;
        }
        assert_true(usr_ro);
        assert_true(ws_rw);
        plan_free(plan);
}

static void test_path_helpers(void **state)
{
        (void)state;
        assert_true(path_is_under("/a/b", "/a"));
        assert_true(path_is_under("/a", "/a"));
        assert_false(path_is_under("/ab", "/a"));
        assert_true(path_is_under("/anything", "/"));
        assert_true(path_compare_components("/a", "/a/b") < 0);
        assert_true(path_compare_components("/a/b", "/a-b") < 0);
        char *p = path_expand_home("~/.ssh", "/home/u");
        assert_string_equal(p, "/home/u/.ssh");
        free(p);
        assert_null(path_expand_home("~other/x", "/home/u"));
        assert_null(path_expand_home("~/x", NULL));
        p = path_join("/a/", "/b");
        assert_string_equal(p, "/a/b");
        free(p);
}

/* With a deny cache, the glob matches come in the background: the plan
 * built by the synchronous walk and the one finished by plan_finish_deny
 * hold the same ops in the same order (HIDE before the protects and pins),
 * and the same git settings. */
static void test_background_deny_equals_walk(void **state)
{
        struct fixture *f = *state;
        struct plan_options o = options_for(f);
        struct reins_plan *walked = NULL, *cached = NULL;
        struct reins_error err = {0};
        assert_int_equal(plan_build(f->policy, &o, &walked, &err), 0);
        char cache[] = "/tmp/reins-plan-cache-XXXXXX";
        assert_non_null(mkdtemp(cache));
        o.deny_cache_dir = cache;
        assert_int_equal(plan_build(f->policy, &o, &cached, &err), 0);
        assert_non_null(cached->deny_job);
        assert_int_equal(plan_finish_deny(cached, &err), 0);
        assert_null(cached->deny_job);
        assert_int_equal(plan_finish_deny(cached, &err), 0); /* nothing pending: a no-op */
        assert_int_equal(walked->mount_count, cached->mount_count);
        for (size_t i = 0; i < walked->mount_count; i++) {
                assert_int_equal(walked->mounts[i].kind, cached->mounts[i].kind);
                assert_string_equal(walked->mounts[i].target, cached->mounts[i].target);
        }
        assert_int_equal(walked->env.count, cached->env.count);
        for (size_t i = 0; i < walked->env.count; i++)
                assert_true(strv_contains(&cached->env, walked->env.items[i]));
        char env[512];
        snprintf(env, sizeof(env), "%s/.env", f->workspace);
        assert_non_null(find_op(cached, MOUNT_OP_HIDE, env));
        plan_free(walked);
        plan_free(cached);
        /* a plan freed with its collection still running waits for it */
        assert_int_equal(plan_build(f->policy, &o, &cached, &err), 0);
        plan_free(cached);
        char cmd[64];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", cache);
        assert_int_equal(system(cmd), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_background_deny_equals_walk, setup, teardown),
            cmocka_unit_test_setup_teardown(test_workspace_bound_rw_and_tmp_first, setup, teardown),
            cmocka_unit_test_setup_teardown(test_deny_hides_matches_inside_workspace, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_protect_pins_ancestors_and_overlays_git, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_protect_makes_git_hooks_read_only, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_denied_rw_option_is_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_missing_option_path_is_an_error, setup, teardown),
            cmocka_unit_test_setup_teardown(test_root_workspace_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_env_keeps_only_listed_names, setup, teardown),
            cmocka_unit_test_setup_teardown(test_limit_overrides, setup, teardown),
            cmocka_unit_test_setup_teardown(test_freezer_follows_risk_engine, setup, teardown),
            cmocka_unit_test_setup_teardown(test_landlock_mirrors_mounts, setup, teardown),
            cmocka_unit_test(test_path_helpers),
            cmocka_unit_test(test_scratch_size_within_memory),
            cmocka_unit_test_setup_teardown(test_tmp_and_shm_share_the_scratch, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

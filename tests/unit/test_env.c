/* Declarative environments (src/env/): the policy's environment as one
 * canonical source, reins.lock's reader, the OCI index and manifest reader,
 * and the plan of an environment's root (sandbox/plan_environment.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env/env.h"
#include "policy/policy.h"
#include "sandbox/plan.h"

static struct env_spec *spec_of(const char *yaml, struct reins_error *err)
{
        struct reins_policy *policy = NULL;
        memset(err, 0, sizeof(*err));
        assert_int_equal(policy_load_text(yaml, "test.yaml", &policy, err), 0);
        struct env_spec *spec = NULL;
        int r = env_spec_from_policy(policy, &spec, err);
        policy_free(policy);
        return r < 0 ? NULL : spec;
}

static void test_no_environment_is_the_host(void **state)
{
        (void)state;
        struct reins_error err;
        assert_null(spec_of("version: 1\n", &err));
        assert_int_equal(err.code, 0);
}

static void test_debian_source_is_canonical(void **state)
{
        (void)state;
        struct reins_error err;
        struct env_spec *a = spec_of("version: 1\nenvironment:\n  debian: {suite: bookworm, "
                                     "packages: [git, curl, git]}\n  sdks: [python]\n",
                                     &err);
        struct env_spec *b = spec_of("version: 1\nenvironment:\n  sdks: [python]\n  debian: "
                                     "{packages: [curl, git], suite: bookworm}\n",
                                     &err);
        assert_non_null(a);
        assert_non_null(b);
        assert_string_equal(a->source, b->source);
        assert_string_equal(a->source_hash, b->source_hash);
        assert_string_equal(a->source, "debian:bookworm;curl,git,python3,python3-pip,"
                                       "python3-venv;sdks=python@1");
        assert_int_equal(a->kind, ENV_KIND_DEBIAN);
        assert_false(a->writable);
        env_spec_free(a);
        env_spec_free(b);
}

static void test_bases_and_sdks_are_checked(void **state)
{
        (void)state;
        struct reins_error err;
        assert_null(spec_of("version: 1\nenvironment:\n  sdks: [node]\n", &err));
        assert_non_null(strstr(err.message, "need a base"));
        assert_null(spec_of("version: 1\nenvironment:\n  image: containers-storage:x\n  "
                            "sdks: [node]\n",
                            &err));
        assert_non_null(strstr(err.message, "need environment.debian"));
        assert_null(spec_of("version: 1\nenvironment:\n  image: containers-storage:x\n  "
                            "debian: {suite: bookworm}\n",
                            &err));
        assert_non_null(strstr(err.message, "two bases"));
        struct env_spec *s = spec_of("version: 1\nenvironment:\n  image: containers-storage:x\n"
                                     "  writable: session\n",
                                     &err);
        assert_non_null(s);
        assert_int_equal(s->kind, ENV_KIND_CONTAINERS_STORAGE);
        assert_true(s->writable);
        assert_string_equal(s->source, "containers-storage:x");
        env_spec_free(s);
}

#define KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_lock_round_trip_and_refusals(void **state)
{
        (void)state;
        const char *text = "# comment\nreins-lock 1\nsource debian:bookworm;git;sdks=\nkey " KEY
                           "\ndigest sha256:" KEY "\npackage git=1:2.39.5-0+deb12u2\n";
        struct env_lock lock;
        struct reins_error err = {0};
        assert_int_equal(env_lock_parse(text, strlen(text), &lock, &err), 0);
        assert_string_equal(lock.key, KEY);
        assert_int_equal(lock.digests.count, 1);
        assert_string_equal(lock.packages.items[0], "git=1:2.39.5-0+deb12u2");
        char *again = env_lock_format(&lock);
        struct env_lock second;
        assert_int_equal(env_lock_parse(again, strlen(again), &second, &err), 0);
        assert_string_equal(second.source, lock.source);
        env_lock_free(&second);
        env_lock_free(&lock);
        free(again);
        static const char *const bad[] = {
            "source x\nkey " KEY "\n",                       /* no header */
            "reins-lock 2\nsource x\nkey " KEY "\n",         /* a later version */
            "reins-lock 1\nsource x\nkey 0123\n",            /* short key */
            "reins-lock 1\nsource x\nkey " KEY "\nfrom y\n", /* unknown field */
            "reins-lock 1\nsource x\nkey " KEY "\ndigest md5:00\n",
            "reins-lock 1\nsource x\n", /* no key */
            "reins-lock 1\nsource a\x1b[2Jb\nkey " KEY "\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                memset(&err, 0, sizeof(err));
                assert_int_not_equal(env_lock_parse(bad[i], strlen(bad[i]), &lock, &err), 0);
                assert_memory_equal(err.message, "reins.lock", 10);
        }
}

static void test_oci_index_and_manifest(void **state)
{
        (void)state;
        const char *index = "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"sha256:" KEY
                            "\",\"size\":10,\"annotations\":{\"org.opencontainers.image.ref."
                            "name\":\"v1\"}},{\"digest\":\"sha256:" KEY "\",\"size\":11}]}";
        struct env_oci_descriptor d;
        struct reins_error err = {0};
        assert_int_equal(env_oci_parse_index(index, strlen(index), "v1", &d, &err), 0);
        assert_int_equal(d.size, 10);
        /* two manifests and no tag: which one is not guessed */
        assert_int_not_equal(env_oci_parse_index(index, strlen(index), NULL, &d, &err), 0);
        assert_non_null(strstr(err.message, "name one"));
        /* a digest that would leave blobs/sha256 is refused */
        const char *escape = "{\"manifests\":[{\"digest\":\"sha256:../../../etc/passwd\","
                             "\"size\":1}]}";
        assert_int_not_equal(env_oci_parse_index(escape, strlen(escape), NULL, &d, &err), 0);
        const char *manifest =
            "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" KEY
            "\",\"size\":3},\"layers\":[{\"digest\":\"sha256:" KEY "\",\"size\":4}]}";
        struct env_oci_descriptor config, *layers = NULL;
        size_t count = 0;
        assert_int_equal(
            env_oci_parse_manifest(manifest, strlen(manifest), &config, &layers, &count, &err), 0);
        assert_int_equal(count, 1);
        assert_int_equal(layers[0].size, 4);
        free(layers);
}

/* The plan of an environment's root: its directories bound read-only, its
 * symlinks recreated, the host's system reads left out, /proc and /tmp
 * never taken from it. */
static void test_plan_of_an_environment_root(void **state)
{
        (void)state;
        char root[] = "/tmp/reins-unit-env-XXXXXX";
        assert_non_null(mkdtemp(root));
        char path[256];
        snprintf(path, sizeof(path), "%s/usr", root);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/proc", root);
        assert_int_equal(mkdir(path, 0755), 0);
        snprintf(path, sizeof(path), "%s/bin", root);
        assert_int_equal(symlink("usr/bin", path), 0);
        struct reins_policy *policy = NULL;
        struct reins_error err = {0};
        assert_int_equal(policy_load("default", &policy, &err), 0);
        struct plan_environment env = {.rootfs = root};
        char *argv[] = {"/bin/true", NULL};
        struct plan_options options = {
            .workspace = "/tmp", .environment = &env, .home = "/root", .argv = argv};
        struct reins_plan *plan = NULL;
        assert_int_equal(plan_build(policy, &options, &plan, &err), 0);
        bool usr = false, bin = false, host_etc = false;
        for (size_t i = 0; i < plan->mount_count; i++) {
                const struct mount_op *op = &plan->mounts[i];
                if (strcmp(op->target, "/usr") == 0) {
                        usr = op->kind == MOUNT_OP_BIND_RO && op->environment &&
                              strncmp(op->source, root, strlen(root)) == 0;
                }
                if (strcmp(op->target, "/bin") == 0)
                        bin = op->kind == MOUNT_OP_SYMLINK && strcmp(op->source, "usr/bin") == 0;
                if (strcmp(op->target, "/etc") == 0 && !op->environment)
                        host_etc = true;
                assert_false(op->environment && strcmp(op->target, "/proc") == 0);
        }
        assert_true(usr);
        assert_true(bin);
        assert_false(host_etc);
        plan_free(plan);
        policy_free(policy);
        snprintf(path, sizeof(path), "rm -rf %s", root);
        assert_int_equal(system(path), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_no_environment_is_the_host),
            cmocka_unit_test(test_debian_source_is_canonical),
            cmocka_unit_test(test_bases_and_sdks_are_checked),
            cmocka_unit_test(test_lock_round_trip_and_refusals),
            cmocka_unit_test(test_oci_index_and_manifest),
            cmocka_unit_test(test_plan_of_an_environment_root),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

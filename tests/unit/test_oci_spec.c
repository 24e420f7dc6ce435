/* config.json's reader (src/oci/spec.c) and the plan of a container's own
 * root (src/sandbox/plan_root.c): what is taken, what is refused and named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "oci/spec.h"
#include "policy/policy.h"
#include "sandbox/plan.h"

#define BASE                                                                                       \
        "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"/bin/sh\",\"-c\",\"x\"],"              \
        "\"env\":[\"PATH=/bin\"],\"cwd\":\"/w\",\"user\":{\"uid\":5,\"gid\":6,"                    \
        "\"additionalGids\":[7,8]},\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":64,"          \
        "\"soft\":32}]},\"root\":{\"path\":\"/tmp\",\"readonly\":true},\"hostname\":\"h\","        \
        "\"mounts\":[{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"           \
        "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\"},"                      \
        "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\"},"                \
        "{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/usr\",\"options\":[\"rbind\"," \
        "\"ro\",\"noexec\"]},{\"destination\":\"/run\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","   \
        "\"options\":[\"size=64k\"]}],\"linux\":{\"maskedPaths\":[\"/proc/kcore\"],"               \
        "\"readonlyPaths\":[\"/proc/sys\"],\"sysctl\":{\"net.ipv4.ip_forward\":\"0\"},"            \
        "\"resources\":{\"memory\":{\"limit\":67108864},\"pids\":{\"limit\":50}}}%s}"

static struct oci_spec *parse(const char *extra, struct reins_error *err)
{
        char text[4096];
        snprintf(text, sizeof(text), BASE, extra);
        struct oci_spec *spec = NULL;
        memset(err, 0, sizeof(*err));
        if (oci_spec_parse(text, strlen(text), "/tmp", true, &spec, err) < 0)
                return NULL;
        return spec;
}

static void test_takes_what_it_honours(void **state)
{
        (void)state;
        struct reins_error err;
        struct oci_spec *spec = parse("", &err);
        assert_non_null(spec);
        assert_string_equal(spec->args[0], "/bin/sh");
        assert_null(spec->args[3]);
        assert_int_equal(spec->env_count, 1);
        assert_string_equal(spec->root.cwd, "/w");
        assert_true(spec->root.set_ids);
        assert_int_equal(spec->root.uid, 5);
        assert_int_equal(spec->root.gid, 6);
        assert_int_equal(spec->root.group_count, 2);
        assert_int_equal(spec->root.rlimit_count, 1);
        assert_int_equal(spec->root.rlimits[0].resource, RLIMIT_NOFILE);
        assert_true(spec->root.readonly);
        assert_string_equal(spec->root.hostname, "h");
        /* devpts is reins' /dev's own: 4 of the 5 mounts, in order */
        assert_int_equal(spec->root.mount_count, 4);
        assert_int_equal(spec->root.mounts[0].kind, MOUNT_OP_PROC);
        assert_int_equal(spec->root.mounts[1].kind, MOUNT_OP_DEV);
        assert_int_equal(spec->root.mounts[2].kind, MOUNT_OP_BIND_RO);
        assert_true(spec->root.mounts[2].noexec);
        assert_int_equal(spec->root.mounts[2].index, 3);
        assert_int_equal(spec->root.mounts[3].kind, MOUNT_OP_TMPFS);
        assert_int_equal(spec->root.mounts[3].size_bytes, 64 * 1024);
        assert_int_equal(spec->root.masked_count, 1);
        assert_int_equal(spec->root.readonly_count, 1);
        assert_int_equal(spec->root.sysctl_count, 1);
        assert_string_equal(spec->root.sysctl[0], "net.ipv4.ip_forward=0");
        assert_int_equal(spec->root.memory_bytes, 64u << 20);
        assert_int_equal(spec->root.pids, 50);
        oci_spec_free(spec);
}

static void expect_refused(const char *extra, const char *named)
{
        struct reins_error err;
        struct oci_spec *spec = parse(extra, &err);
        assert_null(spec);
        if (!strstr(err.message, named))
                fail_msg("'%s' does not name '%s'", err.message, named);
}

static void test_refuses_and_names_the_key(void **state)
{
        (void)state;
        expect_refused(",\"hostname\":\"again\"", "line"); /* duplicate key */
        expect_refused(",\"annotations\":[]", "annotations");
        expect_refused(",\"hooks\":7", "hooks");
        struct reins_error err;
        const char *kernel =
            "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"a\"],\"cwd\":\"/\"},"
            "\"root\":{\"path\":\"/tmp\"},\"linux\":{\"sysctl\":{\"kernel.core_pattern\":\"|x\"}}}";
        struct oci_spec *spec = NULL;
        assert_true(oci_spec_parse(kernel, strlen(kernel), "/tmp", true, &spec, &err) < 0);
        assert_non_null(strstr(err.message, "linux.sysctl.kernel.core_pattern"));
        const char *overlay =
            "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"a\"],\"cwd\":\"/\"},"
            "\"root\":{\"path\":\"/tmp\"},\"mounts\":[{\"destination\":\"/x\",\"type\":"
            "\"overlay\"}]}";
        assert_true(oci_spec_parse(overlay, strlen(overlay), "/tmp", true, &spec, &err) < 0);
        assert_non_null(strstr(err.message, "mounts[0].type 'overlay'"));
        const char *no_args = "{\"ociVersion\":\"1.0.2\",\"process\":{\"cwd\":\"/\"},"
                              "\"root\":{\"path\":\"/tmp\"}}";
        assert_true(oci_spec_parse(no_args, strlen(no_args), "/tmp", true, &spec, &err) < 0);
        assert_non_null(strstr(err.message, "process.args"));
        const char *host_root = "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"a\"],"
                                "\"cwd\":\"/\"},\"root\":{\"path\":\"/\"}}";
        assert_true(oci_spec_parse(host_root, strlen(host_root), "/tmp", true, &spec, &err) < 0);
        assert_non_null(strstr(err.message, "root.path"));
        const char *trace = "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"a\"],"
                            "\"cwd\":\"/\"},\"root\":{\"path\":\"/tmp\"},\"linux\":{\"seccomp\":"
                            "{\"defaultAction\":\"SCMP_ACT_TRACE\"}}}";
        assert_true(oci_spec_parse(trace, strlen(trace), "/tmp", true, &spec, &err) < 0);
        assert_non_null(strstr(err.message, "SCMP_ACT_TRACE"));
}

/* A small config.json with `process_extra` in process and `linux` as its
 * linux object. */
static struct oci_spec *parse_small(const char *process_extra, const char *linux_,
                                    struct reins_error *err)
{
        char text[2048];
        snprintf(text, sizeof(text),
                 "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"a\"],\"cwd\":\"/\"%s},"
                 "\"root\":{\"path\":\"/tmp\"},\"linux\":%s}",
                 process_extra, linux_);
        struct oci_spec *spec = NULL;
        memset(err, 0, sizeof(*err));
        return oci_spec_parse(text, strlen(text), "/tmp", true, &spec, err) < 0 ? NULL : spec;
}

static void test_capabilities_narrowed_to_what_reins_grants(void **state)
{
        (void)state;
        struct reins_error err;
        struct oci_spec *spec = parse_small(
            ",\"capabilities\":{\"bounding\":[\"CAP_CHOWN\",\"CAP_SYS_ADMIN\",\"CAP_KILL\"],"
            "\"permitted\":[\"CAP_CHOWN\",\"CAP_SYS_ADMIN\",\"CAP_SETUID\"],"
            "\"effective\":[\"CAP_CHOWN\",\"CAP_DAC_OVERRIDE\"],\"ambient\":[\"CAP_CHOWN\"]}",
            "{}", &err);
        assert_non_null(spec);
        assert_true(spec->root.caps_given);
        /* SYS_ADMIN and DAC_OVERRIDE withheld; SETUID is outside the bounding set */
        assert_int_equal(spec->root.cap_bounding, (1ULL << 0) | (1ULL << 5));
        assert_int_equal(spec->root.cap_permitted, 1ULL << 0);
        assert_int_equal(spec->root.cap_effective, 1ULL << 0);
        assert_int_equal(spec->root.cap_ambient, 0); /* not inheritable */
        assert_int_equal(spec->caps_withheld, (1ULL << 21) | (1ULL << 1));
        oci_spec_free(spec);
        spec = parse_small("", "{}", &err);
        assert_non_null(spec);
        assert_false(spec->root.caps_given); /* none at all, as reins run */
        oci_spec_free(spec);
        assert_null(parse_small(",\"capabilities\":{\"bounding\":[\"CAP_NOPE\"]}", "{}", &err));
        assert_non_null(strstr(err.message, "process.capabilities.bounding[0]"));
}

static void test_namespaces_cgroups_and_devices(void **state)
{
        (void)state;
        struct reins_error err;
        struct oci_spec *spec = parse_small(
            "",
            "{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\",\"path\":\"/proc/1/ns/ipc\"},"
            "{\"type\":\"uts\",\"path\":\"/proc/1/ns/uts\"},{\"type\":\"network\",\"path\":"
            "\"/run/netns/x\"}],\"cgroupsPath\":\"/pods/c1\",\"resources\":{\"cpu\":{\"shares\":"
            "512,\"quota\":20000,\"period\":50000,\"cpus\":\"0-1\"}}}",
            &err);
        assert_non_null(spec);
        assert_string_equal(spec->root.join_ipc, "/proc/1/ns/ipc");
        assert_string_equal(spec->root.join_uts, "/proc/1/ns/uts");
        assert_string_equal(spec->net_path, "/run/netns/x");
        assert_string_equal(spec->root.cgroups_path, "/pods/c1");
        assert_int_equal(spec->root.cpus_milli, 400);
        assert_int_equal(spec->root.cpu_quota_us, 20000);
        assert_int_equal(spec->root.cpu_period_us, 50000);
        assert_int_equal(spec->root.cpu_shares, 512);
        assert_string_equal(spec->root.cpuset_cpus, "0-1");
        oci_spec_free(spec);
        static const char *const refused[][2] = {
            {"{\"namespaces\":[{\"type\":\"mount\",\"path\":\"/proc/1/ns/mnt\"}]}",
             "joining an existing mount namespace"},
            {"{\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\"}]}", "listed twice"},
            {"{\"namespaces\":[{\"type\":\"nope\"}]}", "linux.namespaces[0].type"},
            {"{\"cgroupsPath\":\"/a/../b\"}", "linux.cgroupsPath"},
            {"{\"cgroupsPath\":\"system.slice:reins:c1\"}", "linux.cgroupsPath"},
            {"{\"devices\":[{\"path\":\"/dev/fuse\",\"type\":\"c\",\"major\":10,\"minor\":229}]}",
             "linux.devices"},
            {"{\"resources\":{\"cpu\":{\"quota\":10,\"period\":100000}}}", "linux.resources.cpu"},
            {"{\"resources\":{\"cpu\":{\"cpus\":\"0;1\"}}}", "linux.resources.cpu.cpus"},
        };
        for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
                assert_null(parse_small("", refused[i][0], &err));
                if (!strstr(err.message, refused[i][1]))
                        fail_msg("'%s' does not name '%s'", err.message, refused[i][1]);
        }
}

static void test_seccomp_profile_compiles(void **state)
{
        (void)state;
        struct reins_error err;
        struct oci_spec *spec =
            parse(",\"x-unused\":{\"linux\":1}", &err); /* unknown top-level keys are not reins' */
        assert_non_null(spec);
        assert_null(spec->root.filter);
        oci_spec_free(spec);
        const char *profile =
            "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"a\"],\"cwd\":\"/\"},"
            "\"root\":{\"path\":\"/tmp\"},\"linux\":{\"seccomp\":{\"defaultAction\":"
            "\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\",\"no_such_call\"],"
            "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1},{\"names\":[\"personality\"],"
            "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":8,\"op\":"
            "\"SCMP_CMP_EQ\"}]}]}}}";
        assert_int_equal(oci_spec_parse(profile, strlen(profile), "/tmp", true, &spec, &err), 0);
        assert_non_null(spec->root.filter);
        assert_true(spec->root.filter_len > 4);
        oci_spec_free(spec);
}

/* The policy over the container's root: a bind of a denied host path is
 * refused by its config.json index; literal deny paths are hidden inside. */
static void test_plan_root_layers_the_policy(void **state)
{
        (void)state;
        struct reins_error err = {0};
        struct reins_policy *policy = NULL;
        const char *yaml = "version: 1\nname: t\nextends: default\n"
                           "filesystem:\n  deny: [/usr/share, /etc/shadow]\n";
        assert_int_equal(policy_load_text(yaml, "test", &policy, &err), 0);
        struct plan_root_mount mounts[] = {
            {.kind = MOUNT_OP_PROC, .target = "/proc", .index = 0},
            {.kind = MOUNT_OP_BIND_RO, .source = "/usr/share", .target = "/s", .index = 4},
        };
        struct plan_root root = {.dir = "/tmp", .cwd = "/", .mounts = mounts, .mount_count = 2};
        char *no_env[] = {NULL};
        struct plan_options options = {.root = &root, .host_environ = no_env, .home = "/root"};
        struct reins_plan *plan = NULL;
        assert_true(plan_build(policy, &options, &plan, &err) < 0);
        assert_non_null(strstr(err.message, "mounts[4].source /usr/share"));
        assert_non_null(strstr(err.message, "denied"));
        memset(&err, 0, sizeof(err));
        root.mount_count = 1;
        assert_int_equal(plan_build(policy, &options, &plan, &err), 0);
        bool hidden = false;
        for (size_t i = 0; i < plan->mount_count; i++)
                hidden = hidden || (plan->mounts[i].kind == MOUNT_OP_HIDE &&
                                    strcmp(plan->mounts[i].target, "/etc/shadow") == 0);
        assert_true(hidden);
        assert_ptr_equal(plan->root, &root);
        plan_free(plan);
        policy_free(policy);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_takes_what_it_honours),
            cmocka_unit_test(test_refuses_and_names_the_key),
            cmocka_unit_test(test_capabilities_narrowed_to_what_reins_grants),
            cmocka_unit_test(test_namespaces_cgroups_and_devices),
            cmocka_unit_test(test_seccomp_profile_compiles),
            cmocka_unit_test(test_plan_root_layers_the_policy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

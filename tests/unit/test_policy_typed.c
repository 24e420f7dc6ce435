/* The typed policy keys (canaries, risk.engine, approvals.default/unknown,
 * rules.*): parsed into values at load, with errors that name file, line
 * and key, and without moving any policy's identity. Every audit event
 * records the hash of the normalized YAML and a verifier compares it with
 * the policy file it is given, so the hashes below, recorded with the loader
 * that kept these keys as text, must stay: for the built-in presets, for
 * `reins policy show`, and for policies that spell rule values oddly (007,
 * 90s, 120000ms) or merge them along extends. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/policy.h"
#include "util/digest.h"

struct preset_identity {
        const char *name;
        const char *show_sha256;   /* of `reins policy show NAME` (the preset's text) */
        const char *policy_sha256; /* policy_sha256_hex of the loaded preset */
};

static const struct preset_identity presets[] = {
    {"default", "f8c2c70df42d6f26956eb10a0d066c76f3b14c791050addacdbb5c6e18034068",
     "5c3da309eaee6fd816362152bb7275002a2bf227d9eb851dc793b1f24af83c82"},
    {"offline", "2322dfd364bd90489246375ec1b7e52a2e41f6c8ba9166530bf2763a3c334fad",
     "2d179d641bd3b3a777e70af4d81ac95865b180aece7359058076a82b26ff3183"},
    {"readonly", "e3fee8122a4d90c8a14adb3504f9d075ed9738b0100045d336781f0a17d87d6e",
     "31c88690534f430c0bd4feac97e9c49a93e160fb5e873581245bb3133eb2affb"},
    {"coding-agent", "f8ba3be1906226833e108a72f10a22be12dc388ea8f09627b8517ecc85c4b5fa",
     "3d3bb3fbfb01ebcfda0cdaec330d29f774c03415f4f6777d1b635beae01a5d87"},
    {"claude-code", "deb3bb1aae4b2d4b069e302587019309447052179df48535dafe2da5bfdbbef1",
     "0ef7c6d86d27cb24bd600998f7fbeac7b72f5d4ad67add6bf0efde3b7a9e2bc4"},
    {"codex", "25d375f5f4e3dd419a2539bef422b8e432c20490237805a04cb74a5b41913697",
     "7ca5c21a724ff7f1ec1ccefedfff149134b4bf214cfe2a88089c19268d1b4e0f"},
};

static void sha256_text(const char *text, char out[65])
{
        unsigned char digest[DIGEST_SHA256_BYTES];
        digest_sha256(text, strlen(text), digest);
        for (size_t i = 0; i < sizeof(digest); i++)
                snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

static void test_presets_keep_their_identity(void **state)
{
        (void)state;
        size_t count = sizeof(presets) / sizeof(presets[0]);
        size_t listed = 0;
        for (const char *const *name = policy_preset_names(); *name; name++)
                listed++;
        assert_int_equal(listed, count); /* a new preset: record its hashes here */
        for (size_t i = 0; i < count; i++) {
                const char *text = policy_preset_text(presets[i].name);
                assert_non_null(text);
                char hash[65];
                sha256_text(text, hash);
                assert_string_equal(hash, presets[i].show_sha256);

                struct reins_policy *policy = NULL;
                struct reins_error err = {0};
                if (policy_load(presets[i].name, &policy, &err) < 0)
                        fail_msg("%s: %s", presets[i].name, err.message);
                assert_int_equal(policy_sha256_hex(policy, hash), 0);
                if (strcmp(hash, presets[i].policy_sha256) != 0)
                        fail_msg("preset %s: hash %s, recorded %s", presets[i].name, hash,
                                 presets[i].policy_sha256);
                policy_free(policy);
        }
}

/* ---- policies that use every typed key ---- */

static const char rules_odd[] =
    "version: 1\n"
    "name: rules-odd\n"
    "rules:\n"
    "  disable: [recon-tool, proc-snooping, recon-tool]\n"
    "  severity: {paste-upload: high, cloud-metadata: low, recon-tool: critical, "
    "proc-snooping: medium}\n"
    "  weight: {egress-volume: 007, paste-upload: \"30\", cloud-metadata: 1000000000}\n"
    "  threshold: {repeated-denials: 030, egress-spike: 33554432}\n"
    "  window: {repeated-denials: 90s, egress-volume: 120000ms, mass-deletion: 1h2m3s4ms, "
    "egress-spike: \"2m\"}\n"
    "  action: {reverse-shell: kill, recon-tool: log, cloud-metadata: T2, paste-upload: score, "
    "mass-deletion: T1, egress-spike: T3}\n";

static const char parent[] = "version: 1\n"
                             "name: parent\n"
                             "canaries: true\n"
                             "risk: {engine: off, tier1: 5}\n"
                             "approvals: {default: allow}\n"
                             "rules:\n"
                             "  disable: [recon-tool]\n"
                             "  severity: {paste-upload: high, cloud-metadata: low}\n"
                             "  weight: {egress-volume: 50, paste-upload: 3}\n"
                             "  window: {repeated-denials: 5m}\n"
                             "  action: {recon-tool: log, cloud-metadata: T2}\n";

/* every typed key overridden, some entries replaced in place, some added */
static const char child[] = "version: 1\n"
                            "name: child\n"
                            "extends: ./parent.yaml\n"
                            "risk: {engine: \"on\"}\n"
                            "approvals: {unknown: ask, timeout: 30s}\n"
                            "rules:\n"
                            "  disable: [proc-snooping, recon-tool]\n"
                            "  severity: {recon-tool: medium, paste-upload: critical}\n"
                            "  weight: {paste-upload: 0010, cloud-metadata: 7}\n"
                            "  threshold: {repeated-denials: 3}\n"
                            "  window: {egress-volume: 600s, repeated-denials: 90s}\n"
                            "  action: {cloud-metadata: kill, reverse-shell: T3}\n";

/* canaries turned back off; the parent's approvals and engine kept */
static const char child2[] = "version: 1\n"
                             "name: child2\n"
                             "extends: ./parent.yaml\n"
                             "canaries: false\n";

static const char child3[] = "version: 1\n"
                             "extends: ./child2.yaml\n"
                             "approvals: {}\n";

static const char approvals_empty[] = "version: 1\n"
                                      "approvals: {}\n"
                                      "canaries: false\n"
                                      "risk: {engine: off}\n";

static const char extends_preset[] = "version: 1\n"
                                     "extends: coding-agent\n"
                                     "canaries: true\n"
                                     "rules: {weight: {recon-tool: 99}}\n";

struct file_identity {
        const char *file; /* loaded from the test directory */
        const char *policy_sha256;
};

static const struct file_identity files[] = {
    {"rules-odd.yaml", "4fd7124b19aaa5e641510a50eea271e7d4219bb7ad549e1f110be24a6e00b5d7"},
    {"child.yaml", "f970b78e61ca355385ca7c5604fa81ea88ff7c507156c1f04e490fd221513d7b"},
    {"child3.yaml", "6fc33518012449413bf86ddf0f1f27a7c41957cd6d277e80b144b9ec1926bf5b"},
    {"approvals-empty.yaml", "c1b7c0f9a28f3ad96c9a56fb5d24c27bf7415f6946a30ffb67b8c784d9689df4"},
    {"extends-preset.yaml", "588298b3d461afab8c8941c4287abfbe94fedfd76cc4bdb309770e5b762345b1"},
};

static void write_in(const char *dir, const char *name, const char *text)
{
        char *path;
        assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_true(fputs(text, f) >= 0);
        assert_int_equal(fclose(f), 0);
        free(path);
}

static void remove_in(const char *dir, const char *name)
{
        char *path;
        assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        unlink(path);
        free(path);
}

static const struct {
        const char *name;
        const char *text;
} sources[] = {
    {"rules-odd.yaml", rules_odd},
    {"parent.yaml", parent},
    {"child.yaml", child},
    {"child2.yaml", child2},
    {"child3.yaml", child3},
    {"approvals-empty.yaml", approvals_empty},
    {"extends-preset.yaml", extends_preset},
};

static void test_typed_keys_keep_their_identity(void **state)
{
        (void)state;
        char dir[] = "/tmp/reins-test-identity-XXXXXX";
        assert_non_null(mkdtemp(dir));
        size_t source_count = sizeof(sources) / sizeof(sources[0]);
        for (size_t i = 0; i < source_count; i++)
                write_in(dir, sources[i].name, sources[i].text);

        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                char *path;
                assert_true(asprintf(&path, "%s/%s", dir, files[i].file) > 0);
                struct reins_policy *policy = NULL;
                struct reins_error err = {0};
                if (policy_load(path, &policy, &err) < 0)
                        fail_msg("%s: %s", files[i].file, err.message);
                char hash[65];
                assert_int_equal(policy_sha256_hex(policy, hash), 0);
                if (strcmp(hash, files[i].policy_sha256) != 0) {
                        char *yaml = policy_to_yaml(policy);
                        fail_msg("%s: hash %s, recorded %s\n%s", files[i].file, hash,
                                 files[i].policy_sha256, yaml ? yaml : "");
                }
                policy_free(policy);
                free(path);
        }
        for (size_t i = 0; i < source_count; i++)
                remove_in(dir, sources[i].name);
        rmdir(dir);
}

/* ---- the values behind the text ---- */

static struct reins_policy *load_in(const char *dir, const char *name)
{
        char *path;
        assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        struct reins_policy *policy = NULL;
        struct reins_error err = {0};
        if (policy_load(path, &policy, &err) < 0)
                fail_msg("%s: %s", name, err.message);
        free(path);
        return policy;
}

static const struct policy_rule_setting *setting(const struct policy_rule_settings *settings,
                                                 size_t index, const char *id)
{
        assert_true(index < settings->count);
        assert_string_equal(settings->items[index].id, id);
        assert_ptr_equal(policy_rule_setting_find(settings, id), &settings->items[index]);
        return &settings->items[index];
}

/* Parsed once at load: numbers, durations and names are values, in the
 * order written, a child's entry in its parent's place. */
static void test_typed_values(void **state)
{
        (void)state;
        char dir[] = "/tmp/reins-test-typed-XXXXXX";
        assert_non_null(mkdtemp(dir));
        size_t source_count = sizeof(sources) / sizeof(sources[0]);
        for (size_t i = 0; i < source_count; i++)
                write_in(dir, sources[i].name, sources[i].text);

        struct reins_policy *p = load_in(dir, "rules-odd.yaml");
        assert_false(p->canaries);
        assert_int_equal(p->risk.engine, POLICY_RISK_ENGINE_ON);
        assert_false(p->approvals.present);
        assert_int_equal(p->rules.disable.count, 2);
        assert_int_equal(setting(&p->rules.severity, 2, "recon-tool")->severity,
                         POLICY_SEVERITY_CRITICAL);
        assert_int_equal(setting(&p->rules.severity, 1, "cloud-metadata")->severity,
                         POLICY_SEVERITY_LOW);
        assert_int_equal(setting(&p->rules.weight, 0, "egress-volume")->number, 7);
        assert_int_equal(setting(&p->rules.weight, 2, "cloud-metadata")->number, 1000000000);
        assert_int_equal(setting(&p->rules.threshold, 0, "repeated-denials")->number, 30);
        assert_int_equal(setting(&p->rules.window, 0, "repeated-denials")->number, 90000);
        assert_int_equal(setting(&p->rules.window, 1, "egress-volume")->number, 120000);
        assert_int_equal(setting(&p->rules.window, 2, "mass-deletion")->number, 3723004);
        assert_int_equal(setting(&p->rules.action, 0, "reverse-shell")->action, POLICY_ACTION_KILL);
        assert_int_equal(setting(&p->rules.action, 5, "egress-spike")->action, POLICY_ACTION_T3);
        assert_null(policy_rule_setting_find(&p->rules.action, "canary-read"));
        policy_free(p);

        p = load_in(dir, "child.yaml");
        assert_true(p->canaries); /* the parent's, the child says nothing */
        assert_int_equal(p->risk.engine, POLICY_RISK_ENGINE_ON); /* the child's "on" wins */
        assert_int_equal(p->approvals.default_decision, POLICY_APPROVAL_ALLOW); /* parent's */
        assert_int_equal(p->approvals.unknown, POLICY_UNKNOWN_ASK);             /* child's */
        assert_int_equal(p->rules.severity.count, 3);
        assert_int_equal(setting(&p->rules.severity, 0, "paste-upload")->severity,
                         POLICY_SEVERITY_CRITICAL);
        assert_int_equal(setting(&p->rules.severity, 2, "recon-tool")->severity,
                         POLICY_SEVERITY_MEDIUM);
        assert_int_equal(setting(&p->rules.weight, 1, "paste-upload")->number, 10);
        assert_int_equal(setting(&p->rules.window, 0, "repeated-denials")->number, 90000);
        assert_string_equal(p->rules.window.items[0].written, "90s");
        assert_int_equal(setting(&p->rules.action, 1, "cloud-metadata")->action,
                         POLICY_ACTION_KILL);
        policy_free(p);

        p = load_in(dir, "child3.yaml");
        assert_false(p->canaries); /* child2 turned them off */
        assert_int_equal(p->risk.engine, POLICY_RISK_ENGINE_OFF);
        assert_int_equal(p->approvals.default_decision, POLICY_APPROVAL_ALLOW);
        assert_int_equal(p->approvals.unknown, POLICY_UNKNOWN_DENY);
        policy_free(p);

        p = load_in(dir, "approvals-empty.yaml");
        assert_true(p->approvals.present);
        assert_int_equal(p->approvals.default_decision, POLICY_APPROVAL_DENY);
        assert_int_equal(p->approvals.unknown, POLICY_UNKNOWN_DENY);
        assert_int_equal(p->risk.engine, POLICY_RISK_ENGINE_OFF);
        policy_free(p);

        for (size_t i = 0; i < source_count; i++)
                remove_in(dir, sources[i].name);
        rmdir(dir);
}

/* A bad value still names file, line and key, word for word as before. */
static const struct {
        const char *text;
        const char *error;
} bad_values[] = {
    {"version: 1\nrules: {action: {recon-tool: T4}}\n",
     "pol.yaml:2: rules.action.recon-tool: bad action 'T4': an action is log, score, T1, T2, T3 or "
     "kill"},
    {"version: 1\napprovals: {default: ask}\n",
     "pol.yaml:2: approvals.default: unknown value 'ask' (expected one of: deny, allow)"},
    {"version: 1\napprovals:\n  timeout: 1m\n  unknown: allow\n",
     "pol.yaml:4: approvals.unknown: unknown value 'allow' (expected one of: deny, ask)"},
    {"version: 1\ncanaries: True\n",
     "pol.yaml:2: canaries: unknown value 'True' (expected one of: false, true)"},
    {"version: 1\ncanaries: [true]\n", "pol.yaml:2: canaries: expected a single value, got a list"},
    {"version: 1\ncanaries:\n", "pol.yaml:2: canaries: no value"},
    {"version: 1\ncanaries: yes\n",
     "pol.yaml:2: canaries: unknown value 'yes' (expected one of: false, true)"},
    {"version: 1\nrules: {disable: [recon-tool, nope]}\n",
     "pol.yaml:2: rules.disable[1]: bad rule id 'nope': no such rule (see 'reins policy rules')"},
    {"version: 1\nrules: {disable: recon-tool}\n",
     "pol.yaml:2: rules.disable: expected a list, got a single value 'recon-tool' (write "
     "[recon-tool])"},
    {"version: 1\ncanaries: true\ncanaries: false\n",
     "pol.yaml:3: canaries: duplicate key (first at line 2)"},
    {"version: 1\nrules:\n  weight:\n    recon-tool: 5\n    recon-tool: 6\n",
     "pol.yaml:5: rules.weight.recon-tool: duplicate key"},
    {"version: 1\nrisk: {engine: true}\n",
     "pol.yaml:2: risk.engine: unknown value 'true' (expected one of: on, off)"},
    {"version: 1\nrisk: {engine: maybe}\n",
     "pol.yaml:2: risk.engine: unknown value 'maybe' (expected one of: on, off)"},
    {"version: 1\nrisk:\n  engine:\n", "pol.yaml:3: risk.engine: no value"},
    {"version: 1\nrules: [a]\n", "pol.yaml:2: rules: expected a mapping of keys, got a list"},
    {"version: 1\nrules: {severity: {recon-tool: HIGH}}\n",
     "pol.yaml:2: rules.severity.recon-tool: bad severity 'HIGH': a severity is low, medium, high "
     "or critical"},
    {"version: 1\nrules:\n  severity:\n    no-such-rule: high\n",
     "pol.yaml:4: rules.severity: bad name 'no-such-rule': no such rule (see 'reins policy "
     "rules')"},
    {"version: 1\nrules: {threshold: {recon-tool: 5}}\n",
     "pol.yaml:2: rules.threshold: bad name 'recon-tool': this rule does not count anything: it "
     "has no threshold"},
    {"version: 1\nrules: {weight: {recon-tool: 1000000001}}\n",
     "pol.yaml:2: rules.weight.recon-tool: bad weight '1000000001': a whole number from 1 to "
     "1000000000"},
    {"version: 1\nrules: {weight: {recon-tool: 2.5}}\n",
     "pol.yaml:2: rules.weight.recon-tool: bad weight '2.5': a whole number from 1 to 1000000000"},
    {"version: 1\nrules: {weight: {recon-tool: 99999999999999999999999}}\n",
     "pol.yaml:2: rules.weight.recon-tool: bad weight '99999999999999999999999': a whole number "
     "from 1 to 1000000000"},
    {"version: 1\nrules: {weight: [a]}\n",
     "pol.yaml:2: rules.weight: expected a mapping (NAME: value), got a list"},
    {"version: 1\nrules: {weight: {recon-tool: {a: 1}}}\n",
     "pol.yaml:2: rules.weight.recon-tool: expected a single value, got a mapping"},
    {"version: 1\nrules: {weight: {recon-tool: -5}}\n",
     "pol.yaml:2: rules.weight.recon-tool: bad weight '-5': a whole number from 1 to 1000000000"},
    {"version: 1\nrules: {weight: }\n",
     "pol.yaml:2: rules.weight: no value (write {} for an empty mapping)"},
    {"version: 1\nrules: {weight: {recon-tool: 0}}\n",
     "pol.yaml:2: rules.weight.recon-tool: bad weight '0': a whole number from 1 to 1000000000"},
    {"version: 1\nrules: {window: {repeated-denials: soon}}\n",
     "pol.yaml:2: rules.window.repeated-denials: bad window 'soon': a duration of at least 1s "
     "(30s, 2m)"},
    {"version: 1\nrules: {window: {recon-tool: 5m}}\n",
     "pol.yaml:2: rules.window: bad name 'recon-tool': this rule has no time window"},
    {"version: 1\nrules: {window: {repeated-denials: 999ms}}\n",
     "pol.yaml:2: rules.window.repeated-denials: bad window '999ms': a duration of at least 1s "
     "(30s, 2m)"},
};

static void test_typed_errors(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
                struct reins_policy *policy = NULL;
                struct reins_error err = {0};
                int r = policy_load_text(bad_values[i].text, "pol.yaml", &policy, &err);
                if (r != -EINVAL || strcmp(err.message, bad_values[i].error) != 0)
                        fail_msg("%s: got %d '%s', expected '%s'", bad_values[i].text, r,
                                 err.message, bad_values[i].error);
                assert_null(policy);
        }
}

/* `isolation: vm` (beside wasm, its other kind): written, inherited along
 * extends and turned back by a child; anything else is refused. */
static void test_isolation(void **state)
{
        (void)state;
        char dir[] = "/tmp/reins-test-typed-XXXXXX";
        assert_non_null(mkdtemp(dir));
        write_in(dir, "vm.yaml", "version: 1\nisolation: vm\n");
        write_in(dir, "child.yaml", "version: 1\nextends: ./vm.yaml\n");
        write_in(dir, "back.yaml", "version: 1\nextends: ./vm.yaml\nisolation: container\n");
        struct reins_policy *p = load_in(dir, "vm.yaml");
        assert_string_equal(p->isolation, "vm");
        char *text = policy_to_yaml(p);
        assert_non_null(strstr(text, "\nisolation: vm\n"));
        free(text);
        policy_free(p);
        p = load_in(dir, "child.yaml");
        assert_string_equal(p->isolation, "vm");
        policy_free(p);
        p = load_in(dir, "back.yaml");
        assert_string_equal(p->isolation, "container");
        policy_free(p);
        struct reins_policy *bad = NULL;
        struct reins_error err = {0};
        assert_int_equal(policy_load_text("version: 1\nisolation: jail\n", "pol.yaml", &bad, &err),
                         -EINVAL);
        assert_string_equal(err.message, "pol.yaml:2: isolation: unknown value 'jail' (expected "
                                         "one of: container, wasm, vm)");
}

/* In an extended file, the error names that file and its line. */
static void test_typed_error_in_parent(void **state)
{
        (void)state;
        char dir[] = "/tmp/reins-test-typed-XXXXXX";
        assert_non_null(mkdtemp(dir));
        write_in(dir, "base.yaml", "version: 1\nrules:\n  window:\n    egress-volume: 10ms\n");
        write_in(dir, "top.yaml", "version: 1\nextends: ./base.yaml\ncanaries: true\n");
        char *path, *expected;
        assert_true(asprintf(&path, "%s/top.yaml", dir) > 0);
        assert_true(asprintf(&expected,
                             "%s/base.yaml:4: rules.window.egress-volume: bad window '10ms': a "
                             "duration of at least 1s (30s, 2m)",
                             dir) > 0);
        struct reins_policy *policy = NULL;
        struct reins_error err = {0};
        assert_int_equal(policy_load(path, &policy, &err), -EINVAL);
        assert_string_equal(err.message, expected);
        free(expected);
        free(path);
        remove_in(dir, "base.yaml");
        remove_in(dir, "top.yaml");
        rmdir(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_presets_keep_their_identity),
            cmocka_unit_test(test_typed_keys_keep_their_identity),
            cmocka_unit_test(test_typed_values),
            cmocka_unit_test(test_typed_errors),
            cmocka_unit_test(test_isolation),
            cmocka_unit_test(test_typed_error_in_parent),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

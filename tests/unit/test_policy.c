/* The policy module end to end: presets load, `extends` merges as
 * documented, every class of mistake is reported as `FILE:LINE: KEY: what`,
 * unsupported keys are refused with their place, and the normalized YAML
 * (and so the hash) is deterministic and survives a round trip. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/policy.h"

#define GiB (1024ULL * 1024 * 1024)
#define MiB (1024ULL * 1024)

/* ---- helpers ---- */

static void write_file(const char *path, const char *text)
{
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

/* A fresh file under /tmp holding `text`; the caller unlinks and frees. */
static char *temp_policy(const char *text)
{
        char *path = strdup("/tmp/reins-test-policy-XXXXXX.yaml");
        assert_non_null(path);
        int fd = mkstemps(path, 5);
        assert_true(fd >= 0);
        size_t len = strlen(text);
        assert_int_equal(write(fd, text, len), (ssize_t)len);
        close(fd);
        return path;
}

static char *temp_dir(void)
{
        char *path = strdup("/tmp/reins-test-dir-XXXXXX");
        assert_non_null(path);
        assert_non_null(mkdtemp(path));
        return path;
}

static char *join(const char *dir, const char *name)
{
        char *path;
        assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        return path;
}

static void remove_tree(const char *dir)
{
        char *cmd;
        assert_true(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
        assert_int_equal(system(cmd), 0);
        free(cmd);
}

static struct reins_policy *load_ok(const char *spec)
{
        struct reins_error err = {0};
        struct reins_policy *p = NULL;
        int r = policy_load(spec, &p, &err);
        if (r != 0)
                fail_msg("loading %s: %s", spec, err.message);
        assert_non_null(p);
        return p;
}

static struct reins_policy *load_text_ok(const char *text, const char *origin)
{
        struct reins_error err = {0};
        struct reins_policy *p = NULL;
        int r = policy_load_text(text, origin, &p, &err);
        if (r != 0)
                fail_msg("loading %s: %s", origin, err.message);
        assert_non_null(p);
        return p;
}

static char *yaml_of(const struct reins_policy *p)
{
        char *yaml = policy_to_yaml(p);
        assert_non_null(yaml);
        return yaml;
}

static void assert_strv(const struct reins_strv *v, const char *const *expected)
{
        size_t n = 0;
        while (expected[n])
                n++;
        if (v->count != n)
                fail_msg("list has %zu items, expected %zu", v->count, n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(v->items[i], expected[i]);
        assert_null(v->items[n]);
}

/* ---- presets ---- */

static void test_presets_load(void **state)
{
        (void)state;
        const char *const *names = policy_preset_names();
        size_t count = 0;
        for (; names[count]; count++) {
                const char *text = policy_preset_text(names[count]);
                assert_non_null(text);
                struct reins_policy *p = load_ok(names[count]);
                char label[64];
                snprintf(label, sizeof(label), "preset:%s", names[count]);
                assert_string_equal(p->source, label);
                assert_string_equal(p->name, names[count]);
                struct reins_error err = {0};
                if (policy_check_supported(p, &err) != 0)
                        fail_msg("preset %s unsupported: %s", names[count], err.message);

                /* the text itself loads the same way */
                struct reins_policy *q = load_text_ok(text, label);
                char *a = yaml_of(p), *b = yaml_of(q);
                assert_string_equal(a, b);
                free(a);
                free(b);
                policy_free(q);
                policy_free(p);
        }
        assert_int_equal(count,
                         6); /* default, offline, readonly, coding-agent, claude-code, codex */
        assert_non_null(policy_preset_text("coding-agent"));
        assert_null(policy_preset_text("nope"));
        assert_null(policy_preset_text(NULL));
}

static void test_preset_default_contents(void **state)
{
        (void)state;
        struct reins_policy *p = load_ok("default");
        assert_null(p->extends);
        assert_string_equal(p->filesystem.workspace, ".");
        assert_int_equal(p->filesystem.workspace_mode, POLICY_WORKSPACE_DIRECT);
        static const char *const read[] = {"/usr",   "/bin",    "/sbin", "/lib", "/lib32",
                                           "/lib64", "/libx32", "/etc",  "/opt", NULL};
        assert_strv(&p->filesystem.read, read);
        assert_int_equal(p->filesystem.write.count, 0);
        static const char *const deny[] = {"~/.ssh",
                                           "~/.aws",
                                           "~/.gnupg",
                                           "~/.config/gcloud",
                                           "~/.azure",
                                           "~/.kube",
                                           "~/.docker/config.json",
                                           "~/.netrc",
                                           "~/.git-credentials",
                                           "/etc/shadow",
                                           "/etc/shadow-",
                                           "/etc/gshadow",
                                           "/etc/gshadow-",
                                           "/etc/sudoers",
                                           "/etc/sudoers.d",
                                           "/etc/ssh/ssh_host_*_key",
                                           "**/.env",
                                           "**/*.pem",
                                           "**/id_rsa",
                                           "**/id_ed25519",
                                           NULL};
        assert_strv(&p->filesystem.deny, deny);
        /* the built-in list (workspace/protect.c) is not the preset's */
        assert_int_equal(p->filesystem.protect.count, 0);
        assert_int_equal(p->network.mode, POLICY_NETWORK_NONE);
        static const char *const keep[] = {"PATH",    "HOME",      "TERM",     "LANG",
                                           "LC_ALL",  "LC_CTYPE",  "TZ",       "USER",
                                           "LOGNAME", "COLORTERM", "NO_COLOR", NULL};
        assert_strv(&p->env.keep, keep);
        assert_int_equal(p->env.set.count, 0);
        assert_true(p->limits.memory_bytes == 4 * GiB);
        assert_true(p->limits.pids == 1024);
        assert_true(p->limits.cpus_milli == 2000);
        assert_true(p->limits.wall_time_ms == 0);
        assert_true(p->limits.open_files == 4096);
        assert_true(p->limits.tmp_size_bytes == 1 * GiB);
        assert_string_equal(p->syscalls.profile, "default");
        assert_false(p->approvals.present);
        policy_free(p);
}

static void test_preset_offline_and_readonly(void **state)
{
        (void)state;
        struct reins_policy *offline = load_ok("offline");
        assert_string_equal(offline->extends, "default");
        assert_int_equal(offline->network.mode, POLICY_NETWORK_NONE);
        /* default's rules are kept, and more are added */
        assert_string_equal(offline->filesystem.deny.items[0], "~/.ssh");
        assert_true(strv_contains(&offline->filesystem.deny, "**/.env"));
        assert_true(strv_contains(&offline->filesystem.deny, "~/.npmrc"));
        assert_true(strv_contains(&offline->filesystem.deny, "~/.pypirc"));
        assert_true(offline->limits.memory_bytes == 4 * GiB);
        policy_free(offline);

        struct reins_policy *ro = load_ok("readonly");
        assert_string_equal(ro->name, "readonly");
        assert_int_equal(ro->filesystem.workspace_mode, POLICY_WORKSPACE_READONLY);
        assert_true(strv_contains(&ro->filesystem.deny, "~/.ssh"));
        assert_true(ro->limits.pids == 1024);
        policy_free(ro);
}

/* ---- extends ---- */

static void test_extends_merge(void **state)
{
        (void)state;
        char *dir = temp_dir();
        char *sub = join(dir, "team");
        assert_int_equal(mkdir(sub, 0700), 0);
        char *base = join(sub, "base.yaml");
        char *child = join(dir, "child.yaml");
        write_file(base, "version: 1\n"
                         "name: base\n"
                         "agent: base-agent\n"
                         "filesystem:\n"
                         "  read: [/srv, /usr]\n"
                         "  deny: [\"*.key\"]\n"
                         "env:\n"
                         "  keep: [PATH]\n"
                         "  set: {A: one, B: two}\n"
                         "limits: {memory: 1GiB, pids: 10, wall_time: 1h}\n");
        write_file(child, "version: 1\n"
                          "extends: team/base.yaml\n"
                          "filesystem:\n"
                          "  workspace_mode: readonly\n"
                          "  read: [/usr, /data, /usr]\n"
                          "  deny: [~/.ssh]\n"
                          "env:\n"
                          "  keep: [HOME, PATH]\n"
                          "  set: {B: three, C: four}\n"
                          "limits: {memory: 0, cpus: 0.5}\n");

        struct reins_policy *p = load_ok(child);
        assert_string_equal(p->source, child);
        assert_string_equal(p->extends, "team/base.yaml");
        assert_string_equal(p->name, "base"); /* the child has none */
        assert_string_equal(p->agent, "base-agent");
        assert_int_equal(p->filesystem.workspace_mode, POLICY_WORKSPACE_READONLY);
        static const char *const read[] = {"/srv", "/usr", "/data", NULL};
        assert_strv(&p->filesystem.read, read);
        static const char *const deny[] = {"*.key", "~/.ssh", NULL};
        assert_strv(&p->filesystem.deny, deny);
        static const char *const keep[] = {"PATH", "HOME", NULL};
        assert_strv(&p->env.keep, keep);
        static const char *const set[] = {"A=one", "B=three", "C=four", NULL};
        assert_strv(&p->env.set, set);
        assert_true(p->limits.memory_bytes == 0); /* the child lifted it */
        assert_true(p->limits.pids == 10);
        assert_true(p->limits.cpus_milli == 500);
        assert_true(p->limits.wall_time_ms == 3600000);
        assert_true(p->limits.open_files == 0);
        char *yaml = yaml_of(p);
        assert_null(strstr(yaml, "extends"));
        free(yaml);
        policy_free(p);

        /* a name in the child wins; a preset at the root of the chain */
        write_file(base, "version: 1\nname: base\nextends: default\n"
                         "filesystem: {deny: [\"*.key\"]}\nlimits: {memory: 2GiB}\n");
        write_file(child, "version: 1\nname: mine\nextends: team/base.yaml\n");
        p = load_ok(child);
        assert_string_equal(p->name, "mine");
        assert_string_equal(p->filesystem.deny.items[0], "~/.ssh");
        assert_string_equal(p->filesystem.deny.items[p->filesystem.deny.count - 1], "*.key");
        assert_true(p->limits.memory_bytes == 2 * MiB * 1024);
        assert_true(p->limits.pids == 1024);
        policy_free(p);

        free(base);
        free(child);
        free(sub);
        remove_tree(dir);
        free(dir);
}

static void test_load_spec_resolution(void **state)
{
        (void)state;
        struct reins_error err = {0};
        struct reins_policy *p = NULL;
        assert_int_equal(policy_load("no-such-preset", &p, &err), -ENOENT);
        assert_string_equal(err.message, "no-such-preset: unknown preset (presets: default, "
                                         "offline, readonly) and no such policy file");
        assert_null(p);
        assert_int_equal(policy_load("", &p, &err), -EINVAL);
        assert_int_equal(policy_load(NULL, &p, &err), -EINVAL);

        /* a bare name that is an existing file (and not a preset) is a file */
        char *dir = temp_dir();
        char *file = join(dir, "mypolicy");
        write_file(file, "version: 1\nname: bare\n");
        char cwd[PATH_MAX];
        assert_non_null(getcwd(cwd, sizeof(cwd)));
        assert_int_equal(chdir(dir), 0);
        p = load_ok("mypolicy");
        assert_string_equal(p->name, "bare");
        assert_string_equal(p->source, "mypolicy");
        policy_free(p);
        assert_int_equal(chdir(cwd), 0);
        free(file);
        remove_tree(dir);
        free(dir);
}

/* ---- errors ---- */

struct error_case {
        const char *yaml;
        int code;
        const char *message; /* after "FILE:" */
};

static const struct error_case error_cases[] = {
    /* the example of the design */
    {"version: 1\nname: x\n\n\n\nlimits:\n  memory: 4Gx\n", EINVAL,
     "7: limits.memory: bad size '4Gx' (use e.g. 512MiB, 4GiB)"},
    {"version: 1\nlimits: {memory: 99999999999TiB}\n", EINVAL,
     "2: limits.memory: size '99999999999TiB' is too large"},
    {"version: 1\nlimits: {tmp_size: -1}\n", EINVAL,
     "2: limits.tmp_size: bad size '-1' (use e.g. 512MiB, 4GiB)"},
    {"version: 1\nlimits: {memory: 3}\n", EINVAL,
     "2: limits.memory: size '3' is below the 16 MiB a sandbox needs (0 means no limit; sizes "
     "without a unit are bytes)"},
    {"version: 1\nlimits:\n  wall_time: 1h30\n", EINVAL,
     "3: limits.wall_time: bad duration '1h30' (use e.g. 0, 90s, 250ms, 10m, 1h30m)"},
    {"version: 1\nlimits:\n  pids: 1k\n", EINVAL,
     "3: limits.pids: bad number '1k' (use a whole number, e.g. 1024)"},
    {"version: 1\nlimits:\n  open_files: 99999999999999999999\n", EINVAL,
     "3: limits.open_files: number '99999999999999999999' is too large"},
    {"version: 1\nlimits:\n  cpus: half\n", EINVAL,
     "3: limits.cpus: bad cpu count 'half' (use e.g. 2, 0.5, 1500m)"},
    {"version: 1\napprovals: {timeout: soon}\n", EINVAL,
     "2: approvals.timeout: bad duration 'soon' (use e.g. 0, 90s, 250ms, 10m, 1h30m)"},
    {"version: 1\nnetwork: {egress_budget: lots}\n", EINVAL,
     "2: network.egress_budget: bad size 'lots' (use e.g. 512MiB, 4GiB)"},
    /* globs and paths */
    {"version: 1\nfilesystem:\n  deny: [\"~/.ssh\", /x, \"a**\"]\n", EINVAL,
     "3: filesystem.deny[2]: bad glob 'a**': '**' must be a whole path component (like "
     "a/**/b), not part of one"},
    {"version: 1\nfilesystem:\n  deny:\n    - /ok\n    - \"[abc\"\n", EINVAL,
     "5: filesystem.deny[1]: bad glob '[abc': unclosed '[' (a set is [abc] or [a-z], "
     "within one path component)"},
    {"version: 1\nfilesystem:\n  deny: [/a/../b]\n", EINVAL,
     "3: filesystem.deny[0]: bad glob '/a/../b': '.' and '..' components are not allowed "
     "(write the path without them)"},
    {"version: 1\nfilesystem:\n  deny: [\"\"]\n", EINVAL,
     "3: filesystem.deny[0]: bad glob '': empty pattern"},
    {"version: 1\nexec:\n  deny: [\"/usr/bin/**x\"]\n", EINVAL,
     "3: exec.deny[0]: bad glob '/usr/bin/**x': '**' must be a whole path component (like "
     "a/**/b), not part of one"},
    {"version: 1\nfilesystem:\n  read: [usr]\n", EINVAL,
     "3: filesystem.read[0]: bad path 'usr': must be absolute (/usr) or start with ~/"},
    {"version: 1\nfilesystem:\n  write: [\"/opt/*\"]\n", EINVAL,
     "3: filesystem.write[0]: bad path '/opt/*': wildcards are not allowed here (list the "
     "directory)"},
    {"version: 1\nfilesystem:\n  protect: [/etc]\n", EINVAL,
     "3: filesystem.protect[0]: bad glob '/etc': must be relative to the workspace (like "
     ".git/hooks)"},
    {"version: 1\nname: \"a\\0b\"\n", EINVAL, "2: name: contains a NUL byte"},
    {"version: 1\nfilesystem: {deny: [\"a\\0b\"]}\n", EINVAL,
     "2: filesystem.deny[0]: contains a NUL byte"},
    /* unknown keys */
    {"version: 1\nfilesystem:\n  raed: []\n", EINVAL,
     "3: filesystem.raed: unknown key (expected one of: workspace, workspace_mode, read, "
     "write, deny, protect, cache, secrets)"},
    {"version: 1\nlimit: {}\n", EINVAL,
     "2: limit: unknown key (expected one of: version, name, extends, agent, filesystem, "
     "network, exec, env, limits, syscalls, rules, canaries, isolation, risk, approvals, audit, "
     "credentials, identity, environment, "
     "pool)"},
    {"version: 1\nlimits:\n  memory: 1GiB\n  swap: 0\n", EINVAL,
     "4: limits.swap: unknown key (expected one of: memory, pids, cpus, wall_time, "
     "open_files, tmp_size, workspace_size, trail_size, trail_rate)"},
    /* the warm pool's size is bounded */
    {"version: 1\npool: 65\n", EINVAL, "2: pool: 65 is more than 64"},
    {"version: 1\npool: -1\n", EINVAL, "2: pool: bad number '-1' (use a whole number, e.g. 1024)"},
    /* the trail's bounds have floors */
    {"version: 1\nlimits:\n  trail_size: 512KiB\n", EINVAL,
     "3: limits.trail_size: must be at least 1MiB"},
    {"version: 1\nlimits:\n  trail_rate: 1KiB\n", EINVAL,
     "3: limits.trail_rate: must be at least 64KiB"},
    /* wrong types */
    {"version: 1\nfilesystem:\n  read: /usr\n", EINVAL,
     "3: filesystem.read: expected a list, got a single value '/usr' (write [/usr])"},
    {"version: 1\nfilesystem:\n  deny: {a: b}\n", EINVAL,
     "3: filesystem.deny: expected a list, got a mapping"},
    {"version: 1\nfilesystem:\n  deny: [[a]]\n", EINVAL,
     "3: filesystem.deny[0]: expected a single value, got a list"},
    {"version: 1\nlimits:\n  memory: [1GiB]\n", EINVAL,
     "3: limits.memory: expected a single value, got a list"},
    {"version: 1\nlimits: 4GiB\n", EINVAL,
     "2: limits: expected a mapping of keys, got a single value"},
    {"version: 1\nenv:\n  set: [A=1]\n", EINVAL,
     "3: env.set: expected a mapping (NAME: value), got a list"},
    {"version: 1\nnetwork:\n  hosts: {a.test: [1]}\n", EINVAL,
     "3: network.hosts.a.test: expected a single value, got a list"},
    {"version: 1\nfilesystem:\n  deny:\n", EINVAL,
     "3: filesystem.deny: no value (write [] for an empty list)"},
    {"version: 1\nlimits:\n  memory:\n", EINVAL, "3: limits.memory: no value"},
    {"version: 1\nfilesystem:\n  workspace: ~\n", EINVAL,
     "3: filesystem.workspace: no value ('~' alone is YAML for nothing; quote it, \"~\", to "
     "mean your home directory)"},
    {"version: 1\nenv:\n  set: {A: }\n", EINVAL, "3: env.set.A: no value"},
    /* enums and names */
    {"version: 1\nfilesystem: {workspace_mode: weird}\n", EINVAL,
     "2: filesystem.workspace_mode: unknown value 'weird' (expected one of: direct, "
     "readonly, overlay)"},
    {"version: 1\nnetwork: {mode: all}\n", EINVAL,
     "2: network.mode: unknown value 'all' (expected one of: none, proxy, host)"},
    {"version: 1\nsyscalls: {profile: strict}\n", EINVAL,
     "2: syscalls.profile: unknown value 'strict' (expected one of: default)"},
    {"version: 1\napprovals: {default: maybe}\n", EINVAL,
     "2: approvals.default: unknown value 'maybe' (expected one of: deny, allow)"},
    {"version: 1\nsyscalls:\n  deny: [ptrace, \"Bad-Name\"]\n", EINVAL,
     "3: syscalls.deny[1]: bad syscall name 'Bad-Name': a syscall name has only a-z, 0-9 "
     "and '_'"},
    {"version: 1\nenv: {keep: [\"*\"]}\n", EINVAL,
     "2: env.keep[0]: bad variable name '*': '*' alone would keep every variable, secrets "
     "included; name them or use a prefix like LC_*"},
    {"version: 1\nenv: {keep: [\"1X\"]}\n", EINVAL,
     "2: env.keep[0]: bad variable name '1X': a variable name starts with a letter or '_'"},
    {"version: 1\nenv: {set: {\"A-B\": x}}\n", EINVAL,
     "2: env.set: bad name 'A-B': a variable name has only letters, digits and '_'"},
    {"version: 1\nname: \"\"\n", EINVAL, "2: name: bad name '': must not be empty"},
    {"version: 1\nagent: \"a\\nb\"\n", EINVAL,
     "2: agent: bad agent 'a\nb': control characters are not allowed"},
    /* duplicates */
    {"version: 1\nlimits:\n  memory: 1GiB\n  pids: 3\n  memory: 2GiB\n", EINVAL,
     "5: limits.memory: duplicate key (first at line 3)"},
    {"version: 1\nlimits: {}\nlimits: {}\n", EINVAL, "3: limits: duplicate key (first at line 2)"},
    {"version: 1\nenv:\n  set:\n    A: x\n    A: y\n", EINVAL, "5: env.set.A: duplicate key"},
    /* version */
    {"name: x\n", EINVAL, "1: version: missing (a policy starts with 'version: 1')"},
    {"version: 2\n", EINVAL, "1: version: unsupported version '2' (this reins reads version 1)"},
    {"# only a comment\n", EINVAL, "1: policy is empty (a policy starts with 'version: 1')"},
    {"", EINVAL, "1: policy is empty (a policy starts with 'version: 1')"},
    /* YAML itself */
    {"version: 1\nlimits: [\n", EINVAL,
     "3: YAML syntax error: did not find expected node content (while parsing a flow node "
     "at line 3)"},
    {"version: 1\nname: x\n  bad: indent\n", EINVAL,
     "3: YAML syntax error: mapping values are not allowed in this context"},
    {"version: 1\n\tname: x\n", EINVAL,
     "2: YAML syntax error: found a tab character that violates indentation (while "
     "scanning a plain scalar at line 1)"},
    {"version: 1\n---\nversion: 1\n", EINVAL,
     "3: only one YAML document is allowed (found '---' starting another)"},
    {"- version: 1\n", EINVAL,
     "1: policy must be a mapping of keys (version: 1, filesystem: ...), got a list"},
    {"version: 1\n[a]: b\n", EINVAL, "2: (key): expected a single value, got a list"},
    /* credentials (issue 18) */
    {"version: 1\ncredentials:\n  - name: a\n    source: {env: K}\n    hosts: [x.com]\n", EINVAL,
     "3: credentials[0].env: missing (a credential has a source and an env, or a file and a "
     "pattern or json)"},
    {"version: 1\ncredentials:\n  - name: a\n    file: ~/.npmrc\n    hosts: [x.com]\n", EINVAL,
     "3: credentials[0]: a file credential has a pattern or a json pointer"},
    {"version: 1\ncredentials:\n  - pattern: 'a+'\n", EINVAL,
     "3: credentials[0].pattern: bad pattern 'a+': needs a group, (...), around the secret"},
    {"version: 1\ncredentials:\n  - json: auths\n", EINVAL,
     "3: credentials[0].json: bad JSON Pointer 'auths': a JSON Pointer (RFC 6901) starts with "
     "'/': /auths/host/auth"},
    {"version: 1\ncredentials:\n  - name: a b\n", EINVAL,
     "3: credentials[0].name: bad name 'a b': a credential name has only letters, digits, '_' "
     "and '-' (it is part of the placeholder)"},
    {"version: 1\ncredentials:\n  - source: {vault: x}\n", EINVAL,
     "3: credentials[0].source.vault: unknown source (expected one of: env, file, command)"},
    {"version: 1\ncredentials:\n  - how: header Content-Length\n", EINVAL,
     "3: credentials[0].how: bad how 'header Content-Length': that header frames the request: "
     "it cannot carry a secret"},
    {"version: 1\ncredentials:\n  - hosts: [\"x.com/a?b\"]\n", EINVAL,
     "3: credentials[0].hosts[0]: bad host 'x.com/a?b': blanks, control characters, '?', '#' and "
     "'=' are not allowed (write host[:port][/path-prefix])"},
    {"version: 1\ncredentials:\n  - name: a\n    source: {env: K}\n    hosts: [x.com]\n"
     "    env: A\n  - name: a\n    source: {env: K}\n    hosts: [x.com]\n    env: B\n",
     EINVAL, "7: credentials[1].name: duplicate credential 'a'"},
    {"version: 1\ncredentials:\n  - name: a\n    colour: red\n", EINVAL,
     "4: credentials[0].colour: unknown key (expected one of: name, source, hosts, how, env, "
     "plaintext, file, pattern, json)"},
    /* extends */
    {"version: 1\nextends: nope\n", EINVAL,
     "2: extends: unknown preset 'nope' (presets: default, offline, readonly; a file needs "
     "a '/' or a .yaml name)"},
};

static void test_error_messages(void **state)
{
        (void)state;
        for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
                const struct error_case *c = &error_cases[i];
                char *path = temp_policy(c->yaml);
                struct reins_error err = {0};
                struct reins_policy *p = NULL;
                int r = policy_load(path, &p, &err);
                char expected[2048];
                snprintf(expected, sizeof(expected), "%s:%s", path, c->message);
                if (r != -c->code || strcmp(err.message, expected) != 0)
                        fail_msg("case %zu: got r=%d '%s'\n  expected r=%d '%s'", i, r, err.message,
                                 -c->code, expected);
                assert_int_equal(err.code, c->code);
                assert_null(p);
                unlink(path);
                free(path);

                /* the same text through policy_load_text names its origin */
                r = policy_load_text(c->yaml, "inline", &p, &err);
                snprintf(expected, sizeof(expected), "inline:%s", c->message);
                if (r != -c->code || strcmp(err.message, expected) != 0)
                        fail_msg("case %zu (text): got '%s'", i, err.message);
                assert_null(p);
        }
}

static void test_file_errors(void **state)
{
        (void)state;
        struct reins_error err = {0};
        struct reins_policy *p = NULL;
        char *dir = temp_dir();

        char *missing = join(dir, "pol.yaml");
        assert_int_equal(policy_load(missing, &p, &err), -ENOENT);
        char expected[1024];
        snprintf(expected, sizeof(expected), "%s: cannot read policy: No such file or directory",
                 missing);
        assert_string_equal(err.message, expected);
        assert_null(p);

        /* a directory cannot be read as a policy */
        assert_int_equal(policy_load(dir, &p, &err), -EISDIR);
        snprintf(expected, sizeof(expected), "%s: cannot read policy: Is a directory", dir);
        assert_string_equal(err.message, expected);

        /* unreadable (root reads anything, so only checked for other users) */
        write_file(missing, "version: 1\n");
        if (geteuid() != 0) {
                assert_int_equal(chmod(missing, 0), 0);
                assert_int_equal(policy_load(missing, &p, &err), -EACCES);
                snprintf(expected, sizeof(expected), "%s: cannot read policy: Permission denied",
                         missing);
                assert_string_equal(err.message, expected);
        }

        /* too large */
        char *big = join(dir, "big.yaml");
        FILE *f = fopen(big, "w");
        assert_non_null(f);
        fputs("version: 1\n", f);
        for (int i = 0; i < 110000; i++)
                fputs("# padding\n", f);
        fclose(f);
        assert_int_equal(policy_load(big, &p, &err), -EFBIG);
        snprintf(expected, sizeof(expected), "%s: cannot read policy: larger than 1 MiB", big);
        assert_string_equal(err.message, expected);

        free(big);
        free(missing);
        remove_tree(dir);
        free(dir);
}

static void test_extends_errors(void **state)
{
        (void)state;
        char *dir = temp_dir();
        char *a = join(dir, "a.yaml"), *b = join(dir, "b.yaml"), *c = join(dir, "c.yaml");
        struct reins_error err = {0};
        struct reins_policy *p = NULL;
        char expected[2048];

        /* a cycle through three files */
        write_file(a, "version: 1\nextends: b.yaml\n");
        write_file(b, "version: 1\n\nextends: ./c.yaml\n");
        write_file(c, "version: 1\nextends: a.yaml\n");
        assert_int_equal(policy_load(a, &p, &err), -ELOOP);
        snprintf(expected, sizeof(expected),
                 "%s/c.yaml:2: extends: cycle: %s -> %s/b.yaml -> %s/c.yaml -> %s/a.yaml", dir, a,
                 dir, dir, dir);
        assert_string_equal(err.message, expected);
        assert_null(p);

        /* a file extending itself */
        write_file(a, "version: 1\nextends: a.yaml\n");
        assert_int_equal(policy_load(a, &p, &err), -ELOOP);
        snprintf(expected, sizeof(expected), "%s:2: extends: cycle: %s -> %s/a.yaml", a, a, dir);
        assert_string_equal(err.message, expected);

        /* the extended file is missing */
        write_file(a, "version: 1\nname: x\nextends: gone.yaml\n");
        assert_int_equal(policy_load(a, &p, &err), -ENOENT);
        snprintf(expected, sizeof(expected),
                 "%s:3: extends: cannot read policy '%s/gone.yaml': No such file or directory", a,
                 dir);
        assert_string_equal(err.message, expected);

        /* an error in the extended file names that file and its line */
        write_file(a, "version: 1\nextends: b.yaml\n");
        write_file(b, "version: 1\nlimits:\n  pids: many\n");
        assert_int_equal(policy_load(a, &p, &err), -EINVAL);
        snprintf(expected, sizeof(expected),
                 "%s/b.yaml:3: limits.pids: bad number 'many' (use a whole number, e.g. 1024)",
                 dir);
        assert_string_equal(err.message, expected);

        /* too deep */
        for (int i = 0; i < 12; i++) {
                char name[32], text[64];
                snprintf(name, sizeof(name), "d%d.yaml", i);
                snprintf(text, sizeof(text), "version: 1\nextends: d%d.yaml\n", i + 1);
                char *path = join(dir, name);
                write_file(path, text);
                free(path);
        }
        char *d0 = join(dir, "d0.yaml");
        assert_int_equal(policy_load(d0, &p, &err), -ELOOP);
        assert_non_null(strstr(err.message, "extends: more than 8 levels of extends"));
        free(d0);

        free(a);
        free(b);
        free(c);
        remove_tree(dir);
        free(dir);
}

/* ---- features this version refuses ---- */

static void test_check_supported(void **state)
{
        (void)state;
        static const struct {
                const char *yaml;
                const char *message; /* after "inline:" */
        } cases[] = {
            {"version: 1\nexec:\n  deny: [/usr/bin/curl]\n",
             "3: exec.deny: denying executables is not supported yet in this version of "
             "reins"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct reins_policy *p = load_text_ok(cases[i].yaml, "inline");
                struct reins_error err = {0};
                char expected[1024];
                snprintf(expected, sizeof(expected), "inline:%s", cases[i].message);
                int r = policy_check_supported(p, &err);
                if (r != -EOPNOTSUPP || strcmp(err.message, expected) != 0)
                        fail_msg("case %zu: got r=%d '%s'", i, r, err.message);
                policy_free(p);
        }

        /* the egress proxy's keys are supported (the plan checks them against
         * the command line: mode host needs --net host) */
        struct reins_policy *net = load_text_ok(
            "version: 1\nnetwork: {mode: proxy, allow: [a.test], deny: [b.test], hosts: "
            "{a.test: 127.0.0.1}, egress_budget: 1MiB}\n",
            "inline");
        struct reins_error net_err = {0};
        assert_int_equal(policy_check_supported(net, &net_err), 0);
        policy_free(net);

        /* asking a human is supported: an ask list and the approvals section */
        net = load_text_ok("version: 1\nnetwork:\n  mode: proxy\n  ask: [x.test:22]\n"
                           "approvals: {timeout: 30s, default: deny, unknown: ask}\n",
                           "inline");
        assert_int_equal(policy_check_supported(net, &net_err), 0);
        assert_int_equal(net->approvals.unknown, POLICY_UNKNOWN_ASK);
        assert_int_equal(net->approvals.timeout_ms, 30000);
        policy_free(net);

        /* empty lists, mode none, a zero budget and the other modes are fine */
        struct reins_policy *p = load_text_ok(
            "version: 1\nnetwork: {mode: none, allow: [], deny: [], ask: [], hosts: {}, "
            "egress_budget: 0}\nexec: {deny: []}\nfilesystem: {workspace_mode: readonly}\n",
            "inline");
        struct reins_error err = {0};
        assert_int_equal(policy_check_supported(p, &err), 0);
        policy_free(p);

        /* refused in a parent: the parent's file and line are named */
        char *dir = temp_dir();
        char *base = join(dir, "base.yaml"), *child = join(dir, "child.yaml");
        write_file(base, "version: 1\nnetwork:\n  mode: none\nexec:\n  deny: [/bin/nc]\n");
        write_file(child, "version: 1\nextends: base.yaml\nexec:\n  deny: [/bin/nc2]\n");
        p = load_ok(child);
        assert_int_equal(policy_check_supported(p, &err), -EOPNOTSUPP);
        char expected[1024];
        snprintf(expected, sizeof(expected),
                 "%s/base.yaml:5: exec.deny: denying executables is not supported yet in "
                 "this version of reins",
                 dir);
        assert_string_equal(err.message, expected);
        policy_free(p);

        free(base);
        free(child);
        remove_tree(dir);
        free(dir);

        /* a policy built by hand has no origins: the key is still named */
        struct reins_policy *hand = calloc(1, sizeof(*hand));
        assert_non_null(hand);
        assert_int_equal(strv_push(&hand->exec.deny, "/bin/nc"), 0);
        assert_int_equal(policy_check_supported(hand, &err), -EOPNOTSUPP);
        assert_string_equal(err.message,
                            "exec.deny: denying executables is not supported yet in this version "
                            "of reins");
        policy_free(hand);
}

/* ---- normalized YAML and hash ---- */

static void test_yaml_deterministic(void **state)
{
        (void)state;
        /* the same policy written two ways */
        struct reins_policy *a = load_text_ok("version: 1\n"
                                              "name: same\n"
                                              "limits: {memory: 4096MiB, cpus: 1500m, "
                                              "wall_time: 90m, tmp_size: 1073741824}\n"
                                              "filesystem:\n"
                                              "  deny: [\"**/.env\", ~/.ssh/]\n"
                                              "env: {keep: [PATH, PATH, HOME]}\n",
                                              "a");
        struct reins_policy *b = load_text_ok("env:\n"
                                              "  keep:\n"
                                              "    - PATH\n"
                                              "    - HOME\n"
                                              "filesystem:\n"
                                              "  deny:\n"
                                              "    - '**/.env'\n"
                                              "    - \"~/.ssh\"\n"
                                              "limits:\n"
                                              "  tmp_size: 1GiB\n"
                                              "  wall_time: 1h30m\n"
                                              "  cpus: 1.5\n"
                                              "  memory: 4 GiB\n"
                                              "name: same\n"
                                              "version: 1\n",
                                              "b");
        char *ya = yaml_of(a), *yb = yaml_of(b);
        assert_string_equal(ya, yb);
        assert_non_null(strstr(ya, "  memory: 4GiB\n"));
        assert_non_null(strstr(ya, "  cpus: 1.5\n"));
        assert_non_null(strstr(ya, "  wall_time: 1h30m\n"));
        assert_non_null(strstr(ya, "  tmp_size: 1GiB\n"));
        assert_non_null(strstr(ya, "    - ~/.ssh\n"));
        assert_true(strncmp(ya, "version: 1\nname: same\n", 22) == 0);

        char ha[65], hb[65];
        assert_int_equal(policy_sha256_hex(a, ha), 0);
        assert_int_equal(policy_sha256_hex(b, hb), 0);
        assert_string_equal(ha, hb);
        assert_int_equal(strlen(ha), 64);
        assert_int_equal(strspn(ha, "0123456789abcdef"), 64);

        /* any change of meaning changes the hash */
        struct reins_policy *c = load_text_ok("version: 1\nname: same\n"
                                              "limits: {memory: 4GiB, cpus: 1.5, wall_time: "
                                              "90m, tmp_size: 1GiB, pids: 1}\n"
                                              "filesystem: {deny: [\"**/.env\", ~/.ssh]}\n"
                                              "env: {keep: [PATH, HOME]}\n",
                                              "c");
        char hc[65];
        assert_int_equal(policy_sha256_hex(c, hc), 0);
        assert_string_not_equal(ha, hc);

        /* canonical scalar style: plain where unambiguous, quoted otherwise */
        struct reins_policy *d = load_ok("default");
        char *yd = yaml_of(d);
        assert_non_null(strstr(yd, "  read:\n    - /usr\n    - /bin\n"));
        assert_non_null(strstr(yd, "    - /etc/ssh/ssh_host_*_key\n    - \"**/.env\"\n"));
        assert_non_null(strstr(yd, "  protect: []\n"));
        free(yd);
        policy_free(d);

        free(ya);
        free(yb);
        policy_free(a);
        policy_free(b);
        policy_free(c);
}

static void test_yaml_known_hash_input(void **state)
{
        (void)state;
        /* the minimal policy's normalized text, spelled out: a format change
         * here changes every recorded policy hash, so it must be deliberate */
        struct reins_policy *p = load_text_ok("version: 1\n", "minimal");
        char *yaml = yaml_of(p);
        assert_string_equal(yaml, "version: 1\n"
                                  "filesystem:\n"
                                  "  workspace: .\n"
                                  "  workspace_mode: direct\n"
                                  "  read: []\n"
                                  "  write: []\n"
                                  "  deny: []\n"
                                  "  protect: []\n"
                                  "  secrets: []\n"
                                  "network:\n"
                                  "  mode: none\n"
                                  "  allow: []\n"
                                  "  deny: []\n"
                                  "  ask: []\n"
                                  "  hosts: {}\n"
                                  "  egress_budget: 0\n"
                                  "exec:\n"
                                  "  deny: []\n"
                                  "env:\n"
                                  "  keep: []\n"
                                  "  set: {}\n"
                                  "limits:\n"
                                  "  memory: 0\n"
                                  "  pids: 0\n"
                                  "  cpus: 0\n"
                                  "  wall_time: 0\n"
                                  "  open_files: 0\n"
                                  "  tmp_size: 0\n"
                                  "  workspace_size: 0\n"
                                  "syscalls:\n"
                                  "  profile: default\n"
                                  "  allow: []\n"
                                  "  deny: []\n"
                                  "canaries: false\n"
                                  "rules:\n"
                                  "  disable: []\n"
                                  "  severity: {}\n"
                                  "  weight: {}\n"
                                  "  threshold: {}\n"
                                  "  window: {}\n"
                                  "  action: {}\n"
                                  "risk:\n"
                                  "  engine: on\n"
                                  "  half_life: 10m\n"
                                  "  tier1: 20\n"
                                  "  tier2: 50\n"
                                  "  tier3: 100\n");
        /* sha256 of that text, computed independently (sha256sum) */
        char hash[65];
        assert_int_equal(policy_sha256_hex(p, hash), 0);
        FILE *f = popen(
            "printf 'version: 1\\nfilesystem:\\n  workspace: .\\n  workspace_mode: "
            "direct\\n  read: []\\n  write: []\\n  deny: []\\n  protect: "
            "[]\\n  secrets: []\\nnetwork:\\n  mode: none\\n  allow: []\\n  deny: []\\n  ask: "
            "[]\\n  hosts: {}\\n  egress_budget: 0\\nexec:\\n  deny: []\\nenv:\\n  "
            "keep: []\\n  set: {}\\nlimits:\\n  memory: 0\\n  pids: 0\\n  cpus: "
            "0\\n  wall_time: 0\\n  open_files: 0\\n  tmp_size: 0\\n  workspace_size: "
            "0\\nsyscalls:\\n  "
            "profile: default\\n  allow: []\\n  deny: []\\ncanaries: false\\nrules:\\n  disable: "
            "[]\\n  severity: {}\\n  weight: {}\\n  threshold: {}\\n  window: "
            "{}\\n  action: {}\\nrisk:\\n  engine: on\\n  half_life: 10m\\n  tier1: 20\\n  tier2: "
            "50\\n  "
            "tier3: 100\\n' | sha256sum",
            "r");
        assert_non_null(f);
        char line[128] = "";
        assert_non_null(fgets(line, sizeof(line), f));
        pclose(f);
        line[64] = '\0';
        assert_string_equal(hash, line);
        free(yaml);
        policy_free(p);
}

static void assert_round_trip(const struct reins_policy *p)
{
        char *first = yaml_of(p);
        struct reins_error err = {0};
        struct reins_policy *again = NULL;
        if (policy_load_text(first, "round-trip", &again, &err) != 0)
                fail_msg("normalized YAML does not load: %s\n%s", err.message, first);
        char *second = yaml_of(again);
        assert_string_equal(first, second);
        char h1[65], h2[65];
        assert_int_equal(policy_sha256_hex(p, h1), 0);
        assert_int_equal(policy_sha256_hex(again, h2), 0);
        assert_string_equal(h1, h2);
        free(first);
        free(second);
        policy_free(again);
}

static void test_yaml_round_trip(void **state)
{
        (void)state;
        for (const char *const *name = policy_preset_names(); *name; name++) {
                struct reins_policy *p = load_ok(*name);
                assert_round_trip(p);
                policy_free(p);
        }
        /* every key, and strings that need quoting */
        struct reins_policy *p = load_text_ok(
            "version: 1\n"
            "name: \"yes\"\n"
            "agent: \"claude code: v2 # \\\"quoted\\\"\"\n"
            "extends: readonly\n"
            "filesystem:\n"
            "  workspace: \"~\"\n"
            "  workspace_mode: overlay\n"
            "  read: [\"/srv/with space\", ~/.gitconfig, \"/x/\\u00e9t\\u00e9\"]\n"
            "  write: [/tmp, \"/null\", \"/1.5\"]\n"
            "  deny: [\"*.key\", \"[ab]*\", \"?x\", \"/a/b:\", \"-x\", \"#c\", \"\\\\\"]\n"
            "  protect: [\"**/secret\", .envrc]\n"
            "network:\n"
            "  mode: proxy\n"
            "  allow: [\"api.example.com:443\", \"*.github.com:443\"]\n"
            "  deny: [\"*.pastebin.com\"]\n"
            "  ask: [\"x.test:22\"]\n"
            "  hosts: {a.test: 127.0.0.1, \"true\": \"::1\"}\n"
            "  egress_budget: 100MiB\n"
            "exec:\n"
            "  deny: [/usr/bin/nc]\n"
            "env:\n"
            "  keep: [LC_*, ON]\n"
            "  set: {GREETING: \"hello, world\\n\\ttab \\x01\", EMPTY: \"\", N: \"42\", "
            "Y: \"off\"}\n"
            "limits: {memory: 1536MiB, pids: 7, cpus: 0.125, wall_time: 1d1ms, "
            "open_files: 1, tmp_size: 1000000kB}\n"
            "syscalls: {profile: default, allow: [ptrace], deny: [mount, io_uring_setup]}\n"
            "approvals: {timeout: 2m, default: allow}\n",
            "all-keys");
        assert_true(p->approvals.present);
        assert_true(p->approvals.timeout_ms == 120000);
        assert_int_equal(p->approvals.default_decision, POLICY_APPROVAL_ALLOW);
        static const char *const hosts[] = {"a.test=127.0.0.1", "true=::1", NULL};
        assert_strv(&p->network.hosts, hosts);
        assert_string_equal(p->env.set.items[0], "GREETING=hello, world\n\ttab \x01");
        assert_int_equal(p->filesystem.workspace_mode, POLICY_WORKSPACE_OVERLAY);
        assert_round_trip(p);
        char *yaml = yaml_of(p);
        assert_non_null(strstr(yaml, "  memory: 1536MiB\n"));
        assert_non_null(strstr(yaml, "  cpus: 0.125\n"));
        assert_non_null(strstr(yaml, "  wall_time: 1d1ms\n"));
        assert_non_null(strstr(yaml, "  tmp_size: 1000000000\n"));
        assert_non_null(strstr(yaml, "approvals:\n  timeout: 2m\n  default: allow\n"));
        assert_null(strstr(yaml, "extends"));
        free(yaml);
        policy_free(p);

        /* approvals present with no values: defaults are filled in */
        p = load_text_ok("version: 1\napprovals: {}\n", "approvals");
        assert_true(p->approvals.present);
        assert_true(p->approvals.timeout_ms == 120000);
        assert_int_equal(p->approvals.default_decision, POLICY_APPROVAL_DENY);
        assert_round_trip(p);
        policy_free(p);
}

/* credentials: normalized (host lower-cased), merged by name along
 * extends, and only in the YAML (and so the hash) of policies that have some. */
static void test_credentials(void **state)
{
        (void)state;
        char *dir = temp_dir();
        char *parent = join(dir, "parent.yaml");
        char *child = join(dir, "child.yaml");
        write_file(parent, "version: 1\ncredentials:\n  - name: api\n    source: {env: K}\n"
                           "    hosts: [API.Example.com/v1]\n    how: query key\n    env: API\n"
                           "  - name: other\n    source: {file: ~/tok}\n    hosts: [o.com]\n"
                           "    env: OTHER\n");
        write_file(child, "version: 1\nextends: parent.yaml\ncredentials:\n  - name: api\n"
                          "    source: {command: [/bin/true]}\n    hosts: [b.com:8443]\n"
                          "    how: basic\n    env: API2\n    plaintext: true\n");
        struct reins_error err = {0};
        struct reins_policy *p = NULL;
        assert_int_equal(policy_load(parent, &p, &err), 0);
        assert_int_equal(p->credentials.count, 2);
        assert_string_equal(p->credentials.items[0].hosts.items[0], "api.example.com/v1");
        assert_int_equal(p->credentials.items[0].how, POLICY_CREDENTIAL_QUERY);
        assert_string_equal(p->credentials.items[0].how_name, "key");
        char *yaml = policy_to_yaml(p);
        assert_non_null(strstr(yaml, "how: \"query key\"\n"));
        free(yaml);
        policy_free(p);
        assert_int_equal(policy_load(child, &p, &err), 0);
        assert_int_equal(p->credentials.count, 2);
        const struct policy_credential *c = &p->credentials.items[0];
        assert_string_equal(c->name, "api");
        assert_int_equal(c->source_kind, POLICY_CREDENTIAL_COMMAND);
        assert_string_equal(c->command.items[0], "/bin/true");
        assert_int_equal(c->how, POLICY_CREDENTIAL_BASIC);
        assert_true(c->plaintext);
        assert_string_equal(c->env, "API2");
        policy_free(p);
        /* a policy without credentials does not name the key */
        assert_int_equal(policy_load_text("version: 1\n", "inline", &p, &err), 0);
        yaml = policy_to_yaml(p);
        assert_null(strstr(yaml, "credentials"));
        free(yaml);
        policy_free(p);
        unlink(parent);
        unlink(child);
        rmdir(dir);
        free(parent);
        free(child);
        free(dir);
}

static void test_free_null(void **state)
{
        (void)state;
        policy_free(NULL);
        assert_null(policy_to_yaml(NULL));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_presets_load),
            cmocka_unit_test(test_preset_default_contents),
            cmocka_unit_test(test_preset_offline_and_readonly),
            cmocka_unit_test(test_extends_merge),
            cmocka_unit_test(test_load_spec_resolution),
            cmocka_unit_test(test_error_messages),
            cmocka_unit_test(test_credentials),
            cmocka_unit_test(test_file_errors),
            cmocka_unit_test(test_extends_errors),
            cmocka_unit_test(test_check_supported),
            cmocka_unit_test(test_yaml_deterministic),
            cmocka_unit_test(test_yaml_known_hash_input),
            cmocka_unit_test(test_yaml_round_trip),
            cmocka_unit_test(test_free_null),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

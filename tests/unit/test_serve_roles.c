/* The daemon's roles: the configuration file's schema (every error names
 * the line and the key) and the role table of serve/roles.h, right by right. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "serve/config.h"
#include "serve/roles.h"

#define DAEMON_UID 4242

static void parse_ok(const char *text, struct serve_config *config)
{
        struct reins_error err = {0};
        int r = serve_config_parse(text, strlen(text), "serve.yaml", config, &err);
        if (r != 0)
                fail_msg("refused: %s", err.message);
}

static void test_config_reads_users_and_roles(void **state)
{
        (void)state;
        struct serve_config c;
        parse_ok("version: 1\n"
                 "users:\n"
                 "  root: {role: admin}\n"
                 "  1001:\n"
                 "    role: operator\n"
                 "    policies: [default, ./team.yaml]\n"
                 "  1002: {role: auditor}\n",
                 &c);
        assert_int_equal(c.count, 3);
        assert_int_equal(c.grants[0].uid, 0);
        assert_int_equal(c.grants[0].role, SERVE_ROLE_ADMIN);
        assert_int_equal(c.grants[1].uid, 1001);
        assert_int_equal(c.grants[1].role, SERVE_ROLE_OPERATOR);
        assert_int_equal(c.grants[1].policies.count, 2);
        assert_string_equal(c.grants[1].policies.items[1], "./team.yaml");
        assert_int_equal(c.grants[2].role, SERVE_ROLE_AUDITOR);
        serve_config_free(&c);
}

static void test_config_errors_name_line_and_key(void **state)
{
        (void)state;
        static const struct {
                const char *text;
                const char *want;
        } cases[] = {
            {"version: 1\nusers:\n  1001: {role: admin, colour: red}\n",
             "serve.yaml:3: users.1001.colour: unknown key"},
            {"version: 1\nusers:\n  1001:\n    role: operator\n",
             "serve.yaml:4: users.1001: an operator needs the policies"},
            {"version: 1\nusers:\n  1001: {role: auditor, policies: [default]}\n",
             "serve.yaml:3: users.1001: only an operator's or an approver's role takes policies"},
            {"version: 1\nusers:\n  1001: {role: root}\n", "serve.yaml:3: users.1001.role:"},
            {"version: 1\nusers:\n  1001: {role: admin}\n  1001: {role: auditor}\n",
             "serve.yaml:4: users.1001: this user is listed twice"},
            {"version: 1\nusers:\n  no-such-user-of-reins: {role: admin}\n",
             "serve.yaml:3: users.no-such-user-of-reins: no such user"},
            {"version: 1\nusers:\n  99999999999: {role: admin}\n", "not a valid uid"},
            {"users: {}\n", "serve.yaml:1: version: missing"},
            {"version: 1\nroles: {}\n", "serve.yaml:2: roles: unknown key"},
            {"version: 1\npool:\n  - {policy: p.yaml, workspace: /w}\n",
             "serve.yaml:3: pool[0]: policy and workspace must be absolute paths"},
            {"version: 1\npool:\n  - {policy: /p.yaml}\n",
             "serve.yaml:3: pool[0].workspace: missing"},
            {"version: 1\npool:\n  - {policy: /p.yaml, workspace: /w, size: 2}\n",
             "serve.yaml:3: pool[0].size: unknown key (policy, workspace)"},
            {"version: 1\nusers: [a]\n", "serve.yaml:2: users: expected a mapping"},
            {"version: [1\n", "YAML syntax error"},
            {"version: 1\nusers: {}\nusers: {}\n", "serve.yaml:3: users: given twice"},
            {"version: 1\nusers:\n  1001: {role: admin, role: auditor}\n",
             "serve.yaml:3: users.1001.role: given twice"},
            /* the targets, read by the same table-driven reader */
            {"version: 1\nforward:\n  - {name: a, type: syslog-tcp, address: 'h:1', batch: 0}\n",
             "serve.yaml:3: forward[0].batch: expected a number from 1 to 1000"},
            {"version: 1\nforward:\n  - {name: a, name: b}\n",
             "serve.yaml:3: forward[0].name: given twice"},
            {"version: 1\nnotify:\n  - {name: a, type: command, command: [/bin/true], on: [tier]}\n"
             "  - {name: b, colour: red}\n",
             "serve.yaml:4: notify[1].colour: unknown key (name, type, url, secret, ca, "
             "server_name,"},
            {"version: 1\nnotify:\n  - {name: a, attempts: -1}\n",
             "serve.yaml:3: notify[0].attempts: expected a number from 1 to 100"},
            {"version: 1\nnotify: []\nnotify: []\n", "serve.yaml:3: notify: given twice"},
            {"version: 1\nagents:\n  codex: dev\n",
             "serve.yaml:3: agents.codex: expected a list of policy names or paths"},
            {"version: 1\nagents: [codex]\n", "serve.yaml:2: agents: expected a mapping"},
            {"version: 1\nagents:\n  codex: [dev]\n  codex: [ci]\n",
             "serve.yaml:4: agents.codex: this agent is listed twice"},
            {"version: 1\nagents:\n  \"a\\tb\": [dev]\n", "serve.yaml:3: agents.a\tb: control"},
            {"version: 1\nagents:\n  codex: [dev, \"\"]\n",
             "serve.yaml:3: agents.codex: expected a policy name or path"},
            {"version: 1\nagents: {}\nagents: {}\n", "serve.yaml:3: agents: given twice"},
            {"version: 1\nusers:\n  1001: {role: auditor, agents: [codex]}\n",
             "serve.yaml:3: users.1001: only an operator's or an approver's role takes agents"},
            {"version: 1\nusers:\n  1001: {role: approver, agents: codex}\n",
             "serve.yaml:3: users.1001.agents: expected a list of agent names"},
            {"version: 1\nusers:\n  1001: {role: approver, agents: [codex], agents: [x]}\n",
             "serve.yaml:3: users.1001.agents: given twice"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct serve_config c;
                struct reins_error err = {0};
                int r = serve_config_parse(cases[i].text, strlen(cases[i].text), "serve.yaml", &c,
                                           &err);
                if (r != -EINVAL || !strstr(err.message, cases[i].want))
                        fail_msg("case %zu: r=%d, message '%s', want '%s'", i, r, err.message,
                                 cases[i].want);
        }
}

static struct serve_grant grants[] = {
    {.uid = 1001, .role = SERVE_ROLE_OPERATOR},
    {.uid = 1002, .role = SERVE_ROLE_APPROVER},
    {.uid = 1003, .role = SERVE_ROLE_AUDITOR},
    {.uid = 1004, .role = SERVE_ROLE_ADMIN},
};

static bool allows_agent(const struct serve_roles *roles, uid_t uid, enum serve_right right,
                         const char *policy, const char *agent)
{
        const char *why = NULL;
        bool yes = serve_roles_allows(roles, uid, right, policy, agent, &why);
        if (!yes && (!why || !why[0]))
                fail_msg("refused without a reason");
        return yes;
}

static bool allows(const struct serve_roles *roles, uid_t uid, enum serve_right right,
                   const char *policy)
{
        return allows_agent(roles, uid, right, policy, NULL);
}

static void test_role_table(void **state)
{
        (void)state;
        struct serve_config c = {.grants = grants, .count = 4};
        static char *operator_policies[] = {"default", "./team.yaml"};
        c.grants[0].policies.items = operator_policies;
        c.grants[0].policies.count = 2;
        struct serve_roles roles = {.daemon_uid = DAEMON_UID, .config = &c};
        enum serve_right all[] = {
            SERVE_RIGHT_READ_SESSIONS, SERVE_RIGHT_READ_OUTPUT,   SERVE_RIGHT_START,
            SERVE_RIGHT_CONTROL,       SERVE_RIGHT_READ_POLICIES, SERVE_RIGHT_READ_METRICS,
            SERVE_RIGHT_APPROVE,       SERVE_RIGHT_READ_AUDIT,    SERVE_RIGHT_READ_DIFF};
        /* rows: operator, approver, auditor, admin; columns: the rights above */
        static const bool want[4][9] = {
            {true, true, true, true, true, false, false, false, true},
            {true, false, false, false, true, false, true, false, false},
            {true, true, false, false, true, true, false, true, true},
            {true, true, true, true, true, true, true, true, true},
        };
        for (size_t g = 0; g < 4; g++)
                for (size_t r = 0; r < 9; r++)
                        if (allows(&roles, grants[g].uid, all[r], NULL) != want[g][r])
                                fail_msg("%s, %s: want %d", serve_role_name(grants[g].role),
                                         serve_right_name(all[r]), want[g][r]);
        /* the operator's policies, exactly as written */
        assert_true(allows(&roles, 1001, SERVE_RIGHT_START, "default"));
        assert_true(allows(&roles, 1001, SERVE_RIGHT_CONTROL, "./team.yaml"));
        assert_false(allows(&roles, 1001, SERVE_RIGHT_START, "offline"));
        assert_false(allows(&roles, 1001, SERVE_RIGHT_CONTROL, "team.yaml"));
        assert_false(allows(&roles, 1001, SERVE_RIGHT_READ_SESSIONS, "offline"));
        /* its sessions' diffs only; an auditor reads every diff */
        assert_true(allows(&roles, 1001, SERVE_RIGHT_READ_DIFF, "default"));
        assert_false(allows(&roles, 1001, SERVE_RIGHT_READ_DIFF, "offline"));
        assert_true(allows(&roles, 1003, SERVE_RIGHT_READ_DIFF, "offline"));
        /* an approver without a list answers for every policy; with one,
         * for those only */
        assert_true(allows(&roles, 1002, SERVE_RIGHT_APPROVE, "offline"));
        static char *approver_policies[] = {"coding-agent"};
        c.grants[1].policies.items = approver_policies;
        c.grants[1].policies.count = 1;
        assert_true(allows(&roles, 1002, SERVE_RIGHT_APPROVE, "coding-agent"));
        assert_false(allows(&roles, 1002, SERVE_RIGHT_APPROVE, "offline"));
        c.grants[1].policies.count = 0;
        /* the others' rights do not depend on the policy */
        assert_true(allows(&roles, 1003, SERVE_RIGHT_READ_OUTPUT, "offline"));
        /* root and the daemon's own user are admins; anyone else has nothing */
        for (size_t r = 0; r < 9; r++) {
                assert_true(allows(&roles, 0, all[r], "offline"));
                assert_true(allows(&roles, DAEMON_UID, all[r], "offline"));
                assert_false(allows(&roles, 1005, all[r], NULL));
        }
}

static void test_config_reads_agents(void **state)
{
        (void)state;
        struct serve_config c;
        parse_ok("version: 1\n"
                 "users:\n"
                 "  1001: {role: operator, policies: [dev], agents: [codex]}\n"
                 "  1002: {role: approver, agents: [claude-code, codex]}\n"
                 "agents:\n"
                 "  claude-code: [dev, ci]\n"
                 "  codex: [/etc/reins/sandboxed.yaml]\n",
                 &c);
        assert_true(c.agents_given);
        assert_int_equal(c.agent_count, 2);
        assert_string_equal(c.agents[1].name, "codex");
        assert_string_equal(c.agents[1].policies.items[0], "/etc/reins/sandboxed.yaml");
        assert_int_equal(c.grants[0].agents.count, 1);
        assert_int_equal(c.grants[1].agents.count, 2);
        assert_true(serve_config_uses_agents(&c));
        const char *why = NULL;
        assert_true(serve_config_agent_allows(&c, "ci", "claude-code", &why));
        assert_false(
            serve_config_agent_allows(&c, "/etc/reins/sandboxed.yaml", "claude-code", &why));
        assert_non_null(strstr(why, "under that policy"));
        assert_false(serve_config_agent_allows(&c, "dev", "aider", &why));
        assert_non_null(strstr(why, "not in the daemon's agents"));
        assert_false(serve_config_agent_allows(&c, "dev", NULL, &why));
        assert_false(serve_config_agent_allows(&c, "dev", "", &why));
        assert_non_null(strstr(why, "names no agent"));
        /* grants limited to agents: the session's agent decides */
        struct serve_roles roles = {.daemon_uid = DAEMON_UID, .config = &c};
        assert_true(allows_agent(&roles, 1001, SERVE_RIGHT_START, "dev", "codex"));
        assert_false(allows_agent(&roles, 1001, SERVE_RIGHT_START, "dev", "claude-code"));
        assert_false(allows_agent(&roles, 1001, SERVE_RIGHT_CONTROL, "dev", NULL));
        assert_false(allows_agent(&roles, 1001, SERVE_RIGHT_START, "ci", "codex"));
        assert_true(allows_agent(&roles, 1002, SERVE_RIGHT_APPROVE, "any", "claude-code"));
        assert_false(allows_agent(&roles, 1002, SERVE_RIGHT_APPROVE, "any", "aider"));
        assert_false(allows_agent(&roles, 1002, SERVE_RIGHT_APPROVE, "any", NULL));
        /* a right about no session does not look at agents */
        assert_true(allows_agent(&roles, 1002, SERVE_RIGHT_READ_POLICIES, NULL, NULL));
        serve_config_free(&c);
        /* without the key, any agent runs under any policy */
        parse_ok("version: 1\n", &c);
        assert_false(serve_config_uses_agents(&c));
        assert_true(serve_config_agent_allows(&c, "dev", NULL, &why));
        serve_config_free(&c);
}

static void test_without_config_only_daemon_user_and_root(void **state)
{
        (void)state;
        struct serve_roles roles = {.daemon_uid = DAEMON_UID};
        assert_true(allows(&roles, DAEMON_UID, SERVE_RIGHT_START, "default"));
        assert_true(allows(&roles, 0, SERVE_RIGHT_READ_METRICS, NULL));
        assert_false(allows(&roles, 1001, SERVE_RIGHT_READ_POLICIES, NULL));
        assert_null(serve_roles_lookup(&roles, 1001));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_config_reads_users_and_roles),
            cmocka_unit_test(test_config_errors_name_line_and_key),
            cmocka_unit_test(test_role_table),
            cmocka_unit_test(test_config_reads_agents),
            cmocka_unit_test(test_without_config_only_daemon_user_and_root),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

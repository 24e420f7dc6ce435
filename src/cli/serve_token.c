/* reins serve token create|list|revoke: the API tokens of the daemon's
 * HTTPS listener (serve/tokens.h). */
#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/notice.h"
#include "serve/serve.h"
#include "serve/tokens.h"
#include "util/strv.h"

static void token_usage(FILE *out)
{
        fprintf(out,
                "usage: reins serve token create --name NAME --role ROLE [--policy P]...\n"
                "                                [--agent A]... [--user USER] [--state DIR]\n"
                "       reins serve token list [--state DIR]\n"
                "       reins serve token revoke NAME [--state DIR]\n"
                "\n"
                "API tokens for 'reins serve --listen': the token is printed once; the daemon\n"
                "keeps its SHA-256. ROLE: admin, operator (with the policies it may run),\n"
                "approver or auditor; --agent limits an operator or approver to the\n"
                "sessions whose policy names one of those agents. Sessions a token starts\n"
                "run as USER (default: you; as root, --user is required).\n"
                "A revoked token stops working at the next call.\n");
}

static int token_uid(const char *user, uid_t *uid)
{
        char *end = NULL;
        unsigned long value = strtoul(user, &end, 10);
        if (user[0] >= '0' && user[0] <= '9' && !*end && value < (uid_t)-1) {
                *uid = (uid_t)value;
                return 0;
        }
        struct passwd *pw = getpwnam(user);
        if (!pw)
                return -ENOENT;
        *uid = pw->pw_uid;
        return 0;
}

int cli_serve_token(int argc, char **argv)
{
        static const struct option options[] = {
            {"name", required_argument, NULL, 'n'},   {"role", required_argument, NULL, 'r'},
            {"policy", required_argument, NULL, 'p'}, {"agent", required_argument, NULL, 'a'},
            {"user", required_argument, NULL, 'u'},   {"state", required_argument, NULL, 'S'},
            {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
        };
        if (argc < 2) {
                token_usage(stderr);
                return EXIT_REINS_USAGE;
        }
        const char *verb = argv[1];
        const char *name = NULL, *role = NULL, *user = NULL, *state = NULL;
        struct reins_strv policies = {0}, agents = {0};
        int c, status = EXIT_REINS_USAGE;
        optind = 1;
        while ((c = getopt_long(argc - 1, argv + 1, "h", options, NULL)) != -1) {
                if (c == 'n')
                        name = optarg;
                else if (c == 'r')
                        role = optarg;
                else if (c == 'u')
                        user = optarg;
                else if (c == 'S')
                        state = optarg;
                else if (c == 'p' && strv_push(&policies, optarg) == 0)
                        continue;
                else if (c == 'a' && strv_push(&agents, optarg) == 0)
                        continue;
                else if (c == 'h') {
                        token_usage(stdout);
                        strv_free(&policies);
                        strv_free(&agents);
                        return 0;
                } else
                        goto usage;
        }
        struct reins_error err = {0};
        char *dir = NULL;
        if (serve_state_dir(state, &dir, &err) < 0) {
                cli_error(&err);
                strv_free(&policies);
                strv_free(&agents);
                return EXIT_REINS_FAILED;
        }
        int r = 0;
        if (strcmp(verb, "create") == 0 && optind == argc - 1 && name && role) {
                struct serve_token_request request = {
                    .name = name, .policies = &policies, .agents = &agents, .uid = getuid()};
                for (int i = SERVE_ROLE_ADMIN; i <= SERVE_ROLE_AUDITOR; i++)
                        if (strcmp(role, serve_role_name((enum serve_role)i)) == 0)
                                request.role = (enum serve_role)i;
                if (!user && getuid() == 0) {
                        /* a root daemon runs a token's sessions as its user:
                         * never as root by default */
                        fprintf(stderr, "reins: serve token: as root, say which user the "
                                        "token's sessions run as (--user)\n");
                        r = -EINVAL;
                } else if (user && token_uid(user, &request.uid) < 0) {
                        fprintf(stderr, "reins: serve token: no user %s\n", user);
                        r = -ENOENT;
                } else if (request.role == SERVE_ROLE_NONE) {
                        fprintf(stderr, "reins: serve token: --role admin, operator, approver "
                                        "or auditor\n");
                        r = -EINVAL;
                } else {
                        char token[SERVE_TOKEN_TEXT];
                        r = serve_tokens_create(dir, &request, token, &err);
                        if (r == 0)
                                printf("%s\n", token);
                }
        } else if (strcmp(verb, "list") == 0 && optind == argc - 1) {
                json_t *list = NULL;
                r = serve_tokens_list(dir, &list, &err);
                size_t i;
                json_t *entry;
                json_array_foreach(list, i, entry)
                {
                        char *line =
                            json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
                        if (line)
                                puts(line);
                        free(line);
                }
                json_decref(list);
        } else if (strcmp(verb, "revoke") == 0 && optind == argc - 2) {
                r = serve_tokens_revoke(dir, argv[optind + 1], &err);
                if (r == 0)
                        printf("revoked %s\n", argv[optind + 1]);
        } else {
                free(dir);
                goto usage;
        }
        free(dir);
        strv_free(&policies);
        strv_free(&agents);
        if (r < 0 && err.message[0])
                cli_error(&err);
        return r == 0 ? 0 : r == -ENOENT ? 1 : EXIT_REINS_FAILED;
usage:
        strv_free(&policies);
        strv_free(&agents);
        token_usage(stderr);
        return status;
}

/* reins: subcommand dispatch only. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
        const char *summary;
} commands[] = {
    {"run", cli_run, "run a command in a default-deny sandbox"},
    {"policy", cli_policy, "check a policy file, show a built-in preset"},
    {"doctor", cli_doctor, "which kernel protections this host offers"},
    {"audit", cli_audit, "show, tail, verify or export audit trails"},
    {"ps", cli_ps, "sessions running now"},
    {"stop", cli_stop, "end a running session"},
    {"thaw", cli_thaw, "let a session the risk engine froze go on"},
    {"ls", cli_ls, "copy-on-write workspace sessions"},
    {"diff", cli_diff, "what a copy-on-write session changed"},
    {"apply", cli_apply, "merge a copy-on-write session into the workspace"},
    {"discard", cli_discard, "delete a copy-on-write session"},
    {"id", cli_id, "your public key and its fingerprint"},
    {"pending", cli_pending, "requests waiting for a human's answer"},
    {"approve", cli_approve, "allow a pending request (or --watch: answer them as they come)"},
    {"deny", cli_deny, "refuse a pending request"},
    {"token", cli_token, "mint, attenuate, inspect, verify or revoke delegation tokens"},
    {"serve", cli_serve, "the daemon: sessions through a JSON API on a unix socket"},
};

static void print_usage(FILE *out)
{
        fprintf(out, "usage: reins COMMAND [ARGS...]\n\ncommands:\n");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
        fprintf(out, "\n'reins COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
        if (argc < 2) {
                print_usage(stderr);
                return EXIT_REINS_USAGE;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                print_usage(stdout);
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0) {
                printf("reins %s\n", REINS_VERSION);
                return 0;
        }
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(argv[1], commands[i].name) == 0)
                        return commands[i].run(argc - 1, argv + 1);
        fprintf(stderr, "reins: unknown command '%s' (see 'reins --help')\n", argv[1]);
        return EXIT_REINS_USAGE;
}

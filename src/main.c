/* reins: subcommand dispatch only. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "vm/vm.h"

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
    {"identity", cli_identity, "verify an agent identity assertion (identity.hosts)"},
    {"pending", cli_pending, "requests waiting for a human's answer"},
    {"approve", cli_approve, "allow a pending request (or --watch: answer them as they come)"},
    {"deny", cli_deny, "refuse a pending request"},
    {"token", cli_token, "mint, attenuate, inspect, verify or revoke delegation tokens"},
    {"serve", cli_serve, "the daemon: sessions through a JSON API on a unix socket"},
    {"env", cli_env, "build, list or remove declarative environments (roots for the sandbox)"},
    {"oci", cli_oci, "an OCI runtime (create/start/state/kill/delete) for podman, containerd"},
};

static void print_usage(FILE *out)
{
        fprintf(out, "usage: reins COMMAND [ARGS...]\n\ncommands:\n");
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
        fprintf(out, "\n'reins COMMAND --help' for a command's options.\n");
}

/* An engine pointed at this binary calls it as runc: `reins-oci ...` (a
 * link of that name), or `reins --root DIR create ...` (global flags of
 * runc's first). Both mean `reins oci ...`. */
static bool main_is_oci_call(int argc, char **argv)
{
        const char *name = strrchr(argv[0], '/');
        name = name ? name + 1 : argv[0];
        if (strcmp(name, "reins-oci") == 0)
                return true;
        static const char *const flags[] = {"--root",           "--log",   "--log-format",
                                            "--systemd-cgroup", "--debug", "--rootless",
                                            "--policy"};
        for (size_t i = 0; argc > 1 && i < sizeof(flags) / sizeof(flags[0]); i++) {
                size_t len = strlen(flags[i]);
                if (strncmp(argv[1], flags[i], len) == 0 &&
                    (argv[1][len] == '\0' || argv[1][len] == '='))
                        return true;
        }
        return false;
}

int main(int argc, char **argv)
{
        /* the guest's init (isolation: vm) and its host side: internal */
        if (vm_is_guest_init(argc, argv))
                return vm_guest_main(argc, argv);
        if (argc > 1 && strcmp(argv[1], "vm-host") == 0)
                return vm_host_main(argc - 1, argv + 1);
        if (argc > 0 && main_is_oci_call(argc, argv))
                return cli_oci(argc, argv);
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

/* Scaffolding until this subcommand's issue lands: it says so and fails. */
#include <stdio.h>

#include "cli/cli.h"

int cli_token(int argc, char **argv)
{
        (void)argc;
        (void)argv;
        fprintf(stderr, "reins: 'token' is not available in this version yet\n");
        return EXIT_REINS_USAGE;
}

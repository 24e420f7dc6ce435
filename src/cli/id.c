/* reins id: the user's public key and its fingerprint. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/notice.h"
#include "govern/identity.h"

static void id_usage(FILE *out)
{
        fprintf(out, "Usage: reins id [--json]\n"
                     "\n"
                     "Print your public key (Ed25519, hex) and its fingerprint (the first 16 hex\n"
                     "digits of its SHA-256). The key is the one that signs audit checkpoints\n"
                     "and delegation tokens: $XDG_CONFIG_HOME/reins/audit-ed25519.key (else\n"
                     "~/.config/reins/), created with mode 0600 on first use.\n");
}

int cli_id(int argc, char **argv)
{
        static const struct option options[] = {
            {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        bool as_json = false;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
                switch (c) {
                case 'j':
                        as_json = true;
                        break;
                case 'h':
                        id_usage(stdout);
                        return 0;
                default:
                        id_usage(stderr);
                        return EXIT_REINS_USAGE;
                }
        }
        if (optind != argc) {
                fprintf(stderr, "reins: id: unexpected argument '%s'\n", argv[optind]);
                return EXIT_REINS_USAGE;
        }
        struct reins_error err = {0};
        struct identity_public id;
        if (identity_user_public(&id, &err) < 0) {
                cli_error(&err);
                return EXIT_REINS_FAILED;
        }
        if (as_json) {
                json_t *o =
                    json_pack("{s:s, s:s}", "public_key", id.hex, "fingerprint", id.fingerprint);
                char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
                json_decref(o);
                if (!text) {
                        fprintf(stderr, "reins: out of memory\n");
                        return EXIT_REINS_FAILED;
                }
                printf("%s\n", text);
                free(text);
        } else {
                printf("public key:  %s\nfingerprint: %s\n", id.hex, id.fingerprint);
        }
        return 0;
}

/* reins id: the user's public key and its fingerprint. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/notice.h"
#include "govern/identity.h"

static void id_usage(FILE *out)
{
        fprintf(out, "Usage: reins id [--json]\n"
                     "       reins id lock|unlock [--passphrase-fd N]\n"
                     "       reins id forget\n"
                     "\n"
                     "Print your public key (Ed25519, hex) and its fingerprint (the first 16 hex\n"
                     "digits of its SHA-256). The key is the one that signs delegation tokens,\n"
                     "answers and each session's certificate: $XDG_CONFIG_HOME/reins/\n"
                     "audit-ed25519.key (else ~/.config/reins/), created with mode 0600 on\n"
                     "first use.\n"
                     "\n"
                     "lock     encrypt the key file under a passphrase (Argon2id); the key stays\n"
                     "         usable from the kernel keyring until reboot or 'forget'\n"
                     "unlock   decrypt it into your persistent kernel keyring (once per boot)\n"
                     "forget   remove it from the kernel keyring now\n"
                     "The passphrase is read from the terminal, or from fd N.\n");
}

#define ID_PASSPHRASE_MAX 1024

/* One line from fd, or from the terminal without echo after `prompt`. */
static int id_read_passphrase(int fd, const char *prompt, char *out, size_t size)
{
        int tty = -1;
        struct termios saved, quiet;
        if (fd < 0) {
                tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
                if (tty < 0)
                        return -ENOTTY;
                fd = tty;
                if (write(tty, prompt, strlen(prompt)) < 0 || tcgetattr(tty, &saved) < 0) {
                        close(tty);
                        return -ENOTTY;
                }
                quiet = saved;
                quiet.c_lflag &= ~(tcflag_t)ECHO;
                tcsetattr(tty, TCSAFLUSH, &quiet);
        }
        size_t used = 0;
        int r = 0;
        for (;;) {
                char c;
                ssize_t n = read(fd, &c, 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0 || c == '\n')
                        break;
                if (used + 1 >= size) {
                        r = -E2BIG;
                        break;
                }
                out[used++] = c;
        }
        out[used] = '\0';
        if (tty >= 0) {
                tcsetattr(tty, TCSAFLUSH, &saved);
                if (write(tty, "\n", 1) < 0)
                        r = r ? r : -EIO;
                close(tty);
        }
        if (r == 0 && used == 0)
                r = -ENODATA;
        return r;
}

static int id_lock_verb(const char *verb, int argc, char **argv)
{
        static const struct option options[] = {
            {"passphrase-fd", required_argument, NULL, 'P'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        int fd = -1, c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
                if (c == 'P') {
                        char *end = NULL;
                        long n = strtol(optarg, &end, 10);
                        if (!end || *end || n < 0 || n > 1024) {
                                fprintf(stderr, "reins: id: --passphrase-fd: expected an fd\n");
                                return EXIT_REINS_USAGE;
                        }
                        fd = (int)n;
                } else {
                        id_usage(c == 'h' ? stdout : stderr);
                        return c == 'h' ? 0 : EXIT_REINS_USAGE;
                }
        }
        struct reins_error err = {0};
        int r;
        if (strcmp(verb, "forget") == 0) {
                r = audit_key_forget(&err);
        } else {
                char pass[ID_PASSPHRASE_MAX], again[ID_PASSPHRASE_MAX];
                r = id_read_passphrase(fd, "passphrase: ", pass, sizeof(pass));
                if (r == 0 && fd < 0 && strcmp(verb, "lock") == 0 &&
                    (r = id_read_passphrase(fd, "again: ", again, sizeof(again))) == 0 &&
                    strcmp(pass, again) != 0)
                        r = reins_error_set(&err, EINVAL, "the passphrases differ");
                sodium_memzero(again, sizeof(again));
                if (r < 0 && !err.message[0])
                        reins_error_set(&err, -r, "id %s: no passphrase read (%s)", verb,
                                        r == -ENOTTY ? "no terminal: use --passphrase-fd"
                                                     : strerror(-r));
                else if (r == 0)
                        r = strcmp(verb, "lock") == 0 ? audit_key_lock(pass, &err)
                                                      : audit_key_unlock(pass, &err);
                sodium_memzero(pass, sizeof(pass));
        }
        if (r < 0) {
                fprintf(stderr, "reins: %s\n", err.message);
                return EXIT_REINS_FAILED;
        }
        printf("%s\n", strcmp(verb, "lock") == 0     ? "locked: the file holds the key encrypted; "
                                                       "it is unlocked in the kernel keyring"
                       : strcmp(verb, "unlock") == 0 ? "unlocked into the kernel keyring"
                                                     : "forgotten by the kernel keyring");
        return 0;
}

int cli_id(int argc, char **argv)
{
        if (argc > 1 && (strcmp(argv[1], "lock") == 0 || strcmp(argv[1], "unlock") == 0 ||
                         strcmp(argv[1], "forget") == 0))
                return id_lock_verb(argv[1], argc - 1, argv + 1);
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
                json_auto_t *o =
                    json_pack("{s:s, s:s}", "public_key", id.hex, "fingerprint", id.fingerprint);
                char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
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

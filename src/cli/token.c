/* reins token mint | attenuate | inspect | verify | revoke. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/clock.h"
#include "cli/cli.h"
#include "cli/notice.h"
#include "govern/identity.h"
#include "govern/token.h"
#include "govern/token_meet.h"
#include "govern/token_revoke.h"
#include "policy/parse_units.h"
#include "util/cleanup.h"

/* `reins token verify` exit statuses. */
enum {
        TOKEN_EXIT_REFUSED = 1, /* the token is not valid; stderr says why */
};

static void token_usage(FILE *out)
{
        fprintf(out,
                "Usage: reins token mint [RESTRICTIONS] [-o FILE]\n"
                "       reins token attenuate TOKEN|FILE [RESTRICTIONS] [-o FILE]\n"
                "       reins token inspect TOKEN|FILE\n"
                "       reins token verify TOKEN|FILE [--root HEX]\n"
                "       reins token revoke ID\n"
                "\n"
                "RESTRICTIONS (repeat the list ones; a token's rights are the intersection\n"
                "of every block's, so attenuating can only narrow):\n"
                "  --dest PATTERN    host, *.domain, *, IP, optional :port (as network.allow)\n"
                "  --path GLOB       workspace-relative paths the token allows writing\n"
                "  --cmd NAME        command names the token allows running\n"
                "  --expires WHEN    a duration from now (10m, 1h30m) or a UTC time\n"
                "                    (2026-11-23T21:00:00Z)\n"
                "  --uses N          at most N uses\n"
                "  --agent NAME      only for this agent\n"
                "\n"
                "mint       a token signed by your key ('reins id'); on stdout or in FILE (0600).\n"
                "attenuate  append a narrower block; needs no key, works offline.\n"
                "inspect    every block in plain words, and the effective rights.\n"
                "verify     exit 0 when valid (signed by your key or --root HEX, not expired,\n"
                "           not revoked), else 1 and the reason on stderr.\n"
                "revoke     list a block id (see inspect) in ~/.config/reins/revoked: every\n"
                "           token containing that block is refused from then on.\n"
                "\n"
                "A token carries the secret needed to attenuate it: treat it as a credential.\n");
}

static int token_fail(const struct reins_error *err)
{
        notice("%s", err->message);
        return EXIT_REINS_FAILED;
}

/* ---- reading and writing tokens */

/* TOKEN|FILE: an existing file (or "-" for stdin) is read, anything else is
 * taken as the token text itself. */
static int token_read_argument(const char *arg, char **out, struct reins_error *err)
{
        *out = NULL;
        FILE *f = NULL;
        if (strcmp(arg, "-") == 0) {
                f = stdin;
        } else {
                struct stat st;
                if (stat(arg, &st) < 0) {
                        if (!(*out = strdup(arg)))
                                return reins_error_set(err, ENOMEM, "out of memory");
                        return 0;
                }
                if (!(f = fopen(arg, "re")))
                        return reins_error_errno(err, errno, "reading the token %s", arg);
        }
        cleanup_free char *text = malloc(TOKEN_MAX_TEXT + 2);
        size_t n = text ? fread(text, 1, TOKEN_MAX_TEXT + 1, f) : 0;
        bool failed = text && ferror(f);
        if (f != stdin)
                fclose(f);
        if (!text)
                return reins_error_set(err, ENOMEM, "out of memory");
        if (failed)
                return reins_error_set(err, EIO, "reading the token %s failed", arg);
        if (n > TOKEN_MAX_TEXT)
                return reins_error_set(err, EFBIG, "%s: too large for a token", arg);
        text[n] = '\0';
        *out = steal_ptr(&text);
        return 0;
}

/* The token is a bearer credential (it holds the proof): 0600, no symlink. */
static int token_write(const char *path, const char *text, struct reins_error *err)
{
        if (!path) {
                printf("%s\n", text);
                return fflush(stdout) == 0 ? 0 : reins_error_errno(err, errno, "writing stdout");
        }
        cleanup_fd int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return reins_error_errno(err, errno, "writing the token %s", path);
        if (fchmod(fd, 0600) < 0)
                return reins_error_errno(err, errno, "chmod 600 %s", path);
        size_t length = strlen(text);
        if (write(fd, text, length) != (ssize_t)length || write(fd, "\n", 1) != 1 || fsync(fd) < 0)
                return reins_error_errno(err, errno ? errno : EIO, "writing the token %s", path);
        return 0;
}

/* ---- restriction flags */

enum {
        OPT_DEST = 256,
        OPT_PATH,
        OPT_CMD,
        OPT_EXPIRES,
        OPT_USES,
        OPT_AGENT,
        OPT_ROOT,
};

static const struct option token_options[] = {
    {"dest", required_argument, NULL, OPT_DEST},
    {"path", required_argument, NULL, OPT_PATH},
    {"cmd", required_argument, NULL, OPT_CMD},
    {"expires", required_argument, NULL, OPT_EXPIRES},
    {"uses", required_argument, NULL, OPT_USES},
    {"agent", required_argument, NULL, OPT_AGENT},
    {"root", required_argument, NULL, OPT_ROOT},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct token_args {
        struct token_restrictions restrictions;
        const char *output;
        const char *root;
        const char *positional[2];
        size_t positionals;
        bool restricted; /* any restriction flag given */
};

static int token_parse_expires(const char *text, int64_t *expires)
{
        uint64_t ms = 0;
        int64_t when_ms = 0, now = (int64_t)time(NULL);
        if (parse_duration_ms(text, &ms) == 0) {
                if (ms > (uint64_t)INT64_MAX / 2)
                        return -ERANGE;
                *expires = now + (int64_t)((ms + 999) / 1000);
        } else if (audit_time_parse_ms(text, &when_ms) == 0) {
                *expires = when_ms / 1000;
        } else {
                return -EINVAL;
        }
        return *expires > now ? 0 : -ERANGE;
}

/* 0, or an exit status (usage errors are printed here). */
static int token_parse_args(int argc, char **argv, struct token_args *args)
{
        struct token_restrictions *r = &args->restrictions;
        int c, rc = 0;
        optind = 1;
        while (rc == 0 && (c = getopt_long(argc, argv, "ho:", token_options, NULL)) != -1) {
                args->restricted |= c >= OPT_DEST && c <= OPT_AGENT;
                switch (c) {
                case OPT_DEST:
                        r->has_dest = true;
                        rc = strv_push(&r->dest, optarg);
                        break;
                case OPT_PATH:
                        r->has_path = true;
                        rc = strv_push(&r->path, optarg);
                        break;
                case OPT_CMD:
                        r->has_cmd = true;
                        rc = strv_push(&r->cmd, optarg);
                        break;
                case OPT_EXPIRES:
                        r->has_expires = true;
                        if (token_parse_expires(optarg, &r->expires) < 0) {
                                fprintf(stderr,
                                        "reins: --expires '%s': expected a duration (10m, 1h) "
                                        "or a future UTC time (2026-11-23T21:00:00Z)\n",
                                        optarg);
                                return EXIT_REINS_USAGE;
                        }
                        break;
                case OPT_USES:
                        r->has_uses = true;
                        if (parse_count(optarg, &r->uses) < 0 || r->uses == 0) {
                                fprintf(stderr, "reins: --uses '%s': expected a count >= 1\n",
                                        optarg);
                                return EXIT_REINS_USAGE;
                        }
                        break;
                case OPT_AGENT:
                        free(r->agent);
                        rc = (r->agent = strdup(optarg)) ? 0 : -ENOMEM;
                        break;
                case OPT_ROOT:
                        args->root = optarg;
                        break;
                case 'o':
                        args->output = optarg;
                        break;
                case 'h':
                        token_usage(stdout);
                        return -1;
                default:
                        token_usage(stderr);
                        return EXIT_REINS_USAGE;
                }
        }
        if (rc < 0) {
                fprintf(stderr, "reins: out of memory\n");
                return EXIT_REINS_FAILED;
        }
        for (; optind < argc; optind++) {
                if (args->positionals == ARRAY_SIZE(args->positional)) {
                        fprintf(stderr, "reins: token: unexpected argument '%s'\n", argv[optind]);
                        return EXIT_REINS_USAGE;
                }
                args->positional[args->positionals++] = argv[optind];
        }
        struct reins_error err = {0};
        if (token_restrictions_validate(r, &err) < 0) {
                cli_error(&err);
                return EXIT_REINS_USAGE;
        }
        return 0;
}

/* Exactly `want` positional arguments and only the allowed options. */
static int token_expect(const struct token_args *args, const char *verb, size_t want,
                        const char *what, bool restrictions, bool output, bool root)
{
        if (args->positionals != want) {
                fprintf(stderr, "reins: token %s: expected %s\n", verb, what);
                return EXIT_REINS_USAGE;
        }
        if ((!restrictions && args->restricted) || (!output && args->output) ||
            (!root && args->root)) {
                fprintf(stderr, "reins: token %s: option not valid here (see --help)\n", verb);
                return EXIT_REINS_USAGE;
        }
        return 0;
}

/* ---- plain words */

static void token_print_time(int64_t when)
{
        char text[40];
        time_t t = (time_t)when;
        struct tm tm;
        if (gmtime_r(&t, &tm) && strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S UTC", &tm))
                printf("%s", text);
        else
                printf("@%" PRId64, when);
        int64_t left = when - (int64_t)time(NULL);
        if (left > 0)
                printf(" (in %" PRId64 "h%02" PRId64 "m%02" PRId64 "s)", left / 3600,
                       left / 60 % 60, left % 60);
        else
                printf(" (expired)");
}

static void token_print_list(const struct reins_strv *v)
{
        if (v->count == 0)
                printf("nothing");
        for (size_t i = 0; i < v->count; i++)
                printf("%s%s", i ? ", " : "", v->items[i]);
}

static void token_print_restrictions(const struct token_restrictions *r)
{
        bool any = false;
        if (r->has_dest) {
                printf("    may connect only to: ");
                token_print_list(&r->dest);
                printf("\n");
                any = true;
        }
        if (r->has_path) {
                printf("    may write only: ");
                token_print_list(&r->path);
                printf("\n");
                any = true;
        }
        if (r->has_cmd) {
                printf("    may run only: ");
                token_print_list(&r->cmd);
                printf("\n");
                any = true;
        }
        if (r->has_expires) {
                printf("    expires: ");
                token_print_time(r->expires);
                printf("\n");
                any = true;
        }
        if (r->has_uses) {
                printf("    at most %" PRIu64 " use%s\n", r->uses, r->uses == 1 ? "" : "s");
                any = true;
        }
        if (r->agent) {
                printf("    only for agent: %s\n", r->agent);
                any = true;
        }
        if (!any)
                printf("    adds no restriction\n");
}

static void token_print_sets(const char *what, const struct token_pattern_sets *sets)
{
        printf("  %s: ", what);
        if (sets->count == 0)
                printf("not restricted by the token");
        for (size_t i = 0; i < sets->count; i++) {
                printf("%s[", i ? " and " : "");
                token_print_list(&sets->sets[i]);
                printf("]");
        }
        printf("\n");
}

/* The intersection, written out: what every block allows at once. */
static void token_print_meet(const char *what, const struct token_pattern_sets *sets,
                             enum token_meet_kind kind)
{
        struct reins_strv meet = {0};
        if (sets->count < 2 || token_meet(sets, kind, &meet) < 0) {
                token_print_sets(what, sets);
                return;
        }
        printf("  %s: ", what);
        if (meet.count == 0)
                printf("none (the blocks have none in common)");
        else
                token_print_list(&meet);
        printf("  (the intersection of %zu blocks' lists)\n", sets->count);
        strv_free(&meet);
}

static void token_print_rights(const struct token_rights *rights)
{
        printf("effective rights (every block must allow it):\n");
        token_print_meet("destinations", &rights->dest, TOKEN_MEET_DEST);
        token_print_meet("writable paths", &rights->path, TOKEN_MEET_PATH);
        token_print_meet("commands", &rights->cmd, TOKEN_MEET_CMD);
        printf("  expires: ");
        if (rights->has_expires)
                token_print_time(rights->expires);
        else
                printf("never");
        printf("\n  uses: ");
        if (rights->has_uses)
                printf("at most %" PRIu64 "\n", rights->uses);
        else
                printf("not limited\n");
        printf("  agent: %s\n", rights->agent_conflict ? "none (blocks name different agents)"
                                : rights->agent        ? rights->agent
                                                       : "any");
}

/* ---- the verbs */

static int token_mint_cmd(struct token_args *args)
{
        int rc = token_expect(args, "mint", 0, "no argument", true, true, false);
        if (rc)
                return rc;
        struct reins_error err = {0};
        struct audit_key key;
        if (identity_user_key(&key, true, &err) < 0)
                return token_fail(&err);
        struct token token;
        rc = token_mint(key.secret_key, &args->restrictions, &token, &err);
        audit_key_wipe(&key);
        if (rc < 0)
                return token_fail(&err);
        cleanup_free char *text = NULL;
        rc = token_encode(&token, &text, &err);
        if (rc == 0)
                rc = token_write(args->output, text, &err);
        if (rc == 0 && args->output)
                fprintf(stderr, "reins: minted a token (block id %s) in %s\n", token.blocks[0].id,
                        args->output);
        token_free(&token);
        return rc < 0 ? token_fail(&err) : 0;
}

/* Decode TOKEN|FILE (`root` NULL: offline, block 0 not checked). */
static int token_load(const char *arg, const unsigned char *root, struct token *token,
                      enum token_failure *failure, struct reins_error *err)
{
        cleanup_free char *text = NULL;
        int rc = token_read_argument(arg, &text, err);
        if (rc < 0) {
                *failure = TOKEN_OK;
                return rc;
        }
        rc = token_decode(text, root, token, failure, err);
        sodium_memzero(text, strlen(text));
        return rc;
}

static int token_refused(enum token_failure failure, const struct reins_error *err)
{
        if (failure == TOKEN_OK)
                return token_fail(err);
        notice("token refused: %s: %s", token_failure_name(failure), err->message);
        return TOKEN_EXIT_REFUSED;
}

static int token_attenuate_cmd(struct token_args *args)
{
        int rc = token_expect(args, "attenuate", 1, "TOKEN|FILE", true, true, false);
        if (rc)
                return rc;
        struct reins_error err = {0};
        enum token_failure failure;
        struct token token;
        if (token_load(args->positional[0], NULL, &token, &failure, &err) < 0)
                return token_refused(failure, &err);
        rc = token_attenuate(&token, &args->restrictions, &err);
        cleanup_free char *text = NULL;
        if (rc == 0)
                rc = token_encode(&token, &text, &err);
        if (rc == 0)
                rc = token_write(args->output, text, &err);
        if (rc == 0 && args->output)
                fprintf(stderr, "reins: attenuated token (new block id %s) in %s\n",
                        token.blocks[token.count - 1].id, args->output);
        token_free(&token);
        return rc < 0 ? token_fail(&err) : 0;
}

static int token_inspect_cmd(struct token_args *args)
{
        int rc = token_expect(args, "inspect", 1, "TOKEN|FILE", false, false, false);
        if (rc)
                return rc;
        struct reins_error err = {0};
        enum token_failure failure;
        struct token token;
        if (token_load(args->positional[0], NULL, &token, &failure, &err) < 0)
                return token_refused(failure, &err);
        struct audit_key key;
        struct identity_public me;
        int have_key = identity_user_key(&key, false, &err);
        if (have_key == 0) {
                memcpy(me.key, key.public_key, sizeof(me.key));
                audit_key_wipe(&key);
                identity_describe(&me);
        }
        printf("token with %zu block%s\n", token.count, token.count == 1 ? "" : "s");
        for (size_t i = 0; i < token.count; i++) {
                const struct token_block *b = &token.blocks[i];
                printf("block %zu  id %s\n", i, b->id);
                if (i > 0)
                        printf("    signed by block %zu's key (checked)\n", i - 1);
                else if (have_key == 0 && token_signed_by(&token, me.key))
                        printf("    signed by your key %s (checked)\n", me.fingerprint);
                else
                        printf("    signed by a root key that is not yours "
                               "(check with 'reins token verify --root HEX')\n");
                token_print_restrictions(&b->restrictions);
        }
        struct token_rights rights;
        if (token_effective_rights(&token, &rights, &err) < 0) {
                token_free(&token);
                return token_fail(&err);
        }
        token_print_rights(&rights);
        token_rights_free(&rights);
        token_free(&token);
        return 0;
}

static int token_verify_cmd(struct token_args *args)
{
        int rc = token_expect(args, "verify", 1, "TOKEN|FILE", false, false, true);
        if (rc)
                return rc;
        struct reins_error err = {0};
        unsigned char root[TOKEN_PUBLIC_KEY_BYTES];
        if (args->root) {
                if (audit_unhex(args->root, root, sizeof(root)) < 0) {
                        fprintf(stderr, "reins: --root: expected 64 hex digits (see 'reins id')\n");
                        return EXIT_REINS_USAGE;
                }
        } else {
                struct audit_key key;
                rc = identity_user_key(&key, false, &err);
                if (rc == -ENOENT) {
                        fprintf(stderr, "reins: you have no key yet ('reins id' creates it): "
                                        "pass --root HEX\n");
                        return EXIT_REINS_FAILED;
                }
                if (rc < 0)
                        return token_fail(&err);
                memcpy(root, key.public_key, sizeof(root));
                audit_key_wipe(&key);
        }
        struct reins_strv revoked = {0};
        if (token_revoked_load(&revoked, &err) < 0) {
                strv_free(&revoked);
                return token_fail(&err);
        }
        enum token_failure failure;
        struct token token;
        rc = token_load(args->positional[0], root, &token, &failure, &err);
        if (rc == 0) {
                rc = token_verify(&token, root, (int64_t)time(NULL), &revoked, &failure, &err);
                struct identity_public signer;
                memcpy(signer.key, root, sizeof(signer.key));
                identity_describe(&signer);
                if (rc == 0)
                        printf("valid: %zu block%s, signed by %s %s\n", token.count,
                               token.count == 1 ? "" : "s", args->root ? "root key" : "your key",
                               signer.fingerprint);
                token_free(&token);
        }
        strv_free(&revoked);
        return rc < 0 ? token_refused(failure, &err) : 0;
}

static int token_revoke_cmd(struct token_args *args)
{
        int rc = token_expect(args, "revoke", 1, "a block ID (see 'reins token inspect')", false,
                              false, false);
        if (rc)
                return rc;
        struct reins_error err = {0};
        bool added;
        rc = token_revoke(args->positional[0], &added, &err);
        if (rc == -EINVAL) {
                cli_error(&err);
                return EXIT_REINS_USAGE;
        }
        if (rc < 0)
                return token_fail(&err);
        printf("%s %s\n", added ? "revoked" : "already revoked:", args->positional[0]);
        return 0;
}

int cli_token(int argc, char **argv)
{
        static const struct {
                const char *name;
                int (*run)(struct token_args *args);
        } verbs[] = {
            {"mint", token_mint_cmd},       {"attenuate", token_attenuate_cmd},
            {"inspect", token_inspect_cmd}, {"verify", token_verify_cmd},
            {"revoke", token_revoke_cmd},
        };
        if (argc < 2) {
                token_usage(stderr);
                return EXIT_REINS_USAGE;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                token_usage(stdout);
                return 0;
        }
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
                if (strcmp(argv[1], verbs[i].name) != 0)
                        continue;
                struct token_args args = {0};
                int rc = token_parse_args(argc - 1, argv + 1, &args);
                if (rc == 0)
                        rc = verbs[i].run(&args);
                else if (rc < 0)
                        rc = 0; /* --help */
                token_restrictions_free(&args.restrictions);
                return rc;
        }
        fprintf(stderr,
                "reins: token: unknown command '%s' (mint, attenuate, inspect, verify, "
                "revoke)\n",
                argv[1]);
        return EXIT_REINS_USAGE;
}

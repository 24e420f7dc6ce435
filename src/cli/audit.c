/* reins audit show | tail | verify | export (and the hidden bench). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "audit/anchor.h"
#include "audit/bench.h"
#include "audit/clock.h"
#include "audit/export.h"
#include "audit/follow.h"
#include "audit/format.h"
#include "audit/keys.h"
#include "audit/locate.h"
#include "audit/trail.h"
#include "audit/trail_internal.h"
#include "audit/verify.h"
#include "cli/audit_daemon.h"
#include "cli/cli.h"
#include "cli/notice.h"
#include "policy/parse_units.h"
#include "util/cleanup.h"
#include "util/text_escape.h"

/* `reins audit verify` exit statuses, one per verdict. */
enum {
        AUDIT_EXIT_ALTERED = 1,
        AUDIT_EXIT_DELETED = 3,
        AUDIT_EXIT_REORDERED = 4,
        AUDIT_EXIT_APPENDED = 5,
        AUDIT_EXIT_UNSEALED = 6,
        AUDIT_EXIT_SIGNATURE = 7,
        AUDIT_EXIT_KEY = 8,
        AUDIT_EXIT_CERTIFICATE = 9,
        AUDIT_EXIT_ANCHOR = 10,
};

static void audit_usage(FILE *out)
{
        fprintf(out,
                "Usage: reins audit show [SESSION|FILE] [--type TYPE] [--findings] [--since WHEN]\n"
                "                        [--json]\n"
                "       reins audit tail [-f] [-n N]\n"
                "       reins audit verify [SESSION|FILE] [--key HEX | --any-key]\n"
                "                          [--anchor FILE|URL]\n"
                "       reins audit export --format ocsf|syslog|cef [SESSION|FILE] [--type TYPE]\n"
                "                          [--since WHEN]\n"
                "\n"
                "Trails live in $XDG_STATE_HOME/reins/trails (else ~/.local/state/reins/trails),\n"
                "one SESSION.jsonl per session; SESSION may be a unique prefix; without one,\n"
                "the newest trail. A FILE is any trail path (e.g. one written with --audit).\n"
                "\n"
                "show     one line per event (colour on a terminal); --json: the records as\n"
                "         stored. --type exec, net (net.*), session... --since 10m, 2h, or a\n"
                "         time (2026-11-23T21:00:00Z, 2026-11-23). --findings: the risk\n"
                "         engine's findings (--type risk: with tier changes and playbooks).\n"
                "tail     the last N events (default 10) of the newest trail; -f: then follow\n"
                "         every trail, including sessions that start later.\n"
                "verify   recompute the hash chain, every checkpoint's Merkle root and Ed25519\n"
                "         signature. Checkpoints must be signed by your key\n"
                "         (~/.config/reins/audit-ed25519.key), by --key HEX, or --any-key:\n"
                "         directly (older trails), or through the session certificate of\n"
                "         session.start that vouches for the session's own signing key.\n"
                "         --anchor FILE|URL: also compare the trail with the certificate and\n"
                "         checkpoints anchored while it was written (reins run --anchor); a\n"
                "         re-signed, cut or deleted trail is named. Without SESSION|FILE, every\n"
                "         session the anchor holds is checked against its default trail.\n"
                "export   OCSF JSON lines, RFC 5424 syslog lines or CEF lines on stdout.\n"
                "\n"
                "A SESSION whose trail is not here (one reins serve runs for you, or another\n"
                "user's your role may read) is read through the daemon (--socket PATH,\n"
                "$REINS_SOCKET, your own daemon's socket, else /run/reins/serve.sock): show and\n"
                "export get its last 10000 records, verify gets the daemon's verdict.\n"
                "\n"
                "verify exit status:\n"
                "  0  intact: N records, K checkpoints (a torn last line is ignored and said)\n"
                "  1  altered: a record's bytes changed (the record after it no longer chains)\n"
                "  2  usage error\n"
                "  3  deleted: one or more records are missing\n"
                "  4  reordered: records out of order\n"
                "  5  appended: records after the final checkpoint\n"
                "  6  unsealed: no final checkpoint (session killed, or records cut from the\n"
                "     end); what is there was checked\n"
                "  7  a checkpoint signature is invalid\n"
                "  8  signed by a key other than the trusted one\n"
                "  9  a checkpoint's key has no valid session certificate (signed by a key\n"
                "     the user key did not certify, or a certificate for another session)\n"
                "  10 the trail does not match its anchor (--anchor): re-signed, cut short\n"
                "     or deleted\n"
                "  125 the trail could not be read\n");
}

struct audit_filter {
        const char *type;
        int64_t since_ms;
        bool has_since;
};

static int audit_parse_since(const char *text, struct audit_filter *filter)
{
        uint64_t ms = 0;
        int64_t when = 0;
        if (parse_duration_ms(text, &ms) == 0)
                when = audit_now_ms() - (int64_t)ms;
        else if (audit_time_parse_ms(text, &when) < 0)
                return -EINVAL;
        filter->since_ms = when;
        filter->has_since = true;
        return 0;
}

static bool audit_filter_match(const struct audit_filter *filter, const json_t *record)
{
        const char *type = json_string_value(json_object_get(record, "type"));
        if (filter->type) {
                size_t n = strlen(filter->type);
                if (!type || strncmp(type, filter->type, n) != 0 ||
                    (type[n] != '\0' && type[n] != '.'))
                        return false;
        }
        if (filter->has_since) {
                int64_t when = 0;
                const char *time = json_string_value(json_object_get(record, "time"));
                if (!time || audit_time_parse_ms(time, &when) < 0 || when < filter->since_ms)
                        return false;
        }
        return true;
}

/* "PATH: VERDICT", escaped: the verdict quotes the trail, which anyone may
 * have written. */
static void audit_verify_print(const char *path, const char *message)
{
        text_escape_write(stdout, path, strlen(path), 0);
        fputs(": ", stdout);
        text_escape_write(stdout, message, strlen(message), 0);
        putchar('\n');
}

static int audit_print_record(const json_t *record, bool as_json, bool colour)
{
        char *line = as_json ? text_json_dumps(record, JSON_COMPACT | JSON_SORT_KEYS)
                             : audit_format_line(record, colour);
        if (!line)
                return -ENOMEM;
        puts(line);
        free(line);
        return 0;
}

/* Options shared by show / export / verify / tail. */
struct audit_options {
        struct audit_filter filter;
        bool json, follow, any_key;
        const char *format, *key, *target, *anchor, *socket;
        long count;
};

static int audit_parse_options(int argc, char **argv, struct audit_options *o)
{
        enum {
                OPT_TYPE = 256,
                OPT_SINCE,
                OPT_JSON,
                OPT_FORMAT,
                OPT_KEY,
                OPT_ANY_KEY,
                OPT_FINDINGS,
                OPT_ANCHOR,
                OPT_SOCKET
        };
        static const struct option options[] = {
            {"type", required_argument, NULL, OPT_TYPE},
            {"findings", no_argument, NULL, OPT_FINDINGS},
            {"since", required_argument, NULL, OPT_SINCE},
            {"json", no_argument, NULL, OPT_JSON},
            {"format", required_argument, NULL, OPT_FORMAT},
            {"key", required_argument, NULL, OPT_KEY},
            {"any-key", no_argument, NULL, OPT_ANY_KEY},
            {"anchor", required_argument, NULL, OPT_ANCHOR},
            {"socket", required_argument, NULL, OPT_SOCKET},
            {"follow", no_argument, NULL, 'f'},
            {"lines", required_argument, NULL, 'n'},
            {"help", no_argument, NULL, 'h'},
            {NULL, 0, NULL, 0},
        };
        o->count = 10;
        optind = 1;
        int c;
        while ((c = getopt_long(argc, argv, "fn:h", options, NULL)) != -1) {
                switch (c) {
                case OPT_TYPE:
                        o->filter.type = optarg;
                        break;
                case OPT_FINDINGS:
                        o->filter.type = "risk.finding";
                        break;
                case OPT_SINCE:
                        if (audit_parse_since(optarg, &o->filter) < 0) {
                                fprintf(stderr,
                                        "reins: --since %s: expected a duration (10m, 2h) or a "
                                        "time (2026-11-23T21:00:00Z)\n",
                                        optarg);
                                return -1;
                        }
                        break;
                case OPT_JSON:
                        o->json = true;
                        break;
                case OPT_FORMAT:
                        o->format = optarg;
                        break;
                case OPT_KEY:
                        o->key = optarg;
                        break;
                case OPT_ANY_KEY:
                        o->any_key = true;
                        break;
                case OPT_ANCHOR:
                        o->anchor = optarg;
                        break;
                case OPT_SOCKET:
                        o->socket = optarg;
                        break;
                case 'f':
                        o->follow = true;
                        break;
                case 'n':
                        o->count = strtol(optarg, NULL, 10);
                        if (o->count < 0) {
                                fprintf(stderr, "reins: -n %s: expected a count\n", optarg);
                                return -1;
                        }
                        break;
                case 'h':
                        audit_usage(stdout);
                        exit(0);
                default:
                        audit_usage(stderr);
                        return -1;
                }
        }
        if (optind < argc)
                o->target = argv[optind++];
        if (optind < argc) {
                fprintf(stderr, "reins: audit: unexpected argument '%s'\n", argv[optind]);
                return -1;
        }
        return 0;
}

/* The trail of a session only the daemon can read: its records through
 * the API. 1: loaded; 0: the daemon does not know it either (or none
 * runs); -1: printed. */
static int audit_load_daemon(const struct audit_options *o, json_t **records)
{
        struct reins_error err = {0};
        struct daemon_view daemon;
        const char *id = NULL;
        int r = audit_daemon_find(&daemon, o->socket, o->target, &id, &err);
        bool cut = false;
        if (r == 1)
                r = audit_daemon_records(&daemon, id, o->filter.type, records, &cut, &err) < 0 ? -1
                                                                                               : 1;
        if (r < 0)
                cli_error(&err);
        else if (r == 1 && cut)
                notice("note: reins serve (%s) sent the last %zu records of session %s (at most "
                       "%d, from the trail's last 8 MiB)",
                       daemon.client.socket_path, json_array_size(*records), id,
                       AUDIT_DAEMON_LIMIT);
        daemon_view_close(&daemon);
        return r < 0 ? -1 : r;
}

static int audit_load(const struct audit_options *o, json_t **records)
{
        struct reins_error err = {0};
        cleanup_free char *path = NULL;
        size_t skipped = 0;
        if (audit_locate(o->target, &path, &err) < 0) {
                /* not here: a session of the daemon's? */
                int r = err.code == ENOENT ? audit_load_daemon(o, records) : 0;
                if (r == 0)
                        cli_error(&err);
                return r == 1 ? 0 : -1;
        }
        if (audit_load_records(path, records, &skipped, &err) < 0) {
                cli_error(&err);
                return -1;
        }
        if (skipped)
                fprintf(stderr,
                        "reins: note: %zu lines of %s are not records (run 'reins audit verify')\n",
                        skipped, path);
        return 0;
}

static int audit_show(int argc, char **argv)
{
        struct audit_options o = {0};
        if (audit_parse_options(argc, argv, &o) < 0)
                return EXIT_REINS_USAGE;
        json_auto_t *records = NULL;
        if (audit_load(&o, &records) < 0)
                return EXIT_REINS_FAILED;
        bool colour = !o.json && isatty(STDOUT_FILENO);
        size_t i;
        json_t *record;
        json_array_foreach(records, i, record)
        {
                if (audit_filter_match(&o.filter, record))
                        audit_print_record(record, o.json, colour);
        }
        return fflush(stdout) == 0 ? 0 : EXIT_REINS_FAILED;
}

static int audit_export(int argc, char **argv)
{
        struct audit_options o = {0};
        if (audit_parse_options(argc, argv, &o) < 0)
                return EXIT_REINS_USAGE;
        enum audit_export_format format;
        if (!o.format || audit_export_format_parse(o.format, &format) < 0) {
                fprintf(stderr, "reins: audit export: --format ocsf, syslog or cef\n");
                return EXIT_REINS_USAGE;
        }
        json_auto_t *records = NULL;
        if (audit_load(&o, &records) < 0)
                return EXIT_REINS_FAILED;
        char hostname[256] = "-";
        if (gethostname(hostname, sizeof(hostname) - 1) < 0)
                snprintf(hostname, sizeof(hostname), "-");
        size_t i;
        json_t *record;
        int status = 0;
        json_array_foreach(records, i, record)
        {
                if (!audit_filter_match(&o.filter, record))
                        continue;
                char *line = audit_export_line(format, record, hostname);
                if (!line) {
                        fprintf(stderr, "reins: audit export: out of memory\n");
                        status = EXIT_REINS_FAILED;
                        break;
                }
                puts(line);
                free(line);
        }
        return fflush(stdout) == 0 ? status : EXIT_REINS_FAILED;
}

static int audit_exit_status(enum audit_verdict verdict)
{
        switch (verdict) {
        case AUDIT_INTACT:
                return 0;
        case AUDIT_ALTERED:
                return AUDIT_EXIT_ALTERED;
        case AUDIT_DELETED:
                return AUDIT_EXIT_DELETED;
        case AUDIT_REORDERED:
                return AUDIT_EXIT_REORDERED;
        case AUDIT_APPENDED:
                return AUDIT_EXIT_APPENDED;
        case AUDIT_UNSEALED:
                return AUDIT_EXIT_UNSEALED;
        case AUDIT_BAD_SIGNATURE:
                return AUDIT_EXIT_SIGNATURE;
        case AUDIT_UNTRUSTED_KEY:
                return AUDIT_EXIT_KEY;
        case AUDIT_BAD_CERTIFICATE:
                return AUDIT_EXIT_CERTIFICATE;
        }
        return AUDIT_EXIT_ALTERED;
}

/* The user's public key, hex, as the trust anchor: --key, else the user's
 * own key (none: ""). -1 on a usage error, -2 on a failure (printed). */
static int audit_trusted_key(const struct audit_options *o, char trusted[65])
{
        struct reins_error err = {0};
        unsigned char raw[crypto_sign_PUBLICKEYBYTES];
        trusted[0] = '\0';
        if (o->key) {
                if (audit_unhex(o->key, raw, sizeof(raw)) < 0) {
                        fprintf(stderr, "reins: --key: expected 64 hex digits\n");
                        return -1;
                }
                audit_hex(raw, sizeof(raw), trusted);
        } else if (!o->any_key) {
                int r = audit_user_public_key(raw, false, &err);
                if (r == 0)
                        audit_hex(raw, sizeof(raw), trusted);
                if (r < 0 && r != -ENOENT) {
                        cli_error(&err);
                        return -2;
                }
        }
        return 0;
}

/* The session a trail belongs to: its first record's, else its file name. */
static void audit_trail_session(const char *path, const char *data, size_t length, char *out,
                                size_t size)
{
        const char *newline = memchr(data, '\n', length);
        json_auto_t *first = newline ? json_loadb(data, (size_t)(newline - data), 0, NULL) : NULL;
        const char *session = json_string_value(json_object_get(first, "session"));
        if (session) {
                snprintf(out, size, "%s", session);
        } else {
                const char *base = strrchr(path, '/');
                snprintf(out, size, "%s", base ? base + 1 : path);
                char *dot = strstr(out, AUDIT_TRAIL_SUFFIX);
                if (dot)
                        *dot = '\0';
        }
}

/* "TRAIL: ANCHOR: message", each part escaped (a trail or anchor names what
 * its writer chose). */
static void audit_anchor_print(const char *trail, const char *anchor, const char *message)
{
        text_escape_write(stdout, trail, strlen(trail), 0);
        fputs(": ", stdout);
        audit_verify_print(anchor, message);
}

static int audit_anchor_status(enum audit_anchor_verdict verdict)
{
        return verdict == AUDIT_ANCHOR_MATCH ? 0 : AUDIT_EXIT_ANCHOR;
}

/* One anchored session whose trail is the default one, or gone. */
struct audit_anchor_walk {
        const char *anchor_where, *anchor, *trusted;
        size_t anchor_length;
        const char *only; /* a session id or prefix; NULL: all */
        size_t matched;
        int status;
};

static bool audit_anchor_one(void *ctx, const char *session)
{
        struct audit_anchor_walk *w = ctx;
        if (w->only && strncmp(session, w->only, strlen(w->only)) != 0)
                return true;
        w->matched++;
        struct reins_error err = {0};
        cleanup_free char *path = audit_trail_default_path(session, &err);
        char *data = NULL;
        size_t length = 0;
        bool present = path && audit_read_file(path, &data, &length, &err) == 0;
        struct audit_anchor_result result;
        int status = 0;
        if (present) {
                struct audit_verify_result verified;
                audit_verify_buffer(data, length, w->trusted[0] ? w->trusted : NULL, &verified);
                audit_verify_print(path, verified.message);
                status = audit_exit_status(verified.verdict);
        }
        audit_anchor_check(w->anchor, w->anchor_length, session, present ? data : NULL, length,
                           w->trusted[0] ? w->trusted : NULL, &result);
        audit_anchor_print(present ? path : session, w->anchor_where, result.message);
        if (status == 0)
                status = audit_anchor_status(result.verdict);
        if (w->status == 0)
                w->status = status;
        free(data);
        return true;
}

/* The verdict of reins serve on a trail only it can read: an exit status,
 * or -1 when the daemon does not know the session (the local error
 * stands). The trust is the same as here: --key, --any-key, else the key
 * the daemon holds for the session's user, when it holds one. */
static int audit_verify_daemon(const struct audit_options *o, const char *trusted)
{
        struct reins_error err = {0};
        struct daemon_view daemon;
        const char *id = NULL;
        json_auto_t *verdict = NULL;
        int r = audit_daemon_find(&daemon, o->socket, o->target, &id, &err);
        if (r == 1 && (r = audit_daemon_verify(&daemon, id, &verdict, &err)) == 0)
                r = 1;
        if (r <= 0) {
                if (r < 0)
                        cli_error(&err);
                daemon_view_close(&daemon);
                /* 125 as for a trail that cannot be read: 1 would say altered */
                return r < 0 ? EXIT_REINS_FAILED : -1;
        }
        char where[200];
        snprintf(where, sizeof(where), "%s (reins serve)", id);
        daemon_view_close(&daemon);
        const char *name = json_string_value(json_object_get(verdict, "verdict"));
        const char *message = json_string_value(json_object_get(verdict, "message"));
        const char *key = json_string_value(json_object_get(verdict, "key"));
        int status = AUDIT_EXIT_ALTERED;
        for (int v = AUDIT_INTACT; v <= AUDIT_BAD_CERTIFICATE; v++)
                if (strcmp(name, audit_verdict_name((enum audit_verdict)v)) == 0)
                        status = audit_exit_status((enum audit_verdict)v);
        audit_verify_print(where, message ? message : name);
        if (status != 0)
                return status;
        char shown[300];
        text_show(shown, sizeof(shown), key ? key : "?");
        if (o->key) {
                /* the daemon checked with no key of ours: compare here */
                if (!key || strcasecmp(key, trusted) != 0) {
                        text_escape_write(stdout, where, strlen(where), 0);
                        printf(": signed by key %s, not by the --key given\n", shown);
                        return AUDIT_EXIT_KEY;
                }
        } else if (!o->any_key && !json_is_true(json_object_get(verdict, "key_trusted"))) {
                text_escape_write(stdout, where, strlen(where), 0);
                printf(": signed by key %s, but reins serve holds no key of the session's "
                       "user to compare it with: pass --key HEX (or --any-key)\n",
                       shown);
                return AUDIT_EXIT_KEY;
        }
        return 0;
}

static int audit_verify(int argc, char **argv)
{
        struct audit_options o = {0};
        if (audit_parse_options(argc, argv, &o) < 0)
                return EXIT_REINS_USAGE;
        struct reins_error err = {0};
        char trusted[65] = "";
        int k = audit_trusted_key(&o, trusted);
        if (k < 0)
                return k == -1 ? EXIT_REINS_USAGE : EXIT_REINS_FAILED;
        cleanup_free char *anchor = NULL;
        size_t anchor_length = 0;
        if (o.anchor && audit_anchor_read(o.anchor, &anchor, &anchor_length, &err) < 0) {
                cli_error(&err);
                return EXIT_REINS_FAILED;
        }
        if (anchor && !o.target) {
                struct audit_anchor_walk walk = {.anchor_where = o.anchor,
                                                 .anchor = anchor,
                                                 .anchor_length = anchor_length,
                                                 .trusted = trusted};
                audit_anchor_sessions(anchor, anchor_length, audit_anchor_one, &walk);
                if (walk.matched == 0)
                        audit_verify_print(o.anchor, "holds no session certificate");
                return walk.matched ? walk.status : AUDIT_EXIT_ANCHOR;
        }
        cleanup_free char *path = NULL;
        if (audit_locate(o.target, &path, &err) < 0) {
                /* not here: a session of the daemon's? (an anchor needs the
                 * trail's own bytes: not through the API) */
                int r = err.code == ENOENT && !anchor ? audit_verify_daemon(&o, trusted) : -1;
                if (r >= 0)
                        return r;
                if (!anchor || !o.target) {
                        cli_error(&err);
                        return EXIT_REINS_FAILED;
                }
                /* no such trail: the anchor may remember the session */
                struct audit_anchor_walk walk = {.anchor_where = o.anchor,
                                                 .anchor = anchor,
                                                 .anchor_length = anchor_length,
                                                 .trusted = trusted,
                                                 .only = o.target};
                audit_anchor_sessions(anchor, anchor_length, audit_anchor_one, &walk);
                if (walk.matched == 0) {
                        reins_error_prefix(&err, "the anchor holds no such session either");
                        cli_error(&err);
                        return EXIT_REINS_FAILED;
                }
                return walk.status;
        }
        char *data = NULL;
        size_t length = 0;
        struct audit_verify_result result;
        if (sodium_init() < 0 || audit_read_file(path, &data, &length, &err) < 0) {
                cli_error(&err);
                return EXIT_REINS_FAILED;
        }
        audit_verify_buffer(data, length, trusted[0] ? trusted : NULL, &result);
        int status = audit_exit_status(result.verdict);
        audit_verify_print(path, result.message);
        if (result.verdict == AUDIT_INTACT && !trusted[0] && !o.any_key) {
                /* no trust anchor: a forger could re-sign with a key of his own */
                char key[sizeof(result.key) * 4];
                text_escape_write(stdout, path, strlen(path), 0);
                printf(": signed by key %s, but you have no audit key to compare it with: "
                       "pass --key HEX (or --any-key)\n",
                       text_show(key, sizeof(key), result.key));
                status = AUDIT_EXIT_KEY;
        }
        if (anchor) {
                char session[128];
                audit_trail_session(path, data, length, session, sizeof(session));
                struct audit_anchor_result anchored;
                audit_anchor_check(anchor, anchor_length, session, data, length,
                                   trusted[0] ? trusted : NULL, &anchored);
                audit_anchor_print(path, o.anchor, anchored.message);
                if (status == 0)
                        status = audit_anchor_status(anchored.verdict);
        }
        free(data);
        return status;
}

static bool audit_tail_print(void *ctx, const json_t *record)
{
        const struct audit_options *o = ctx;
        audit_print_record(record, o->json, !o->json && isatty(STDOUT_FILENO));
        return fflush(stdout) == 0;
}

static int audit_tail(int argc, char **argv)
{
        struct audit_options o = {0};
        if (audit_parse_options(argc, argv, &o) < 0)
                return EXIT_REINS_USAGE;
        struct reins_error err = {0};
        cleanup_free char *dir = audit_trail_dir(&err);
        if (!dir) {
                cli_error(&err);
                return EXIT_REINS_FAILED;
        }
        cleanup_free char *newest = NULL;
        json_auto_t *records = NULL;
        size_t skipped = 0;
        int r = audit_locate(o.target, &newest, &err);
        if (r == 0 && audit_load_records(newest, &records, &skipped, &err) == 0) {
                size_t n = json_array_size(records);
                for (size_t i = n > (size_t)o.count ? n - (size_t)o.count : 0; i < n; i++)
                        audit_tail_print(&o, json_array_get(records, i));
        } else if (r < 0 && r != -ENOENT) {
                cli_error(&err);
                return EXIT_REINS_FAILED;
        }
        if (!o.follow)
                return 0;
        fflush(stdout);
        if (audit_follow(dir, audit_tail_print, &o, &err) < 0) {
                cli_error(&err);
                return EXIT_REINS_FAILED;
        }
        return 0;
}

/* Hidden: `reins audit bench [N] [--out FILE]`, the events/s benchmark
 * (bench/audit/run.sh). */
static int audit_bench_command(int argc, char **argv)
{
        uint64_t events = 200000;
        const char *out = NULL;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
                        out = argv[++i];
                else if (parse_count(argv[i], &events) < 0 || events == 0) {
                        fprintf(stderr, "reins: audit bench: expected a count, got '%s'\n",
                                argv[i]);
                        return EXIT_REINS_USAGE;
                }
        }
        char tmpdir[] = "/tmp/reins-audit-bench.XXXXXX";
        char path[sizeof(tmpdir) + 32];
        if (!out) {
                if (!mkdtemp(tmpdir)) {
                        perror("reins: mkdtemp");
                        return EXIT_REINS_FAILED;
                }
                snprintf(path, sizeof(path), "%s/bench.jsonl", tmpdir);
        }
        struct audit_bench_result result = {0};
        struct reins_error err = {0};
        int r = audit_bench(events, out ? out : path, &result, &err);
        if (!out) {
                unlink(path);
                rmdir(tmpdir);
        }
        if (r < 0) {
                notice("audit bench: %s", err.message);
                return EXIT_REINS_FAILED;
        }
        printf("append (trail): %llu events in %.3f s = %.0f events/s (%.1f MiB, %.0f "
               "bytes/event)\n",
               (unsigned long long)result.events, result.append_seconds,
               (double)result.events / result.append_seconds, (double)result.bytes / 1048576.0,
               (double)result.bytes / (double)result.events);
        printf("append (event_emit + trail): %.3f s = %.0f events/s\n", result.emit_seconds,
               (double)result.events / result.emit_seconds);
        printf("verify: %.3f s = %.0f records/s, verdict %s\n", result.verify_seconds,
               (double)result.events / result.verify_seconds,
               audit_verdict_name((enum audit_verdict)result.verdict));
        return result.verdict == AUDIT_INTACT ? 0 : EXIT_REINS_FAILED;
}

int cli_audit(int argc, char **argv)
{
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "help") == 0) {
                audit_usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? EXIT_REINS_USAGE : 0;
        }
        const char *verb = argv[1];
        if (strcmp(verb, "show") == 0)
                return audit_show(argc - 1, argv + 1);
        if (strcmp(verb, "tail") == 0)
                return audit_tail(argc - 1, argv + 1);
        if (strcmp(verb, "verify") == 0)
                return audit_verify(argc - 1, argv + 1);
        if (strcmp(verb, "export") == 0)
                return audit_export(argc - 1, argv + 1);
        if (strcmp(verb, "bench") == 0)
                return audit_bench_command(argc - 1, argv + 1);
        fprintf(stderr, "reins: audit: unknown command '%s' (show, tail, verify, export)\n", verb);
        return EXIT_REINS_USAGE;
}

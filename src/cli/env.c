/* reins env: build, list, show and remove declarative environments (the
 * roots a policy's `environment:` names; src/env/ does the work).
 *
 *   reins env build [-p POLICY] [--refresh]   build (or refresh) the policy's
 *                                              environment, write reins.lock
 *   reins env ls                               the cache's entries
 *   reins env show KEY | -p POLICY             what an entry was built from
 *   reins env rm KEY                           remove an entry
 *   reins env gc                               remove what no ref names */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/notice.h"
#include "env/env.h"
#include "util/text_escape.h"

/* A bar on a terminal, plain lines otherwise (one per step: the byte
 * counts of one step are not repeated into a log). */
struct cli_env_progress_state {
        bool tty;
        bool bar_shown;
        unsigned percent;
        char last[256];
};

static struct cli_env_progress_state cli_env_progress_state;

void cli_env_progress(void *ctx, const char *line, uint64_t done, uint64_t total)
{
        struct cli_env_progress_state *st = ctx ? ctx : &cli_env_progress_state;
        char shown[256];
        text_show(shown, sizeof(shown), line);
        if (st->tty && total > 0) {
                unsigned percent = (unsigned)(done * 100 / total);
                /* redrawn when the percentage or the step changes, not per block */
                if (st->bar_shown && percent == st->percent && strcmp(shown, st->last) == 0)
                        return;
                st->percent = percent;
                snprintf(st->last, sizeof(st->last), "%s", shown);
                unsigned filled = percent * 30 / 100;
                char bar[31];
                for (unsigned i = 0; i < 30; i++)
                        bar[i] = i < filled ? '#' : '.';
                bar[30] = '\0';
                fprintf(stderr, "\r\033[K[%s] %3u%% %.60s", bar, percent, shown);
                st->bar_shown = true;
                return;
        }
        if (strcmp(shown, st->last) == 0)
                return;
        snprintf(st->last, sizeof(st->last), "%s", shown);
        if (st->bar_shown) {
                fputc('\n', stderr);
                st->bar_shown = false;
        }
        fprintf(stderr, "reins: env: %s\n", shown);
}

void cli_env_progress_end(void)
{
        if (cli_env_progress_state.bar_shown)
                fputc('\n', stderr);
        cli_env_progress_state.bar_shown = false;
}

static void env_usage(FILE *out)
{
        fputs("usage: reins env build [-p POLICY] [--refresh]\n"
              "       reins env ls\n"
              "       reins env show KEY | -p POLICY\n"
              "       reins env rm KEY\n"
              "       reins env gc\n",
              out);
}

static int env_fail(const struct reins_error *err)
{
        cli_env_progress_end();
        cli_error(err);
        return EXIT_REINS_FAILED;
}

static int env_load_spec(const char *policy_name, struct env_spec **spec, struct reins_error *err)
{
        struct reins_policy *policy = NULL;
        int r = policy_load(policy_name, &policy, err);
        if (r == 0)
                r = env_spec_from_policy(policy, spec, err);
        if (r == 0 && !*spec)
                r = reins_error_set(err, EINVAL,
                                    "%s names no environment (environment.image or "
                                    "environment.debian)",
                                    policy_name);
        policy_free(policy);
        return r;
}

static int env_cmd_build(const char *cache, const char *policy_name, bool refresh)
{
        struct reins_error err = {0};
        struct env_spec *spec = NULL;
        if (env_load_spec(policy_name, &spec, &err) < 0)
                return env_fail(&err);
        cli_env_progress_state.tty = isatty(STDERR_FILENO);
        struct env_progress progress = {cli_env_progress, &cli_env_progress_state};
        struct env_entry entry = {0};
        bool built = true;
        int r = refresh ? env_build(cache, spec, true, &progress, &entry, &err)
                        : env_prepare(cache, spec, &progress, &entry, &built, &err);
        env_spec_free(spec);
        if (r < 0)
                return env_fail(&err);
        cli_env_progress_end();
        printf("%s %s\n", entry.key, built ? "built" : "cached (no build)");
        env_entry_free(&entry);
        return 0;
}

static int env_cmd_ls(const char *cache)
{
        struct reins_error err = {0};
        struct env_listing *items = NULL;
        size_t count = 0;
        if (env_list(cache, &items, &count, &err) < 0)
                return env_fail(&err);
        printf("%-12s  %-20s  %8s  %6s  %s\n", "KEY", "CREATED", "PACKAGES", "LAYERS", "SOURCE");
        for (size_t i = 0; i < count; i++) {
                char source[512];
                text_show(source, sizeof(source), items[i].source ? items[i].source : "?");
                printf("%.12s  %-20s  %8llu  %6llu  %s\n", items[i].key,
                       items[i].created ? items[i].created : "?",
                       (unsigned long long)items[i].packages, (unsigned long long)items[i].layers,
                       source);
        }
        env_listing_free(items, count);
        return 0;
}

static int env_cmd_show(const char *cache, const char *key, const char *policy_name)
{
        struct reins_error err = {0};
        char resolved[65] = "";
        if (!key) {
                struct env_spec *spec = NULL;
                struct env_entry entry = {0};
                if (env_load_spec(policy_name, &spec, &err) < 0)
                        return env_fail(&err);
                int r = env_lookup(cache, spec, &entry, &err);
                env_spec_free(spec);
                if (r == -ENOENT && err.code == 0)
                        reins_error_set(&err, ENOENT,
                                        "%s: its environment is not built yet "
                                        "(reins env build -p %s)",
                                        policy_name, policy_name);
                if (r < 0)
                        return env_fail(&err);
                memcpy(resolved, entry.key, sizeof(resolved));
                env_entry_free(&entry);
                key = resolved;
        }
        char *text = NULL;
        if (env_show(cache, key, &text, &err) < 0)
                return env_fail(&err);
        /* the source names paths a user chose: escaped line by line */
        for (char *line = text, *nl; *line; line = nl + 1) {
                nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line) : strlen(line);
                text_escape_write(stdout, line, len, 0);
                fputc('\n', stdout);
                if (!nl)
                        break;
        }
        free(text);
        return 0;
}

int cli_env(int argc, char **argv)
{
        if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
                env_usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? EXIT_REINS_USAGE : 0;
        }
        const char *verb = argv[1];
        const char *policy_name = NULL;
        bool refresh = false;
        static const struct option options[] = {{"policy", required_argument, NULL, 'p'},
                                                {"refresh", no_argument, NULL, 'r'},
                                                {"help", no_argument, NULL, 'h'},
                                                {NULL, 0, NULL, 0}};
        optind = 1;
        int c;
        while ((c = getopt_long(argc - 1, argv + 1, "+p:h", options, NULL)) != -1) {
                switch (c) {
                case 'p':
                        policy_name = optarg;
                        break;
                case 'r':
                        refresh = true;
                        break;
                case 'h':
                        env_usage(stdout);
                        return 0;
                default:
                        env_usage(stderr);
                        return EXIT_REINS_USAGE;
                }
        }
        int rest = argc - 1 - optind;
        char **args = argv + 1 + optind;
        struct reins_error err = {0};
        char *cache = NULL;
        if (env_cache_dir(&cache, &err) < 0)
                return env_fail(&err);
        int status = EXIT_REINS_USAGE;
        if (strcmp(verb, "build") == 0 && rest == 0) {
                status = env_cmd_build(cache, policy_name ? policy_name : "reins.yaml", refresh);
        } else if (strcmp(verb, "ls") == 0 && rest == 0) {
                status = env_cmd_ls(cache);
        } else if (strcmp(verb, "show") == 0 && (rest == 1) != (policy_name != NULL)) {
                status = env_cmd_show(cache, rest ? args[0] : NULL, policy_name);
        } else if (strcmp(verb, "rm") == 0 && rest == 1) {
                status = env_remove(cache, args[0], &err) < 0 ? env_fail(&err) : 0;
        } else if (strcmp(verb, "gc") == 0 && rest == 0) {
                size_t removed = 0;
                status = env_gc(cache, &removed, &err) < 0 ? env_fail(&err) : 0;
                if (status == 0)
                        printf("%zu environment%s removed\n", removed, removed == 1 ? "" : "s");
        } else {
                env_usage(stderr);
        }
        free(cache);
        return status;
}

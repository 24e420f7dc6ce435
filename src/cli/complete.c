/* Shell completion: `reins __complete WORD...` answers one TAB.
 *
 * Nothing here lists an option by hand. The options come from the table
 * each parser hands getopt_long (cli_getopt_long below prints it when
 * asked), kept to those the command's --help shows (internal ones such as
 * `run --pool-fd` stay hidden); subcommand names (`token mint`) and an
 * option's values (`--net none|proxy|host`) come from the --help text; the
 * ids come from `reins ps`, `ls` and `pending` --json. Each of those runs in
 * a child of this process, with its output read back through a pipe.
 *
 * What a TAB runs: `reins CMD --help`, and for the option table `reins CMD
 * [SUB] --help` with getopt_long answering the table and exiting at its first
 * call. So every subcommand must parse its arguments (and honour --help)
 * before it acts, as each does today: one that acted first would act on TAB. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "policy/policy.h"

#undef getopt_long

#define COMPLETE_OUTPUT_MAX (256 * 1024)
#define COMPLETE_OFFERS_MAX 1024

static bool complete_dump_options;

int cli_getopt_long(int argc, char *const argv[], const char *shortopts,
                    const struct option *longopts, int *longindex)
{
        if (!complete_dump_options)
                return getopt_long(argc, argv, shortopts, longopts, longindex);
        /* "--name" or "--name=" (takes a value), "-x" or "-x=" */
        for (const struct option *o = longopts; o && o->name; o++)
                printf("--%s%s\n", o->name, o->has_arg == required_argument ? "=" : "");
        for (const char *c = shortopts; *c; c++) {
                if (*c == '+' || *c == '-' || *c == ':')
                        continue;
                printf("-%c%s\n", *c, c[1] == ':' ? "=" : "");
        }
        fflush(stdout);
        _exit(0);
}

/* What `run(argc, argv)` prints (stdout, and stderr unless `quiet`), in a
 * child; with `dump`, its option table instead. NULL when it printed nothing. */
static char *complete_capture(const struct cli_command *command, char **argv, int argc, bool dump,
                              bool quiet)
{
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return NULL;
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
                close(fds[0]);
                close(fds[1]);
                return NULL;
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null < 0 || dup2(null, 0) < 0 || dup2(fds[1], 1) < 0 ||
                    dup2(quiet ? null : fds[1], 2) < 0)
                        _exit(1);
                complete_dump_options = dump;
                int status = command->run(argc, argv);
                fflush(stdout);
                fflush(stderr);
                _exit(status & 0xff);
        }
        close(fds[1]);
        size_t size = 0, cap = 4096;
        char *out = malloc(cap);
        while (out) {
                if (size + 1 >= cap) {
                        if (cap >= COMPLETE_OUTPUT_MAX)
                                break;
                        char *bigger = realloc(out, cap * 2);
                        if (!bigger) {
                                free(out);
                                out = NULL;
                                break;
                        }
                        out = bigger;
                        cap *= 2;
                }
                ssize_t n = read(fds[0], out + size, cap - size - 1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                size += (size_t)n;
        }
        close(fds[0]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        if (out)
                out[size] = '\0';
        if (out && size == 0) {
                free(out);
                out = NULL;
        }
        return out;
}

/* Candidates go to a shell: only plain characters, so a session id or a
 * name that came from elsewhere cannot carry a quote or a newline. */
static void complete_offer(const char *word, size_t len, const char *prefix)
{
        if (len == 0 || len > 128)
                return;
        for (size_t i = 0; i < len; i++)
                if (!strchr(
                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:@/=+-",
                        word[i]))
                        return;
        if (strlen(prefix) > len || strncmp(word, prefix, strlen(prefix)) != 0)
                return;
        /* once each: a usage text names a subcommand on several lines */
        static char offered[COMPLETE_OFFERS_MAX][129];
        static size_t count;
        for (size_t i = 0; i < count; i++)
                if (strlen(offered[i]) == len && memcmp(offered[i], word, len) == 0)
                        return;
        if (count < COMPLETE_OFFERS_MAX) {
                memcpy(offered[count], word, len);
                offered[count++][len] = '\0';
        }
        printf("%.*s\n", (int)len, word);
}

/* `option` ("--name" or "-x", `len` bytes) appears in `help` as a word of
 * its own: not inside `--name-more` or a longer option. */
static bool complete_help_mentions(const char *help, const char *option, size_t len)
{
        static const char word[] =
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
        if (len < 2)
                return false;
        for (const char *p = help; (p = memmem(p, strlen(p), option, len)) != NULL; p++) {
                char before = p == help ? ' ' : p[-1];
                char after = p[len];
                if (!strchr(word, before) && (after == '\0' || !strchr(word, after)))
                        return true;
        }
        return false;
}

/* The subcommand words a help text's usage lines name: `reins CMD WORD`,
 * `reins CMD lock|unlock`. */
static void complete_subcommands(const char *help, const char *command, const char *prefix)
{
        char lead[64];
        snprintf(lead, sizeof(lead), "reins %s ", command);
        for (const char *p = help; (p = strstr(p, lead)) != NULL;) {
                p += strlen(lead);
                const char *end = p + strspn(p, "abcdefghijklmnopqrstuvwxyz|");
                for (const char *w = p; w < end;) {
                        const char *stop = memchr(w, '|', (size_t)(end - w));
                        stop = stop ? stop : end;
                        complete_offer(w, (size_t)(stop - w), prefix);
                        w = stop + 1;
                }
        }
}

/* The values `--option a|b|c` shows in the help, lower-case words only. */
static void complete_option_values(const char *help, const char *option, const char *prefix)
{
        char needle[80];
        snprintf(needle, sizeof(needle), "%s ", option);
        for (const char *p = help; (p = strstr(p, needle)) != NULL;) {
                p += strlen(needle);
                const char *end = p + strcspn(p, " \n]");
                for (const char *w = p; w < end;) {
                        const char *stop = memchr(w, '|', (size_t)(end - w));
                        stop = stop ? stop : end;
                        bool lower = stop > w;
                        for (const char *c = w; c < stop; c++)
                                lower = lower && ((*c >= 'a' && *c <= 'z') || *c == '-');
                        if (lower)
                                complete_offer(w, (size_t)(stop - w), prefix);
                        w = stop + 1;
                }
        }
}

static void complete_offer_entry(const json_t *entry, const char *prefix)
{
        const char *id = json_string_value(json_object_get(entry, "id"));
        if (!id)
                id = json_string_value(json_object_get(entry, "session"));
        if (id)
                complete_offer(id, strlen(id), prefix);
}

/* The "id" (or "session") of each entry of `reins WHAT --json`: an array
 * (ls, pending) or one object a line (ps). */
static void complete_ids(const struct cli_command *commands, size_t count, const char *what,
                         const char *prefix)
{
        for (size_t i = 0; i < count; i++) {
                if (strcmp(commands[i].name, what) != 0)
                        continue;
                char *argv[] = {(char *)what, (char *)"--json", NULL};
                char *out = complete_capture(&commands[i], argv, 2, false, true);
                for (const char *p = out; p && *p;) {
                        json_error_t error;
                        json_t *value = json_loads(p, JSON_DISABLE_EOF_CHECK, &error);
                        if (!value || error.position <= 0)
                                break;
                        p += error.position;
                        size_t index;
                        json_t *entry;
                        if (json_is_array(value)) {
                                json_array_foreach(value, index, entry)
                                {
                                        complete_offer_entry(entry, prefix);
                                }
                        } else {
                                complete_offer_entry(value, prefix);
                        }
                        json_decref(value);
                        p += strspn(p, " \t\r\n");
                }
                free(out);
        }
}

/* Which list a command's positional argument comes from. */
static const char *complete_id_source(const char *command)
{
        static const char *const sources[][2] = {
            {"stop", "ps"},    {"thaw", "ps"},         {"diff", "ls"},      {"apply", "ls"},
            {"discard", "ls"}, {"approve", "pending"}, {"deny", "pending"},
        };
        for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
                if (strcmp(sources[i][0], command) == 0)
                        return sources[i][1];
        return NULL;
}

static void complete_presets(const char *prefix)
{
        for (const char *const *p = policy_preset_names(); *p; p++)
                complete_offer(*p, strlen(*p), prefix);
}

/* `--name=` when the table says it takes a value: the option before the
 * current word is waiting for one. */
static bool complete_takes_value(const char *table, const char *word)
{
        size_t len = strlen(word);
        for (const char *line = table; line && *line;) {
                const char *end = strchrnul(line, '\n');
                if ((size_t)(end - line) == len + 1 && strncmp(line, word, len) == 0 &&
                    line[len] == '=')
                        return true;
                line = *end ? end + 1 : end;
        }
        return false;
}

int cli_complete(int argc, char **argv, const struct cli_command *commands, size_t count)
{
        const char *cur = argc > 0 ? argv[argc - 1] : "";
        if (argc <= 1) {
                for (size_t i = 0; i < count; i++)
                        complete_offer(commands[i].name, strlen(commands[i].name), cur);
                return 0;
        }
        const struct cli_command *command = NULL;
        for (size_t i = 0; i < count; i++)
                if (strcmp(commands[i].name, argv[0]) == 0)
                        command = &commands[i];
        if (!command)
                return 0;
        /* after `run ... --`: the agent's command line, not ours to complete */
        for (int i = 1; i < argc - 1; i++)
                if (strcmp(argv[i], "--") == 0)
                        return 0;

        /* the command's help, and its subcommand if one was typed */
        char *help_argv[] = {argv[0], (char *)"--help", NULL};
        char *help = complete_capture(command, help_argv, 2, false, false);
        char *sub = NULL;
        for (int i = 1; i < argc - 1 && help && !sub; i++) {
                char lead[160];
                snprintf(lead, sizeof(lead), "reins %s %s", argv[0], argv[i]);
                if (argv[i][0] != '-' && strstr(help, lead))
                        sub = argv[i];
        }
        char *table_argv[] = {argv[0], sub ? sub : (char *)"--help", sub ? (char *)"--help" : NULL,
                              NULL};
        char *table = complete_capture(command, table_argv, sub ? 3 : 2, true, false);
        /* a table starts with an option; anything else is a help text (a
         * command whose parser is not getopt's) */
        if (table && table[0] != '-') {
                free(table);
                table = NULL;
        }

        /* reins run stops at its first word that is not an option (getopt's
         * '+'): from there on the words are the agent's command line */
        for (int i = 1; strcmp(argv[0], "run") == 0 && table && i < argc - 1; i++) {
                if (argv[i][0] != '-') {
                        free(help);
                        free(table);
                        return 0;
                }
                if (!strchr(argv[i], '=') && complete_takes_value(table, argv[i]))
                        i++; /* its value */
        }

        const char *prev = argv[argc - 2];
        if (prev[0] == '-' && table && complete_takes_value(table, prev)) {
                if (strcmp(prev, "--policy") == 0 || strcmp(prev, "-p") == 0)
                        complete_presets(cur); /* or a file: the shell's default */
                else if (help)
                        complete_option_values(help, prev, cur);
        } else if (cur[0] == '-') {
                for (const char *line = table; line && *line;) {
                        const char *end = strchrnul(line, '\n');
                        size_t len = (size_t)(end - line);
                        if (len && line[len - 1] == '=')
                                len--;
                        /* internal options (run --pool-fd) are those its help
                         * leaves out; a subcommand's own are all for users */
                        if (sub || (help && complete_help_mentions(help, line, len)))
                                complete_offer(line, len, cur);
                        line = *end ? end + 1 : end;
                }
                if (!table && help) /* a parser of its own: the options its help shows */
                        for (const char *p = help; (p = strstr(p, "--")) != NULL; p += 2) {
                                size_t len = 2 + strspn(p + 2, "abcdefghijklmnopqrstuvwxyz-");
                                if (len > 3 && complete_help_mentions(help, p, len))
                                        complete_offer(p, len, cur);
                        }
        } else {
                if (!sub && help && strcmp(argv[0], "oci") != 0)
                        complete_subcommands(help, argv[0], cur);
                if (strcmp(argv[0], "policy") == 0 && sub && strcmp(sub, "show") == 0)
                        complete_presets(cur);
                const char *source = complete_id_source(argv[0]);
                if (source)
                        complete_ids(commands, count, source, cur);
                if (strcmp(argv[0], "completion") == 0) {
                        static const char *const shells[] = {"bash", "zsh", "fish"};
                        for (size_t i = 0; i < 3; i++)
                                complete_offer(shells[i], strlen(shells[i]), cur);
                }
        }
        free(help);
        free(table);
        return 0;
}

/* The shell's side: each TAB asks `reins __complete` (the binary being
 * completed, so build/reins completes as build/reins does) with the words
 * so far; no candidate means the shell's own (file names). */
static const char completion_bash[] =
    "# bash completion for reins (reins completion bash)\n"
    "_reins() {\n"
    "\tlocal IFS=$'\\n'\n"
    "\tCOMPREPLY=($(compgen -W \"$(\"${COMP_WORDS[0]}\" __complete "
    "\"${COMP_WORDS[@]:1:COMP_CWORD}\" 2>/dev/null)\" -- \"${COMP_WORDS[COMP_CWORD]}\"))\n"
    "}\n"
    "complete -o default -o bashdefault -F _reins reins\n";

static const char completion_zsh[] =
    "#compdef reins\n"
    "# zsh completion for reins (reins completion zsh)\n"
    "local -a candidates\n"
    "candidates=(${(f)\"$(${words[1]} __complete \"${(@)words[2,CURRENT]}\" 2>/dev/null)\"})\n"
    "if (( ${#candidates} )); then\n"
    "\tcompadd -Q -- ${candidates}\n"
    "else\n"
    "\t_files\n"
    "fi\n";

static const char completion_fish[] =
    "# fish completion for reins (reins completion fish)\n"
    "function __reins_complete\n"
    "    set -l words (commandline -opc)\n"
    "    $words[1] __complete $words[2..-1] (commandline -ct) 2>/dev/null\n"
    "end\n"
    "complete -c reins -a '(__reins_complete)'\n";

int cli_completion_script(int argc, char **argv)
{
        if (argc == 2 && strcmp(argv[1], "bash") == 0)
                fputs(completion_bash, stdout);
        else if (argc == 2 && strcmp(argv[1], "zsh") == 0)
                fputs(completion_zsh, stdout);
        else if (argc == 2 && strcmp(argv[1], "fish") == 0)
                fputs(completion_fish, stdout);
        else {
                bool help =
                    argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
                fprintf(help ? stdout : stderr,
                        "usage: reins completion bash|zsh|fish\n\n"
                        "Print the shell's completion script (make install puts them in place):\n"
                        "  bash: source <(reins completion bash)\n"
                        "  zsh:  reins completion zsh > ~/.zfunc/_reins (a directory on $fpath)\n"
                        "  fish: reins completion fish > ~/.config/fish/completions/reins.fish\n"
                        "Commands, options, presets, session ids (reins ps, reins ls) and\n"
                        "pending request ids complete on TAB.\n");
                return help ? 0 : EXIT_REINS_USAGE;
        }
        return 0;
}

/* The engine's main: read the options reins passed, preopen the
 * directories, instantiate the module, run _start, and turn a trap into a
 * message, an event and exit status 134.
 *
 *   ENGINE [[--name NAME] --rw DIR | [--name NAME] --ro DIR | --cwd-rw DIR | --cwd-ro DIR]...
 *          [--deny GLOB]... [--protect PATH]... [--memory BYTES]
 *          [--events FILE] [--symbols FILE] -- ARGV0 ARGS...
 *
 * The options are reins' (the plan's), never the module's: everything
 * after `--` is the module's argv, verbatim. The environment is the
 * module's environment as the sandbox gave it (env.keep / env.set). */
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "wasm-rt-impl.h"

extern char **environ;

#define ENGINE_MAX_EVENTS 200

static void write_all(int fd, const char *text, size_t len)
{
        while (len > 0) {
                ssize_t n = write(fd, text, len);
                if (n <= 0)
                        return;
                text += n;
                len -= (size_t)n;
        }
}

/* A JSON string literal for bytes the module chose: quotes, backslashes,
 * controls and every byte above 0x7e escaped (\u00XX), so the line is
 * plain ASCII whatever the name held; cut to fit. */
void engine_json_string(char *out, size_t size, const char *text)
{
        size_t at = 0;
        if (size < 3)
                return;
        out[at++] = '"';
        for (const unsigned char *p = (const unsigned char *)text; *p && at + 8 < size; p++) {
                if (*p == '"' || *p == '\\') {
                        out[at++] = '\\';
                        out[at++] = (char)*p;
                } else if (*p < 0x20 || *p > 0x7e) {
                        at += (size_t)snprintf(out + at, size - at, "\\u%04x", *p);
                } else {
                        out[at++] = (char)*p;
                }
        }
        out[at++] = '"';
        out[at] = '\0';
}

static void event_line(const char *line)
{
        if (engine.events_fd < 0)
                return;
        write_all(engine.events_fd, line, strlen(line));
}

void engine_event_denied(const char *op, const char *path, const char *rule)
{
        /* a module looping on denied opens must not fill the disk */
        if (engine.events_fd < 0 || engine.denied_reported >= ENGINE_MAX_EVENTS)
                return;
        engine.denied_reported++;
        char p[4200], r[600], line[5000];
        engine_json_string(p, sizeof(p), path);
        engine_json_string(r, sizeof(r), rule);
        snprintf(line, sizeof(line),
                 "{\"type\":\"wasm.denied\",\"op\":\"%s\",\"path\":%s,\"rule\":%s}\n", op, p, r);
        event_line(line);
}

void engine_event_exit(int status)
{
        char line[128];
        snprintf(line, sizeof(line), "{\"type\":\"wasm.exit\",\"status\":%d}\n", status);
        event_line(line);
}

void engine_event_trap(const char *trap, const char *function)
{
        char f[600], line[800];
        engine_json_string(f, sizeof(f), function ? function : "");
        snprintf(line, sizeof(line), "{\"type\":\"wasm.trap\",\"trap\":\"%s\",\"function\":%s}\n",
                 trap, f);
        event_line(line);
}

static const char *trap_name(wasm_rt_trap_t code)
{
        switch (code) {
        case WASM_RT_TRAP_OOB:
                return "out of bounds memory access";
        case WASM_RT_TRAP_INT_OVERFLOW:
                return "integer overflow";
        case WASM_RT_TRAP_DIV_BY_ZERO:
                return "integer divide by zero";
        case WASM_RT_TRAP_INVALID_CONVERSION:
                return "invalid conversion to integer";
        case WASM_RT_TRAP_UNREACHABLE:
                return "unreachable executed";
        case WASM_RT_TRAP_CALL_INDIRECT:
                return "indirect call type mismatch";
        case WASM_RT_TRAP_UNCAUGHT_EXCEPTION:
                return "uncaught exception";
        case WASM_RT_TRAP_EXHAUSTION:
                return "call stack exhausted";
        default:
                return "trap";
        }
}

/* The module's function holding `pc`, from the nm listing reins wrote
 * beside the executable ("ADDRESS t NAME" lines, sorted by address).
 * wasm2c names a function w2c_NAME after the module's name section when it
 * has one (else by its index), and an export Z_mZ_NAME. */
static bool symbol_of(uintptr_t pc, char *out, size_t size)
{
        if (!engine.symbols)
                return false;
        FILE *f = fopen(engine.symbols, "re");
        if (!f)
                return false;
        /* the executable is position-independent (ASLR for its code too):
         * the listing's addresses are shifted by where it was loaded,
         * found from this very function's */
        char line[1024], best[512] = "";
        uintptr_t shift = 0;
        bool anchored = false;
        while (!anchored && fgets(line, sizeof(line), f)) {
                char kind, name[512];
                uintmax_t at;
                if (sscanf(line, "%jx %c %511s", &at, &kind, name) == 3 &&
                    strcmp(name, "engine_on_trap") == 0) {
                        shift = (uintptr_t)&engine_on_trap - (uintptr_t)at;
                        anchored = true;
                }
        }
        if (!anchored) {
                fclose(f);
                return false;
        }
        pc -= shift;
        rewind(f);
        while (fgets(line, sizeof(line), f)) {
                char kind, name[512];
                uintmax_t at;
                if (sscanf(line, "%jx %c %511s", &at, &kind, name) != 3)
                        continue;
                if ((uintptr_t)at > pc)
                        break;
                if (kind == 't' || kind == 'T')
                        snprintf(best, sizeof(best), "%s", name);
        }
        fclose(f);
        /* gcc's clones (.isra.0, .part.0, .cold): wasm2c's names have no dot */
        best[strcspn(best, ".")] = '\0';
        if (strncmp(best, "w2c_", 4) == 0)
                snprintf(out, size, "%s", best + 4);
        else if (strncmp(best, "Z_mZ_", 5) == 0)
                snprintf(out, size, "%s", best + 5); /* an export, inlined into */
        else
                return false;
        return true;
}

/* wasm-rt-impl.c is compiled with WASM_RT_TRAP_HANDLER=engine_on_trap:
 * every trap (an explicit one, or SIGSEGV in the guard region of linear
 * memory or of the stack) ends here. */
void engine_on_trap(wasm_rt_trap_t code)
{
        void *frames[32];
        int n = backtrace(frames, 32);
        char function[512] = "";
        for (int i = 0; i < n && !function[0]; i++)
                /* a return address is one past the call, which may be the
                 * last instruction of its function: look up the call */
                if (!symbol_of((uintptr_t)frames[i] - 1, function, sizeof(function)))
                        function[0] = '\0';
        char shown[600];
        engine_json_string(shown, sizeof(shown), function);
        char message[1024];
        int len = snprintf(message, sizeof(message), "reins: wasm trap: %s%s%s\n", trap_name(code),
                           function[0] ? " in function " : "", function[0] ? shown : "");
        write_all(2, message, (size_t)len);
        engine_event_trap(trap_name(code), function);
        _exit(ENGINE_EXIT_TRAP);
}

__attribute__((noreturn)) static void engine_fail(const char *what, const char *detail)
{
        fprintf(stderr, "reins: wasm engine: %s%s%s\n", what, detail ? ": " : "",
                detail ? detail : "");
        _exit(ENGINE_EXIT_FAILED);
}

static void parse_options(int argc, char **argv)
{
        int i = 1;
        const char *next_name = NULL; /* --name: the next preopen's name for the module */
        for (; i < argc; i++) {
                const char *opt = argv[i];
                if (strcmp(opt, "--") == 0) {
                        i++;
                        break;
                }
                if (i + 1 >= argc)
                        engine_fail("option without a value", opt);
                const char *value = argv[++i];
                if (strcmp(opt, "--rw") == 0 || strcmp(opt, "--ro") == 0 ||
                    strcmp(opt, "--cwd-rw") == 0 || strcmp(opt, "--cwd-ro") == 0) {
                        bool writable = strstr(opt, "rw") != NULL;
                        const char *name = strncmp(opt, "--cwd", 5) == 0 ? "."
                                           : next_name                   ? next_name
                                                                         : value;
                        next_name = NULL;
                        /* a path the plan binds may be absent here (an
                         * optional read path): it is simply not preopened */
                        int r = engine_add_preopen(value, name, writable);
                        if (r < 0 && r != -ENOENT && r != -ENOTDIR && r != -EACCES)
                                engine_fail("cannot preopen", value);
                } else if (strcmp(opt, "--name") == 0) {
                        next_name = value;
                } else if (strcmp(opt, "--deny") == 0) {
                        if (engine.deny_count >= ENGINE_MAX_RULES)
                                engine_fail("too many deny rules", NULL);
                        engine.deny[engine.deny_count++] = value;
                } else if (strcmp(opt, "--protect") == 0) {
                        if (engine.protect_count >= ENGINE_MAX_RULES)
                                engine_fail("too many protected paths", NULL);
                        engine.protect[engine.protect_count++] = value;
                } else if (strcmp(opt, "--memory") == 0) {
                        engine.memory_limit = strtoull(value, NULL, 10);
                } else if (strcmp(opt, "--events") == 0) {
                        engine.events_fd =
                            open(value, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
                } else if (strcmp(opt, "--symbols") == 0) {
                        engine.symbols = value;
#ifdef REINS_WEAKEN_BUILD
                } else if (strcmp(opt, "--weaken") == 0) {
                        engine.weak_beneath |= strcmp(value, "beneath") == 0;
                        engine.weak_fds |= strcmp(value, "fds") == 0;
#endif
                } else {
                        engine_fail("unknown option", opt);
                }
        }
        if (i >= argc)
                engine_fail("no module arguments", NULL);
        engine.args = argv + i;
        engine.arg_count = argc - i;
        int n = 0;
        while (environ[n])
                n++;
        engine.env = environ;
        engine.env_count = n;
}

int main(int argc, char **argv)
{
        engine_init_stdio();
        parse_options(argc, argv);
        wasm_rt_init();
        reins_wasm_module_init();
        reins_wasm_module_instantiate(&engine.wasi);
        wasm_rt_memory_t *memory = reins_wasm_module_memory();
        engine.wasi.memory = memory;
        if (memory && engine.memory_limit > 0) {
                uint64_t pages = engine.memory_limit / 65536;
                if (memory->pages > pages) {
                        char detail[128];
                        snprintf(detail, sizeof(detail),
                                 "%u pages of 64 KiB, limits.memory "
                                 "allows %" PRIu64,
                                 memory->pages, pages);
                        engine_fail("the module's initial linear memory exceeds the limit", detail);
                }
                /* memory.grow beyond this fails (returns -1) like any
                 * allocation failure the module must handle */
                if (memory->max_pages > pages)
                        memory->max_pages = (uint32_t)pages;
        }
        reins_wasm_module_start();
        engine_event_exit(0);
        return 0;
}

/* isolation: wasm in a session (run.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/plan_internal.h"
#include "util/bytes_json.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/path.h"
#include "util/weaken.h"
#include "wasm/run.h"

#define WASM_MODULE_MAX (512ULL << 20)

bool wasm_command_is_module(const char *path)
{
        if (!path)
                return false;
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return false;
        struct stat st;
        unsigned char head[WASM_MAGIC_LEN];
        bool is = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                  pread(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) &&
                  wasm_is_module(head, sizeof(head));
        close(fd);
        return is;
}

static int read_module(const char *path, uint8_t **bytes, size_t *length, struct reins_error *err)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return reins_error_errno(err, errno, "%s", path);
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return reins_error_set(err, EINVAL, "%s: not a regular file", path);
        }
        bool truncated = false;
        char *data = NULL;
        int r = fileio_read_fd(fd, WASM_MODULE_MAX, &data, length, &truncated);
        close(fd);
        if (r < 0)
                return reins_error_errno(err, -r, "reading %s", path);
        if (truncated) {
                free(data);
                return reins_error_set(err, EFBIG, "%s: larger than %llu MiB", path,
                                       (unsigned long long)(WASM_MODULE_MAX >> 20));
        }
        *bytes = (uint8_t *)data;
        return 0;
}

static int push2(struct reins_strv *v, const char *a, const char *b)
{
        return strv_push(v, a) < 0 || strv_push(v, b) < 0 ? -ENOMEM : 0;
}

/* --rw/--ro paths the caller wrote relative (wasi-testsuite's
 * `--dir fs-tests.dir`) are preopened under that name too, as other WASI
 * runtimes name a directory they are given. */
static int named_preopens(char *const *written, size_t count, const char *kind,
                          struct reins_strv *v)
{
        for (size_t i = 0; i < count; i++) {
                const char *w = written[i];
                if (w[0] == '/' || w[0] == '~')
                        continue;
                char *abs = realpath(w, NULL);
                if (!abs)
                        continue; /* the plan said what is missing */
                int r = push2(v, "--name", w);
                if (r == 0)
                        r = push2(v, kind, abs);
                free(abs);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The engine's options from the plan (engine/engine.c lists them). */
static int engine_argv(const struct reins_plan *plan, const struct reins_strv *extra_ro,
                       const struct reins_strv *extra_rw, struct reins_strv *v)
{
        int r = strv_push(v, WASM_ENGINE_DIR "/engine");
        if (r == 0 && extra_rw)
                r = named_preopens(extra_rw->items, extra_rw->count, "--rw", v);
        if (r == 0 && extra_ro)
                r = named_preopens(extra_ro->items, extra_ro->count, "--ro", v);
        /* the workspace, as ".": relative paths name it */
        if (r == 0)
                r = push2(v, plan->workspace_readonly ? "--cwd-ro" : "--cwd-rw", plan->cwd);
        for (size_t i = 0; r == 0 && i < plan->mount_count; i++) {
                const struct mount_op *op = &plan->mounts[i];
                const char *t = op->target;
                if (strcmp(t, WASM_ENGINE_DIR) == 0 || strcmp(t, WASM_EVENTS_PATH) == 0)
                        continue;
                switch (op->kind) {
                case MOUNT_OP_BIND_RO:
                        r = push2(v, "--ro", t);
                        break;
                case MOUNT_OP_BIND_RW:
                case MOUNT_OP_OVERLAY:
                        r = push2(v, "--rw", t);
                        break;
                case MOUNT_OP_TMPFS:
                        if (strcmp(t, "/tmp") == 0)
                                r = push2(v, "--rw", t);
                        break;
                case MOUNT_OP_HIDE:
                        r = push2(v, "--deny", t);
                        break;
                case MOUNT_OP_PROTECT:
                        r = push2(v, "--protect", t);
                        break;
                default:
                        break;
                }
        }
        for (size_t i = 0; r == 0 && i < plan->deny_patterns.count; i++)
                r = push2(v, "--deny", plan->deny_patterns.items[i]);
        char memory[32];
        snprintf(memory, sizeof(memory), "%llu", (unsigned long long)plan->limits.memory_bytes);
        if (r == 0)
                r = push2(v, "--memory", memory);
        if (r == 0)
                r = push2(v, "--events", WASM_EVENTS_PATH);
        if (r == 0)
                r = push2(v, "--symbols", WASM_ENGINE_DIR "/engine.syms");
        /* weakened builds only (make weak): the engine's own checks off,
         * so the escape probes can be seen to fail */
        if (r == 0 && weaken("wasm-beneath"))
                r = push2(v, "--weaken", "beneath");
        if (r == 0 && weaken("wasm-fds"))
                r = push2(v, "--weaken", "fds");
        if (r == 0)
                r = strv_push(v, "--");
        for (char **a = plan->argv; r == 0 && *a; a++)
                r = strv_push(v, *a);
        return r;
}

int wasm_run_prepare(struct wasm_run *run, struct reins_plan *plan, const char *cache_dir,
                     const char *events_dir, const char *session, const struct reins_strv *extra_ro,
                     const struct reins_strv *extra_rw, struct reins_error *err)
{
        if (!cache_dir || !events_dir)
                return reins_error_set(err, ENOENT,
                                       "isolation wasm: reins has no private state directory "
                                       "for its module cache");
        run->module_path = strdup(plan->argv[0]);
        if (!run->module_path)
                return reins_error_set(err, ENOMEM, "out of memory");
        cleanup_free uint8_t *bytes = NULL;
        size_t length = 0;
        int r = read_module(plan->argv[0], &bytes, &length, err);
        if (r < 0)
                return r;
        run->module_size = length;
        if ((r = wasm_module_inspect(bytes, length, &run->info, err)) < 0)
                return reins_error_prefix(err, "%s", plan->argv[0]);
        if ((r = wasm_cache_build(cache_dir, bytes, length, &run->info, &run->build, err)) < 0)
                return reins_error_prefix(err, "%s", plan->argv[0]);
        /* the engine's report: a fresh file of reins', bound writable at
         * one path; the module cannot name it (it is no preopen) */
        char name[96];
        snprintf(name, sizeof(name), "%s.jsonl", session);
        run->events_path = path_join(events_dir, name);
        if (!run->events_path)
                return reins_error_set(err, ENOMEM, "out of memory");
        unlink(run->events_path);
        int fd = open(run->events_path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return reins_error_errno(err, errno, "creating %s", run->events_path);
        run->events_fd = fd;
        run->events_open = true;
        if ((r = plan_add_mount(plan, MOUNT_OP_BIND_RO, run->build.dir, WASM_ENGINE_DIR, 0)) < 0 ||
            (r = plan_add_mount(plan, MOUNT_OP_BIND_RW, run->events_path, WASM_EVENTS_PATH, 0)) <
                0 ||
            (r = plan_add_landlock(plan, WASM_ENGINE_DIR, LANDLOCK_RULE_READ_EXEC)) < 0 ||
            (r = plan_add_landlock(plan, WASM_EVENTS_PATH, LANDLOCK_RULE_READ_WRITE)) < 0)
                return reins_error_set(err, ENOMEM, "out of memory");
        struct reins_strv argv = {0};
        if ((r = engine_argv(plan, extra_ro, extra_rw, &argv)) < 0) {
                strv_free(&argv);
                return reins_error_set(err, ENOMEM, "out of memory");
        }
        strv_free(&plan->argv_owned);
        plan->argv_owned = argv;
        plan->argv = plan->argv_owned.items;
        return 0;
}

void wasm_run_emit_start(const struct wasm_run *run, struct event_bus *bus)
{
        json_t *fields = json_object();
        json_t *imports = json_array();
        if (!fields || !imports) {
                json_decref(fields);
                json_decref(imports);
                return;
        }
        for (size_t i = 0; i < run->info.imports.count; i++)
                json_array_append_new(imports, bytes_json_z(run->info.imports.items[i]));
        json_object_set_new(fields, "module", bytes_json_z(run->module_path));
        json_object_set_new(fields, "sha256", json_string(run->info.sha256));
        json_object_set_new(fields, "size", json_integer((json_int_t)run->module_size));
        json_object_set_new(fields, "imports", imports);
        json_object_set_new(fields, "engine", json_string("wasm2c"));
        json_object_set_new(fields, "cached", json_boolean(run->build.cached));
        if (!run->build.cached)
                json_object_set_new(fields, "compile_ms",
                                    json_integer((json_int_t)run->build.took_ms));
        event_emit(bus, "wasm.start", fields);
}

/* One line of the engine's report as an event: only the fields and types
 * reins knows, the strings re-escaped by bytes_json. */
static void emit_line(const char *line, struct event_bus *bus)
{
        json_error_t jerr;
        json_t *in = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
        const char *type = json_string_value(json_object_get(in, "type"));
        json_t *out = json_object();
        if (!type || !out) {
                json_decref(in);
                json_decref(out);
                return;
        }
        static const char *const strings[] = {"op", "path", "rule", "trap", "function"};
        for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
                const char *v = json_string_value(json_object_get(in, strings[i]));
                if (v)
                        json_object_set_new(out, strings[i], bytes_json_z(v));
        }
        json_t *status = json_object_get(in, "status");
        if (json_is_integer(status))
                json_object_set_new(out, "status", json_integer(json_integer_value(status)));
        if (strcmp(type, "wasm.denied") == 0 || strcmp(type, "wasm.exit") == 0 ||
            strcmp(type, "wasm.trap") == 0)
                event_emit(bus, type, out);
        else
                json_decref(out);
        json_decref(in);
}

void wasm_run_poll(struct wasm_run *run, struct event_bus *bus)
{
        if (!run->events_open)
                return;
        char buf[4096];
        while (run->events_read < WASM_EVENTS_LIMIT) {
                size_t want = sizeof(buf);
                if (want > WASM_EVENTS_LIMIT - run->events_read)
                        want = (size_t)(WASM_EVENTS_LIMIT - run->events_read);
                ssize_t n = pread(run->events_fd, buf, want, (off_t)run->events_read);
                if (n <= 0)
                        return;
                run->events_read += (uint64_t)n;
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] != '\n') {
                                if (run->line_len + 1 < sizeof(run->line))
                                        run->line[run->line_len++] = buf[i];
                                else
                                        run->line_too_long = true;
                                continue;
                        }
                        run->line[run->line_len] = '\0';
                        if (!run->line_too_long)
                                emit_line(run->line, bus);
                        run->line_len = 0;
                        run->line_too_long = false;
                }
        }
}

void wasm_run_emit_report(struct wasm_run *run, struct event_bus *bus)
{
        wasm_run_poll(run, bus);
        if (run->events_open)
                close(run->events_fd);
        run->events_open = false;
        if (run->events_path)
                unlink(run->events_path);
}

void wasm_run_free(struct wasm_run *run)
{
        if (run->events_open)
                close(run->events_fd);
        wasm_module_info_free(&run->info);
        wasm_build_free(&run->build);
        free(run->module_path);
        free(run->events_path);
        memset(run, 0, sizeof(*run));
}

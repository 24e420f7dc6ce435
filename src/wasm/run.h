/* isolation: wasm — how a session runs a WASI module: the plan's command
 * becomes the module's engine (cached, src/wasm/cache.h), bound read-only
 * into the usual container sandbox, and told which directories to
 * preopen, which paths are denied and protected, the memory limit and
 * where to report. */
#ifndef REINS_WASM_RUN_H
#define REINS_WASM_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "audit/event.h"
#include "sandbox/plan.h"
#include "util/error.h"
#include "wasm/cache.h"
#include "wasm/module.h"

/* Where the engine and its report appear inside the sandbox. */
#define WASM_ENGINE_DIR   "/.reins-wasm"
#define WASM_EVENTS_PATH  "/.reins-wasm-events"
#define WASM_EVENTS_LIMIT (256 << 10) /* bytes read back, at most */

struct wasm_run {
        struct wasm_module_info info;
        struct wasm_build build;
        char *module_path; /* as given (argv[0]) */
        uint64_t module_size;
        char *events_path; /* host file the engine appends to */
        /* reading it while the module runs (wasm_run_poll) */
        bool events_open;
        int events_fd;
        uint64_t events_read;
        char line[8192];
        size_t line_len;
        bool line_too_long;
};

/* Is `path` (a command's argv[0], as the caller's cwd sees it) a Wasm
 * module? False for anything unreadable or not a regular file. */
bool wasm_command_is_module(const char *path);

/* Inspect and build the module plan->argv[0] names, then rewrite the plan
 * to run it (see above). events_dir: a private directory for the report
 * file of this session (named by `session`). extra_ro/extra_rw: --ro/--rw
 * as the caller wrote them (relative ones are also preopened by that name;
 * NULL: none). */
int wasm_run_prepare(struct wasm_run *run, struct reins_plan *plan, const char *cache_dir,
                     const char *events_dir, const char *session, const struct reins_strv *extra_ro,
                     const struct reins_strv *extra_rw, struct reins_error *err);

/* wasm.start: the module's digest, size, imports and how it was built. */
void wasm_run_emit_start(const struct wasm_run *run, struct event_bus *bus);

/* What the engine added to its report since the last call, as events
 * (denied paths, exit, trap): called from the session's loop while the
 * module runs, so the risk engine acts on a module still running. At most
 * WASM_EVENTS_LIMIT bytes are read in all; a line longer than 8 KiB is
 * dropped. */
void wasm_run_poll(struct wasm_run *run, struct event_bus *bus);

/* After the engine ended: the rest of its report, and the file removed. */
void wasm_run_emit_report(struct wasm_run *run, struct event_bus *bus);

void wasm_run_free(struct wasm_run *run);

#endif

/* The compiled form of a module, cached by its SHA-256: wasm2c translates
 * it to C, the system compiler builds it, and it is linked statically with
 * reins' engine (src/wasm/engine: the WASI layer) and wabt's runtime into
 * one executable that needs nothing from the sandbox's filesystem. */
#ifndef REINS_WASM_CACHE_H
#define REINS_WASM_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "wasm/module.h"

struct wasm_build {
        char *dir;        /* the cache entry: DIR/engine and DIR/engine.syms */
        bool cached;      /* it was there already */
        uint64_t took_ms; /* translating and compiling, 0 when cached */
};

/* The executable for `bytes` (inspected as `info`) under cache_dir
 * (private to the user, created by the caller). Builds it when missing:
 * wasm2c, cc and nm from PATH (REINS_WASM_CC overrides cc). */
int wasm_cache_build(const char *cache_dir, const uint8_t *bytes, size_t length,
                     const struct wasm_module_info *info, struct wasm_build *out,
                     struct reins_error *err);
void wasm_build_free(struct wasm_build *build);

#endif

/* What reins reads of a Wasm module before it runs it: the header, the
 * type, import and export sections. Pure (no I/O): the bytes are the
 * agent's or a download's, so every count and length is bounded by the
 * bytes that are there, and this file is fuzzed (tests/fuzz/fuzz_wasm.c).
 *
 * The imports decide whether the module may run at all: only functions
 * of wasi_snapshot_preview1, each with the signature WASI gives it. The
 * engine is linked by C symbol names, which carry no types: a module
 * declaring fd_write(i64) would otherwise call reins' fd_write with the
 * wrong arguments. */
#ifndef REINS_WASM_MODULE_H
#define REINS_WASM_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/strv.h"

#define WASM_MAGIC_LEN 4

struct wasm_module_info {
        struct reins_strv imports; /* "wasi_snapshot_preview1.fd_write", in order */
        bool has_start;            /* exports a function "_start" */
        bool has_memory;           /* exports a memory "memory" */
        uint32_t initial_pages;    /* the memory section's, 0 when none */
        char sha256[65];
};

/* Do the first bytes say "\0asm"? */
bool wasm_is_module(const void *head, size_t length);

/* Parse and check: 0, or -EINVAL (not a module, malformed, a section
 * cut short) / -ENOTSUP (an import reins does not give, or with another
 * signature; no _start or memory export) with the reason in err. */
int wasm_module_inspect(const uint8_t *bytes, size_t length, struct wasm_module_info *out,
                        struct reins_error *err);
void wasm_module_info_free(struct wasm_module_info *info);

#endif

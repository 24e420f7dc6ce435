/* A Wasm module's header, type, import and export sections, as reins reads
 * them before it compiles a module (wasm_module_inspect): whatever the
 * bytes, no read past them, and a module that is accepted imports only
 * WASI preview 1 functions, exports _start and memory, and has a digest. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wasm/module.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t *buf = malloc(size ? size : 1); /* exact size: over-reads are caught */
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        struct wasm_module_info info;
        struct reins_error err = {0};
        int r = wasm_module_inspect(buf, size, &info, &err);
        if (r == 0) {
                FUZZ_CHECK(info.has_start && info.has_memory);
                FUZZ_CHECK(strlen(info.sha256) == 64);
                for (size_t i = 0; i < info.imports.count; i++)
                        FUZZ_CHECK(strncmp(info.imports.items[i], "wasi_snapshot_preview1.", 23) ==
                                   0);
                wasm_module_info_free(&info);
        } else {
                FUZZ_CHECK(err.message[0] != '\0');
                FUZZ_CHECK(info.imports.count == 0);
        }
        free(buf);
        return 0;
}

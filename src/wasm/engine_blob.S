/* The engine archive (src/wasm/engine compiled with wabt's runtime, see
 * the Makefile) inside the reins binary: wasm/cache.c writes it into the
 * cache once and links every module with it. */
        .section .rodata
        .global reins_wasm_engine_archive
        .global reins_wasm_engine_archive_end
        .balign 16
reins_wasm_engine_archive:
        .incbin REINS_WASM_ENGINE_ARCHIVE
reins_wasm_engine_archive_end:
        .section .note.GNU-stack,"",@progbits

/* Linear memory as the WASI calls see it: every pointer/length pair the
 * module passes is checked against the memory's current size before a
 * byte is touched (the memory grows, so the size is read each time). */
#include <string.h>

#include "engine.h"

uint8_t *engine_mem(uint32_t ptr, uint64_t len)
{
        wasm_rt_memory_t *m = engine.wasi.memory;
        if (!m || (uint64_t)ptr + len > (uint64_t)m->size)
                return NULL;
        return m->data + ptr;
}

bool engine_store_u32(uint32_t ptr, uint32_t value)
{
        uint8_t *at = engine_mem(ptr, 4);
        if (!at)
                return false;
        memcpy(at, &value, 4); /* Wasm is little-endian, as x86-64 and arm64 */
        return true;
}

bool engine_store_u64(uint32_t ptr, uint64_t value)
{
        uint8_t *at = engine_mem(ptr, 8);
        if (!at)
                return false;
        memcpy(at, &value, 8);
        return true;
}

/* Reading a module's header, types, imports and exports (module.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/digest.h"
#include "wasm/module.h"

#define MAX_TYPES   100000
#define MAX_IMPORTS 10000
#define MAX_NAME    1024

/* The signatures of WASI preview 1: parameters then ':' then results,
 * 'i' for i32 and 'I' for i64. */
static const struct {
        const char *name, *signature;
} wasi_functions[] = {
    {"args_get", "ii:i"},
    {"args_sizes_get", "ii:i"},
    {"environ_get", "ii:i"},
    {"environ_sizes_get", "ii:i"},
    {"clock_res_get", "ii:i"},
    {"clock_time_get", "iIi:i"},
    {"fd_advise", "iIIi:i"},
    {"fd_allocate", "iII:i"},
    {"fd_close", "i:i"},
    {"fd_datasync", "i:i"},
    {"fd_fdstat_get", "ii:i"},
    {"fd_fdstat_set_flags", "ii:i"},
    {"fd_fdstat_set_rights", "iII:i"},
    {"fd_filestat_get", "ii:i"},
    {"fd_filestat_set_size", "iI:i"},
    {"fd_filestat_set_times", "iIIi:i"},
    {"fd_pread", "iiiIi:i"},
    {"fd_prestat_get", "ii:i"},
    {"fd_prestat_dir_name", "iii:i"},
    {"fd_pwrite", "iiiIi:i"},
    {"fd_read", "iiii:i"},
    {"fd_readdir", "iiiIi:i"},
    {"fd_renumber", "ii:i"},
    {"fd_seek", "iIii:i"},
    {"fd_sync", "i:i"},
    {"fd_tell", "ii:i"},
    {"fd_write", "iiii:i"},
    {"path_create_directory", "iii:i"},
    {"path_filestat_get", "iiiii:i"},
    {"path_filestat_set_times", "iiiiIIi:i"},
    {"path_link", "iiiiiii:i"},
    {"path_open", "iiiiiIIii:i"},
    {"path_readlink", "iiiiii:i"},
    {"path_remove_directory", "iii:i"},
    {"path_rename", "iiiiii:i"},
    {"path_symlink", "iiiii:i"},
    {"path_unlink_file", "iii:i"},
    {"poll_oneoff", "iiii:i"},
    {"proc_exit", "i:"},
    {"proc_raise", "i:i"},
    {"sched_yield", ":i"},
    {"random_get", "ii:i"},
    {"sock_accept", "iii:i"},
    {"sock_recv", "iiiiii:i"},
    {"sock_send", "iiiii:i"},
    {"sock_shutdown", "ii:i"},
};

struct reader {
        const uint8_t *at, *end;
};

static int read_u8(struct reader *r, uint8_t *out)
{
        if (r->at >= r->end)
                return -EINVAL;
        *out = *r->at++;
        return 0;
}

/* unsigned LEB128, at most 5 bytes, no bits beyond 32 */
static int read_u32(struct reader *r, uint32_t *out)
{
        uint32_t value = 0;
        for (int shift = 0; shift < 35; shift += 7) {
                uint8_t b;
                if (read_u8(r, &b) < 0)
                        return -EINVAL;
                if (shift == 28 && (b & 0x70))
                        return -EINVAL;
                value |= (uint32_t)(b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *out = value;
                        return 0;
                }
        }
        return -EINVAL;
}

static int read_bytes(struct reader *r, uint32_t len, const uint8_t **out)
{
        if ((size_t)(r->end - r->at) < len)
                return -EINVAL;
        *out = r->at;
        r->at += len;
        return 0;
}

static int read_name(struct reader *r, char *out, size_t size)
{
        uint32_t len;
        const uint8_t *bytes;
        if (read_u32(r, &len) < 0 || read_bytes(r, len, &bytes) < 0)
                return -EINVAL;
        if (len >= size || memchr(bytes, '\0', len))
                return -ENAMETOOLONG;
        memcpy(out, bytes, len);
        out[len] = '\0';
        return 0;
}

/* limits: flag 0 (min) or 1 (min, max) */
static int read_limits(struct reader *r, uint32_t *min)
{
        uint8_t flag;
        uint32_t max;
        if (read_u8(r, &flag) < 0 || flag > 1 || read_u32(r, min) < 0 ||
            (flag == 1 && read_u32(r, &max) < 0))
                return -EINVAL;
        return 0;
}

/* The type section as signature strings (owned by the caller). */
static int read_types(struct reader *r, char ***types, uint32_t *count)
{
        uint32_t n;
        if (read_u32(r, &n) < 0 || n > MAX_TYPES || n > (size_t)(r->end - r->at))
                return -EINVAL;
        char **list = calloc(n ? n : 1, sizeof(*list));
        if (!list)
                return -ENOMEM;
        *types = list;
        *count = n;
        for (uint32_t t = 0; t < n; t++) {
                uint8_t form;
                if (read_u8(r, &form) < 0 || form != 0x60)
                        return -EINVAL;
                char sig[64];
                size_t used = 0;
                for (int part = 0; part < 2; part++) {
                        uint32_t k;
                        if (read_u32(r, &k) < 0 || k > (size_t)(r->end - r->at))
                                return -EINVAL;
                        for (uint32_t i = 0; i < k; i++) {
                                uint8_t v;
                                if (read_u8(r, &v) < 0)
                                        return -EINVAL;
                                /* anything but i32/i64 matches no WASI call */
                                char c = v == 0x7f ? 'i' : v == 0x7e ? 'I' : '?';
                                if (used + 2 < sizeof(sig))
                                        sig[used++] = c;
                        }
                        if (part == 0 && used + 2 < sizeof(sig))
                                sig[used++] = ':';
                }
                sig[used] = '\0';
                if (!(list[t] = strdup(sig)))
                        return -ENOMEM;
        }
        return 0;
}

static const char *wasi_signature(const char *name)
{
        for (size_t i = 0; i < sizeof(wasi_functions) / sizeof(wasi_functions[0]); i++)
                if (strcmp(wasi_functions[i].name, name) == 0)
                        return wasi_functions[i].signature;
        return NULL;
}

static int read_imports(struct reader *r, char **types, uint32_t type_count,
                        struct wasm_module_info *out, struct reins_error *err)
{
        uint32_t n;
        if (read_u32(r, &n) < 0 || n > MAX_IMPORTS)
                return reins_error_set(err, EINVAL, "malformed import section");
        for (uint32_t i = 0; i < n; i++) {
                char module[MAX_NAME], name[MAX_NAME];
                uint8_t kind;
                if (read_name(r, module, sizeof(module)) < 0 ||
                    read_name(r, name, sizeof(name)) < 0 || read_u8(r, &kind) < 0)
                        return reins_error_set(err, EINVAL, "malformed import section");
                if (kind != 0)
                        return reins_error_set(err, ENOTSUP,
                                               "imports a table, memory or global: only "
                                               "WASI functions are given");
                uint32_t type;
                if (read_u32(r, &type) < 0 || type >= type_count)
                        return reins_error_set(err, EINVAL, "malformed import section");
                const char *want = wasi_signature(name);
                if (strcmp(module, "wasi_snapshot_preview1") != 0 || !want)
                        return reins_error_set(err, ENOTSUP,
                                               "imports %.64s.%.64s, which WASI preview 1 "
                                               "does not have",
                                               module, name);
                if (strcmp(want, types[type]) != 0)
                        return reins_error_set(err, ENOTSUP,
                                               "imports %s with the signature (%s), not "
                                               "WASI's (%s)",
                                               name, types[type], want);
                char full[MAX_NAME * 2 + 2];
                snprintf(full, sizeof(full), "%s.%s", module, name);
                if (strv_push(&out->imports, full) < 0)
                        return reins_error_set(err, ENOMEM, "out of memory");
        }
        return 0;
}

static int read_exports(struct reader *r, struct wasm_module_info *out)
{
        uint32_t n;
        if (read_u32(r, &n) < 0 || n > (size_t)(r->end - r->at))
                return -EINVAL;
        for (uint32_t i = 0; i < n; i++) {
                /* any length: only two names matter, compared as bytes */
                uint32_t len, index;
                const uint8_t *name;
                uint8_t kind;
                if (read_u32(r, &len) < 0 || read_bytes(r, len, &name) < 0 ||
                    read_u8(r, &kind) < 0 || read_u32(r, &index) < 0)
                        return -EINVAL;
                if (kind == 0 && len == 6 && memcmp(name, "_start", 6) == 0)
                        out->has_start = true;
                if (kind == 2 && len == 6 && memcmp(name, "memory", 6) == 0)
                        out->has_memory = true;
        }
        return 0;
}

bool wasm_is_module(const void *head, size_t length)
{
        return length >= WASM_MAGIC_LEN && memcmp(head, "\0asm", WASM_MAGIC_LEN) == 0;
}

static void free_types(char **types, uint32_t count)
{
        for (uint32_t i = 0; types && i < count; i++)
                free(types[i]);
        free(types);
}

int wasm_module_inspect(const uint8_t *bytes, size_t length, struct wasm_module_info *out,
                        struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        if (length < 8 || !wasm_is_module(bytes, length) || memcmp(bytes + 4, "\1\0\0\0", 4) != 0)
                return reins_error_set(err, EINVAL, "not a WebAssembly module (version 1)");
        unsigned char digest[DIGEST_SHA256_BYTES];
        digest_sha256(bytes, length, digest);
        for (int i = 0; i < DIGEST_SHA256_BYTES; i++)
                snprintf(out->sha256 + 2 * i, 3, "%02x", digest[i]);
        struct reader r = {bytes + 8, bytes + length};
        char **types = NULL;
        uint32_t type_count = 0;
        int rc = 0;
        while (r.at < r.end && rc == 0) {
                uint8_t id;
                uint32_t size;
                const uint8_t *body;
                if (read_u8(&r, &id) < 0 || read_u32(&r, &size) < 0 ||
                    read_bytes(&r, size, &body) < 0) {
                        rc = reins_error_set(err, EINVAL, "a section is cut short");
                        break;
                }
                if (id == 0)
                        continue; /* custom sections: names, debug info */
                if (id > 13) {
                        rc = reins_error_set(err, EINVAL, "an unknown section (%u)", id);
                        break;
                }
                struct reader s = {body, body + size};
                if (id == 1) {
                        if (types) {
                                rc = reins_error_set(err, EINVAL, "two type sections");
                                break;
                        }
                        int t = read_types(&s, &types, &type_count);
                        if (t < 0)
                                rc = reins_error_set(err, -t, "malformed type section");
                } else if (id == 2) {
                        rc = read_imports(&s, types, type_count, out, err);
                } else if (id == 5) {
                        uint32_t n;
                        if (read_u32(&s, &n) < 0 || n > 1 ||
                            (n == 1 && read_limits(&s, &out->initial_pages) < 0))
                                rc = reins_error_set(err, EINVAL, "malformed memory section");
                } else if (id == 7) {
                        if (read_exports(&s, out) < 0)
                                rc = reins_error_set(err, EINVAL, "malformed export section");
                }
        }
        free_types(types, type_count);
        if (rc == 0 && (!out->has_start || !out->has_memory))
                rc = reins_error_set(err, ENOTSUP, "not a WASI command: it exports no %s",
                                     out->has_start ? "memory \"memory\"" : "function \"_start\"");
        if (rc < 0)
                wasm_module_info_free(out);
        return rc;
}

void wasm_module_info_free(struct wasm_module_info *info)
{
        strv_free(&info->imports);
}

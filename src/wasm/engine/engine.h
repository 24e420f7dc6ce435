/* The Wasm engine: a WASI preview 1 module translated to C by wasm2c, linked
 * with this directory and wabt's runtime into one static executable that
 * reins runs inside its container sandbox (src/wasm/cache.c builds it).
 *
 * Nothing here is part of the reins binary itself: these files are
 * compiled into an archive that reins carries and links each module with.
 * They run with the module's untrusted code in the same process, so every
 * pointer and length the module passes is checked against its linear
 * memory, and every path it names is resolved beneath a preopened
 * directory by the kernel (openat2 RESOLVE_BENEATH), never by string work
 * alone. */
#ifndef REINS_WASM_ENGINE_H
#define REINS_WASM_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "wasm-rt.h"

/* The exit status of a module that trapped (unreachable, out-of-bounds
 * access, stack exhausted, ...), as 128+SIGABRT: a crash, not an exit. */
#define ENGINE_EXIT_TRAP 134
/* The engine could not start the module (bad options, limits). */
#define ENGINE_EXIT_FAILED 125

#define ENGINE_MAX_FDS      1024
#define ENGINE_MAX_PREOPENS 64
#define ENGINE_MAX_RULES    4096

struct Z_wasi_snapshot_preview1_instance_t {
        wasm_rt_memory_t *memory; /* NULL until instantiated */
};

/* One open descriptor of the module. `path` is the absolute path inside
 * the sandbox it was opened at (for deny/protect checks and events);
 * `root` the preopen it descends from (its index). */
struct engine_fd {
        bool used;
        bool preopen;
        bool writable_tree; /* descends from a read-write preopen */
        int host;           /* the host descriptor (O_PATH for directories) */
        uint8_t filetype;   /* WASI filetype */
        uint16_t fdflags;
        uint64_t rights_base, rights_inheriting;
        char *path;       /* absolute, normalized */
        char *guest_name; /* preopens: the name the module sees */
        size_t root_len;  /* strlen of the preopen's path: nothing above it */
        void *dir_stream; /* fd_readdir's DIR *, opened lazily */
        uint64_t dir_cookie;
};

struct engine {
        struct Z_wasi_snapshot_preview1_instance_t wasi;
        struct engine_fd fds[ENGINE_MAX_FDS];
        char **args;
        int arg_count;
        char **env;
        int env_count;
        const char *deny[ENGINE_MAX_RULES];
        int deny_count;
        const char *protect[ENGINE_MAX_RULES];
        int protect_count;
        uint64_t memory_limit; /* bytes, 0 = none */
        int events_fd;         /* -1: none */
        unsigned denied_reported;
        const char *symbols; /* nm listing of this executable, or NULL */
        /* a weakened build's switches (make weak, ESCAPES.md): no path
         * confinement; unknown descriptor numbers used as host fds */
        bool weak_beneath, weak_fds;
};

extern struct engine engine;

/* wasm-rt-impl.c is compiled with WASM_RT_TRAP_HANDLER=engine_on_trap */
__attribute__((noreturn)) void engine_on_trap(wasm_rt_trap_t code);

/* What the compiled module provides (the glue reins writes beside it). */
void reins_wasm_module_init(void);
void reins_wasm_module_instantiate(struct Z_wasi_snapshot_preview1_instance_t *wasi);
wasm_rt_memory_t *reins_wasm_module_memory(void);
void reins_wasm_module_start(void);

/* wasi_fd.c */
int engine_add_preopen(const char *host_path, const char *guest_name, bool writable);
void engine_init_stdio(void);
struct engine_fd *engine_fd_get(uint32_t fd);
int engine_fd_install(int host, uint8_t filetype, const char *path, const struct engine_fd *parent);
uint16_t engine_errno(int host_errno);

/* wasi_mem.c: linear memory access, bounds-checked; NULL when out of range */
uint8_t *engine_mem(uint32_t ptr, uint64_t len);
bool engine_store_u32(uint32_t ptr, uint32_t value);
bool engine_store_u64(uint32_t ptr, uint64_t value);

struct stat;
struct timespec;
bool engine_store_filestat(uint32_t buf, const struct stat *st);
/* fd/path_filestat_set_times' arguments as utimensat's; -WASI errno */
int engine_times(uint64_t atim, uint64_t mtim, uint32_t fstflags, struct timespec ts[2]);

/* engine.c: one JSON line per event to the supervisor's file */
void engine_event_denied(const char *op, const char *path, const char *rule);
void engine_event_exit(int status);
void engine_event_trap(const char *trap, const char *function);
void engine_json_string(char *out, size_t size, const char *text);

/* policy checks (wasi_path.c) */
const char *engine_denied(const char *abs_path);
bool engine_protected(const char *abs_path);

/* WASI errno values (preview 1) */
enum {
        WASI_ESUCCESS = 0,
        WASI_E2BIG = 1,
        WASI_EACCES = 2,
        WASI_EAGAIN = 6,
        WASI_EBADF = 8,
        WASI_EBUSY = 10,
        WASI_EEXIST = 20,
        WASI_EFAULT = 21,
        WASI_EFBIG = 22,
        WASI_EILSEQ = 25,
        WASI_EINTR = 27,
        WASI_EINVAL = 28,
        WASI_EIO = 29,
        WASI_EISDIR = 31,
        WASI_ELOOP = 32,
        WASI_EMFILE = 33,
        WASI_EMLINK = 34,
        WASI_ENAMETOOLONG = 37,
        WASI_ENFILE = 41,
        WASI_ENODEV = 43,
        WASI_ENOENT = 44,
        WASI_ENOMEM = 48,
        WASI_ENOSPC = 51,
        WASI_ENOSYS = 52,
        WASI_ENOTDIR = 54,
        WASI_ENOTEMPTY = 55,
        WASI_ENOTSOCK = 57,
        WASI_ENOTSUP = 58,
        WASI_ENOTTY = 59,
        WASI_ENXIO = 60,
        WASI_EOVERFLOW = 61,
        WASI_EPERM = 63,
        WASI_EPIPE = 64,
        WASI_ERANGE = 68,
        WASI_EROFS = 69,
        WASI_ESPIPE = 70,
        WASI_ETXTBSY = 74,
        WASI_EXDEV = 75,
        WASI_ENOTCAPABLE = 76,
};

enum {
        WASI_FILETYPE_UNKNOWN = 0,
        WASI_FILETYPE_BLOCK_DEVICE = 1,
        WASI_FILETYPE_CHARACTER_DEVICE = 2,
        WASI_FILETYPE_DIRECTORY = 3,
        WASI_FILETYPE_REGULAR_FILE = 4,
        WASI_FILETYPE_SOCKET_DGRAM = 5,
        WASI_FILETYPE_SOCKET_STREAM = 6,
        WASI_FILETYPE_SYMBOLIC_LINK = 7,
};

#define WASI_FDFLAG_APPEND   1
#define WASI_FDFLAG_DSYNC    2
#define WASI_FDFLAG_NONBLOCK 4
#define WASI_FDFLAG_RSYNC    8
#define WASI_FDFLAG_SYNC     16

#define WASI_RIGHTS_ALL ((1ULL << 30) - 1)

typedef uint32_t u32;
typedef uint64_t u64;
typedef struct Z_wasi_snapshot_preview1_instance_t wasi_t;

#endif

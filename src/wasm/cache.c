/* Building a module's executable into the cache (cache.h).
 *
 * The tools run as the caller, outside the sandbox, on bytes an agent may
 * have written: wasm2c validates the module before it writes a line of C
 * (a malformed module is refused there), and the C it writes is
 * memory-safe by construction (every load and store is checked against
 * the linear memory), so the compiler only ever sees wasm2c's output. No
 * shell: each tool is run with an argv, bounded by rlimits and confined by
 * Landlock to writing its build directory (tool_exec). The entry appears whole or not
 * at all (built in a private directory, renamed into place). */
#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/landlock.h"
#include "util/cleanup.h"
#include "util/digest.h"
#include "util/fileio.h"
#include "util/path.h"
#include "wasm/cache.h"

/* The engine archive compiled into reins (Makefile: build/wasm/engine.a,
 * embedded by src/wasm/engine_blob.S). */
extern const unsigned char reins_wasm_engine_archive[];
extern const unsigned char reins_wasm_engine_archive_end[];

/* The glue between wasm2c's names for module "m" and the engine. */
static const char glue_source[] =
    "#include \"module.h\"\n"
    "static Z_m_instance_t instance;\n"
    "struct Z_wasi_snapshot_preview1_instance_t;\n"
    "void reins_wasm_module_init(void);\n"
    "void reins_wasm_module_instantiate(struct Z_wasi_snapshot_preview1_instance_t *w);\n"
    "wasm_rt_memory_t *reins_wasm_module_memory(void);\n"
    "void reins_wasm_module_start(void);\n"
    "void reins_wasm_module_init(void) { Z_m_init_module(); }\n"
    "void reins_wasm_module_instantiate(struct Z_wasi_snapshot_preview1_instance_t *w)\n"
    "{\n"
    "#if REINS_WASM_IMPORTS\n"
    "        Z_m_instantiate(&instance, w);\n"
    "#else\n"
    "        (void)w;\n"
    "        Z_m_instantiate(&instance);\n"
    "#endif\n"
    "}\n"
    "wasm_rt_memory_t *reins_wasm_module_memory(void) { return Z_mZ_memory(&instance); }\n"
    "void reins_wasm_module_start(void) { Z_mZ__start(&instance); }\n";

/* How a module's engine is built (the tools' argv in wasm_cache_build,
 * in words): part of the cache's key. */
#define BUILD_RECIPE "wasm2c -n m; cc -O2 -fPIE; cc -static-pie -lm; nm -n"

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int write_file_at(int dirfd, const char *name, const void *bytes, size_t length)
{
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        int r = fileio_write_all(fd, bytes, length);
        close(fd);
        return r;
}

/* The tool's process, before exec: bounded and confined. The tools read
 * bytes an agent may have written; should one of them be exploited, it
 * can write nowhere but the build directory (Landlock, when the kernel has
 * it) and cannot run away with the machine (rlimits). */
__attribute__((noreturn)) static void tool_exec(const char *dir, char *const argv[], int out_fd,
                                                int log_fd)
{
        static const struct {
                int resource;
                rlim_t limit;
        } limits[] = {
            {RLIMIT_CPU, 600},               /* seconds: a huge module compiles in less */
            {RLIMIT_FSIZE, (rlim_t)4 << 30}, /* no file of 4 GiB */
            {RLIMIT_AS, (rlim_t)16 << 30},   /* the compiler's memory */
            {RLIMIT_CORE, 0},
        };
        for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
                struct rlimit rl = {limits[i].limit, limits[i].limit};
                struct rlimit cur;
                if (getrlimit(limits[i].resource, &cur) == 0 && cur.rlim_max < rl.rlim_max)
                        rl.rlim_cur = rl.rlim_max = cur.rlim_max; /* only ever lower */
                setrlimit(limits[i].resource, &rl);
        }
        int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null < 0 || dup2(null, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(log_fd, 2) < 0 ||
            chdir(dir) < 0)
                _exit(127);
        /* the compiler's temporary files go where it may write */
        if (setenv("TMPDIR", dir, 1) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                _exit(127);
        if (landlock_abi_version() > 0) {
                struct landlock_rule rules[] = {
                    {(char *)"/", LANDLOCK_RULE_READ_EXEC},
                    {(char *)dir, LANDLOCK_RULE_READ_WRITE},
                    {(char *)"/dev", LANDLOCK_RULE_DEVICE},
                };
                struct reins_error err = {0};
                if (landlock_apply(rules, sizeof(rules) / sizeof(rules[0]), &err) < 0) {
                        dprintf(2, "reins: confining %s: %s\n", argv[0], err.message);
                        _exit(127);
                }
        }
        execvp(argv[0], argv);
        _exit(errno == ENOENT ? 126 : 127);
}

/* Run argv in `dir` with stdout to `out_name` (or the log) and stderr to
 * the log; its exit status, -ENOENT when the tool is not installed, or
 * -errno. */
static int run_tool(const char *dir, char *const argv[], const char *out_name)
{
        char log[4096], out[4096];
        snprintf(log, sizeof(log), "%s/build.log", dir);
        snprintf(out, sizeof(out), "%s/%s", dir, out_name ? out_name : "build.log");
        int log_fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        int out_fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (log_fd < 0 || out_fd < 0) {
                int saved = errno;
                if (log_fd >= 0)
                        close(log_fd);
                if (out_fd >= 0)
                        close(out_fd);
                return -saved;
        }
        pid_t pid = fork();
        if (pid == 0)
                tool_exec(dir, argv, out_fd, log_fd);
        int saved = errno;
        close(log_fd);
        close(out_fd);
        if (pid < 0)
                return -saved;
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 126)
                return -ENOENT; /* execvp found no such tool */
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The first line of the build log, for the error. */
static void log_line(const char *dir, char *out, size_t size)
{
        char path[4096];
        snprintf(path, sizeof(path), "%s/build.log", dir);
        out[0] = '\0';
        FILE *f = fopen(path, "re");
        if (!f)
                return;
        if (fgets(out, (int)size, f))
                out[strcspn(out, "\n")] = '\0';
        fclose(f);
        for (char *p = out; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                        *p = '?'; /* the module's bytes may be quoted there */
}

static void remove_tree(const char *dir)
{
        static const char *const names[] = {"module.wasm", "module.c",    "module.h",
                                            "module.o",    "glue.c",      "glue.o",
                                            "engine",      "engine.syms", "build.log"};
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
                for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                        unlinkat(fd, names[i], 0);
                close(fd);
        }
        rmdir(dir);
}

/* The engine archive as a file of the cache, named by its digest. */
static int engine_archive(const char *cache_dir, char **path, char tag[17], struct reins_error *err)
{
        size_t length = (size_t)(reins_wasm_engine_archive_end - reins_wasm_engine_archive);
        /* the tag names how a module is built as well as what it is linked
         * with: a change of either builds every module again */
        unsigned char digest[DIGEST_SHA256_BYTES];
        struct digest_sha256 ctx;
        digest_sha256_init(&ctx);
        digest_sha256_update(&ctx, reins_wasm_engine_archive, length);
        digest_sha256_update(&ctx, glue_source, sizeof(glue_source));
        digest_sha256_update(&ctx, BUILD_RECIPE, sizeof(BUILD_RECIPE));
        digest_sha256_final(&ctx, digest);
        for (int i = 0; i < 8; i++)
                snprintf(tag + 2 * i, 3, "%02x", digest[i]);
        char name[64];
        snprintf(name, sizeof(name), "engine-%s.a", tag);
        *path = path_join(cache_dir, name);
        if (!*path)
                return reins_error_set(err, ENOMEM, "out of memory");
        struct stat st;
        if (lstat(*path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == length)
                return 0;
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.%d.new", *path, (int)getpid());
        unlink(tmp);
        int r = write_file_at(AT_FDCWD, tmp, reins_wasm_engine_archive, length);
        if (r < 0 || rename(tmp, *path) < 0) {
                unlink(tmp);
                return reins_error_errno(err, r < 0 ? -r : errno, "writing %s", *path);
        }
        return 0;
}

int wasm_cache_build(const char *cache_dir, const uint8_t *bytes, size_t length,
                     const struct wasm_module_info *info, struct wasm_build *out,
                     struct reins_error *err)
{
        memset(out, 0, sizeof(*out));
        cleanup_free char *archive = NULL;
        char tag[17];
        int r = engine_archive(cache_dir, &archive, tag, err);
        if (r < 0)
                return r;
        char name[128];
        snprintf(name, sizeof(name), "%s-%s", info->sha256, tag);
        out->dir = path_join(cache_dir, name);
        if (!out->dir)
                return reins_error_set(err, ENOMEM, "out of memory");
        char exe[4096];
        snprintf(exe, sizeof(exe), "%s/engine", out->dir);
        struct stat st;
        if (lstat(exe, &st) == 0 && S_ISREG(st.st_mode)) {
                out->cached = true;
                return 0;
        }
        uint64_t start = now_ms();
        char build[4096];
        snprintf(build, sizeof(build), "%s/.build-%d-%llu", cache_dir, (int)getpid(),
                 (unsigned long long)start);
        if (mkdir(build, 0700) < 0)
                return reins_error_errno(err, errno, "creating %s", build);
        int dirfd = open(build, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dirfd < 0) {
                r = reins_error_errno(err, errno, "opening %s", build);
                rmdir(build);
                return r;
        }
        r = write_file_at(dirfd, "module.wasm", bytes, length);
        if (r == 0)
                r = write_file_at(dirfd, "glue.c", glue_source, sizeof(glue_source) - 1);
        close(dirfd);
        if (r < 0) {
                remove_tree(build);
                return reins_error_errno(err, -r, "writing into %s", build);
        }
        const char *cc = getenv("REINS_WASM_CC");
        if (!cc || !cc[0])
                cc = "cc";
        char imports_define[64];
        snprintf(imports_define, sizeof(imports_define), "-DREINS_WASM_IMPORTS=%d",
                 info->imports.count > 0);
        char *wasm2c[] = {"wasm2c", "-n", "m", "module.wasm", "-o", "module.c", NULL};
        char *compile[] = {(char *)cc, "-O2", "-fPIE",    "-w", "-c",
                           "module.c", "-o",  "module.o", NULL};
        char *glue[] = {(char *)cc, "-O2",    "-fPIE", "-w",     imports_define,
                        "-c",       "glue.c", "-o",    "glue.o", NULL};
        /* static: the sandbox needs no loader or library for it; and
         * position-independent, so its code is placed at random too */
        char *link[] = {(char *)cc, "-static-pie", "-o",  "engine", "module.o",
                        "glue.o",   archive,       "-lm", NULL};
        char *nm[] = {"nm", "-n", "--defined-only", "engine", NULL};
        struct {
                char *const *argv;
                const char *what, *out;
        } steps[] = {
            {wasm2c, "wasm2c refused the module", NULL},
            {compile, "compiling the module's C failed", NULL},
            {glue, "compiling the glue failed", NULL},
            {link, "linking the engine failed", NULL},
            {nm, "listing the engine's symbols failed", "engine.syms"},
        };
        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
                r = run_tool(build, steps[i].argv, steps[i].out);
                if (r != 0) {
                        char line[256];
                        log_line(build, line, sizeof(line));
                        if (r == -ENOENT)
                                reins_error_set(err, ENOENT,
                                                "isolation wasm needs %s, which is not "
                                                "installed (Debian: %s)",
                                                steps[i].argv[0],
                                                i == 0 ? "wabt" : "build-essential");
                        else if (r < 0)
                                reins_error_errno(err, -r, "%s: running %s", steps[i].what,
                                                  steps[i].argv[0]);
                        else
                                reins_error_set(err, ENOEXEC, "%s%s%s", steps[i].what,
                                                line[0] ? ": " : "", line);
                        remove_tree(build);
                        return r < 0 ? r : -ENOEXEC;
                }
        }
        /* the entry keeps the executable and its symbols only */
        static const char *const intermediate[] = {
            "module.wasm", "module.c", "module.h", "module.o", "glue.c", "glue.o", "build.log"};
        int clean = open(build, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        for (size_t i = 0; clean >= 0 && i < sizeof(intermediate) / sizeof(intermediate[0]); i++)
                unlinkat(clean, intermediate[i], 0);
        if (clean >= 0)
                close(clean);
        if (rename(build, out->dir) < 0) {
                int saved = errno;
                remove_tree(build);
                /* another run built it meanwhile */
                if (!(lstat(exe, &st) == 0 && S_ISREG(st.st_mode)))
                        return reins_error_errno(err, saved, "storing %s", out->dir);
        }
        out->took_ms = now_ms() - start;
        return 0;
}

void wasm_build_free(struct wasm_build *build)
{
        free(build->dir);
        build->dir = NULL;
}

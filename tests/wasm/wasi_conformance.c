/* A WASI preview 1 command for reins' conformance and escape tests
 * (tests/integration/test_wasm.py, tests/escape/test_wasm.py), built with
 * clang --target=wasm32-wasi. One subcommand per behaviour; each prints
 * lines the tests read ("ok NAME", "FAIL NAME detail", "CHECK ...").
 *
 *   args | env | clock | random | exit N | files | readonly | memory MIB
 *   open PATH | write PATH | raw-open PATH | preopens | escape | forge
 *   sleep MS | open-sleep PATH MS | reopen */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <wasi/api.h>

extern char **environ;

static const char *ename(int e)
{
        static char other[16];
        switch (e) {
        case 0: return "OK";
        case ENOENT: return "ENOENT";
        case EEXIST: return "EEXIST";
        case EISDIR: return "EISDIR";
        case ENOTDIR: return "ENOTDIR";
        case ENOTEMPTY: return "ENOTEMPTY";
        case EACCES: return "EACCES";
        case EROFS: return "EROFS";
        case ENOTCAPABLE: return "ENOTCAPABLE";
        case EBADF: return "EBADF";
        case EPERM: return "EPERM";
        case ELOOP: return "ELOOP";
        case EXDEV: return "EXDEV";
        case EINVAL: return "EINVAL";
        }
        snprintf(other, sizeof(other), "E%d", e);
        return other;
}

static int failures;

static void expect(const char *name, int cond, const char *detail)
{
        if (cond) {
                printf("ok %s\n", name);
        } else {
                printf("FAIL %s %s\n", name, detail);
                failures++;
        }
}

static void expect_errno(const char *name, int rc, int want)
{
        char detail[64];
        int got = rc < 0 ? errno : 0;
        snprintf(detail, sizeof(detail), "got %s, want %s", ename(got), ename(want));
        expect(name, rc < 0 && got == want, detail);
}

static int write_file(const char *path, const char *text, int flags)
{
        int fd = open(path, O_WRONLY | O_CREAT | flags, 0644);
        if (fd < 0)
                return -1;
        ssize_t n = write(fd, text, strlen(text));
        close(fd);
        return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int read_file(const char *path, char *buf, size_t size)
{
        int fd = open(path, O_RDONLY);
        if (fd < 0)
                return -1;
        ssize_t n = read(fd, buf, size - 1);
        close(fd);
        if (n < 0)
                return -1;
        buf[n] = '\0';
        return (int)n;
}

static int files(void)
{
        char buf[256];
        struct stat st;
        expect("create", write_file("f.txt", "hello world", O_TRUNC) == 0, ename(errno));
        expect("read", read_file("f.txt", buf, sizeof(buf)) == 11 && strcmp(buf, "hello world") == 0,
               buf);
        int fd = open("f.txt", O_RDWR);
        expect("open_rw", fd >= 0, ename(errno));
        expect("seek", lseek(fd, 6, SEEK_SET) == 6, ename(errno));
        memset(buf, 0, sizeof(buf));
        expect("read_at", read(fd, buf, 5) == 5 && strcmp(buf, "world") == 0, buf);
        expect("tell", lseek(fd, 0, SEEK_CUR) == 11, "position");
        expect("seek_end", lseek(fd, -5, SEEK_END) == 6, ename(errno));
        expect("fstat", fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 11,
               "size or type");
        expect("pwrite", pwrite(fd, "HELLO", 5, 0) == 5, ename(errno));
        expect("pread", pread(fd, buf, 5, 0) == 5 && memcmp(buf, "HELLO", 5) == 0, buf);
        expect("ftruncate", ftruncate(fd, 3) == 0 && fstat(fd, &st) == 0 && st.st_size == 3,
               ename(errno));
        close(fd);
        fd = open("f.txt", O_WRONLY | O_APPEND);
        expect("append", fd >= 0 && write(fd, "++", 2) == 2, ename(errno));
        close(fd);
        expect("append_read", read_file("f.txt", buf, sizeof(buf)) == 5 &&
                                  strcmp(buf, "HEL++") == 0,
               buf);
        expect("stat", stat("f.txt", &st) == 0 && st.st_size == 5, ename(errno));
        struct timespec times[2] = {{.tv_sec = 1000000000, .tv_nsec = 0},
                                    {.tv_sec = 1000000000, .tv_nsec = 0}};
        expect("utimens", utimensat(AT_FDCWD, "f.txt", times, 0) == 0 && stat("f.txt", &st) == 0 &&
                              st.st_mtim.tv_sec == 1000000000,
               ename(errno));
        expect("mkdir", mkdir("d", 0755) == 0, ename(errno));
        expect("mkdir_exists", 1, "");
        expect_errno("mkdir_eexist", mkdir("d", 0755), EEXIST);
        expect("create_in_dir", write_file("d/a", "a", 0) == 0 && write_file("d/b", "b", 0) == 0,
               ename(errno));
        DIR *dir = opendir("d");
        int seen = 0, count = 0;
        struct dirent *e;
        while (dir && (e = readdir(dir))) {
                count++;
                seen += strcmp(e->d_name, "a") == 0 || strcmp(e->d_name, "b") == 0;
        }
        if (dir)
                closedir(dir);
        snprintf(buf, sizeof(buf), "seen %d of 2, %d entries", seen, count);
        expect("readdir", seen == 2 && count == 4, buf);
        expect("rename", rename("f.txt", "d/g.txt") == 0, ename(errno));
        expect_errno("rename_old_gone", stat("f.txt", &st), ENOENT);
        expect("rename_new", stat("d/g.txt", &st) == 0, ename(errno));
        expect("symlink", symlink("g.txt", "d/link") == 0, ename(errno));
        ssize_t n = readlink("d/link", buf, sizeof(buf) - 1);
        if (n >= 0)
                buf[n] = '\0';
        expect("readlink", n == 5 && strcmp(buf, "g.txt") == 0, n < 0 ? ename(errno) : buf);
        expect("lstat_link", lstat("d/link", &st) == 0 && S_ISLNK(st.st_mode), ename(errno));
        expect("follow_link", read_file("d/link", buf, sizeof(buf)) == 5, ename(errno));
        expect_errno("symlink_absolute", symlink("/etc/passwd", "d/abs"), EPERM);
        expect("link", link("d/g.txt", "d/hard") == 0 && stat("d/hard", &st) == 0 &&
                           st.st_nlink == 2,
               ename(errno));
        expect("unlink", unlink("d/a") == 0, ename(errno));
        expect_errno("unlinked_gone", open("d/a", O_RDONLY), ENOENT);
        expect_errno("rmdir_notempty", rmdir("d"), ENOTEMPTY);
        expect_errno("rmdir_file", rmdir("d/b"), ENOTDIR);
        expect_errno("open_missing", open("nope", O_RDONLY), ENOENT);
        expect_errno("open_excl", open("d/g.txt", O_WRONLY | O_CREAT | O_EXCL, 0644), EEXIST);
        expect_errno("open_dir_write", open("d", O_WRONLY), EISDIR);
        expect_errno("unlink_dir", unlink("d"), EISDIR);
        expect_errno("open_notdir", open("d/g.txt/x", O_RDONLY), ENOTDIR);
        expect_errno("open_file_trailing_slash", open("d/g.txt/", O_RDONLY), ENOTDIR);
        expect_errno("unlink_trailing_slash", unlink("d/g.txt/"), ENOTDIR);
        expect_errno("rename_trailing_slash", rename("d/g.txt/", "d/h.txt"), ENOTDIR);
        expect("mkdir_trailing_slash", mkdir("d/e/", 0755) == 0 && rmdir("d/e/") == 0,
               ename(errno));
        unlink("d/b");
        unlink("d/g.txt");
        unlink("d/hard");
        unlink("d/link");
        expect("rmdir", rmdir("d") == 0, ename(errno));
        printf("files done %d\n", failures);
        return failures ? 1 : 0;
}

static int readonly_workspace(void)
{
        int fd = open("new.txt", O_WRONLY | O_CREAT, 0644);
        printf("create %s\n", ename(fd < 0 ? errno : 0));
        printf("mkdir %s\n", ename(mkdir("newdir", 0755) < 0 ? errno : 0));
        printf("unlink %s\n", ename(unlink("existing.txt") < 0 ? errno : 0));
        char buf[64];
        printf("read %s\n", read_file("existing.txt", buf, sizeof(buf)) >= 0 ? "OK" : ename(errno));
        return 0;
}

/* the fd of the "." preopen (the workspace), by its prestat name */
static int dot_fd(void)
{
        for (int fd = 3; fd < 64; fd++) {
                __wasi_prestat_t p;
                char name[256];
                if (__wasi_fd_prestat_get((__wasi_fd_t)fd, &p) != 0)
                        continue;
                if (p.u.dir.pr_name_len >= sizeof(name))
                        continue;
                if (__wasi_fd_prestat_dir_name((__wasi_fd_t)fd, (uint8_t *)name,
                                               p.u.dir.pr_name_len) != 0)
                        continue;
                name[p.u.dir.pr_name_len] = '\0';
                if (strcmp(name, ".") == 0)
                        return fd;
        }
        return -1;
}

static int raw_open(const char *path, int write_rights)
{
        __wasi_fd_t fd;
        __wasi_rights_t rights = __WASI_RIGHTS_FD_READ | (write_rights ? __WASI_RIGHTS_FD_WRITE : 0);
        __wasi_errno_t e = __wasi_path_open((__wasi_fd_t)dot_fd(), __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW,
                                            path, 0, rights, rights, 0, &fd);
        if (e == 0 && __wasi_fd_close(fd) != 0)
                return -1;
        return e;
}

/* each attack as CHECK NAME blocked|escaped DETAIL (tests/escape) */
static void check(const char *name, int escaped, const char *detail)
{
        printf("CHECK %s %s %s\n", name, escaped ? "escaped" : "blocked", detail);
}

/* path_open on the workspace's own "." as WASI programs do it */
static int reopen_dot(void)
{
        __wasi_fd_t fd, dot = (__wasi_fd_t)dot_fd();
        __wasi_rights_t all = (1ULL << 29) - 1;
        expect("reopen_all_rights",
               __wasi_path_open(dot, 0, ".", 0, all, all, 0, &fd) == 0 && __wasi_fd_close(fd) == 0,
               "open . with every right");
        expect("reopen_no_rights",
               __wasi_path_open(dot, 0, ".", __WASI_OFLAGS_DIRECTORY, 0, 0, 0, &fd) == 0 &&
                   __wasi_fd_close(fd) == 0,
               "open . O_DIRECTORY with no rights");
        expect("reopen_dir_write",
               __wasi_path_open(dot, 0, ".", __WASI_OFLAGS_DIRECTORY,
                                __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE, 0, 0,
                                &fd) == __WASI_ERRNO_ISDIR,
               "O_DIRECTORY with the write right must be EISDIR");
        printf("reopen done %d\n", failures);
        return failures ? 1 : 0;
}

static int escape(void)
{
        static const struct {
                const char *name, *path;
        } attempts[] = {
            {"absolute_proc_mem", "/proc/self/mem"},
            {"absolute_events", "/.reins-wasm-events"},
            {"dotdot_proc_mem", "../../../../../../../../proc/self/mem"},
            {"dotdot_events", "../../../../../../../../.reins-wasm-events"},
            {"inner_dotdot", "sub/../../../../../../../../proc/self/environ"},
            {"symlink_root", "link_root/proc/self/mem"},
            {"symlink_mem", "link_mem"},
            {"symlink_relative_out", "link_up/proc/self/mem"},
        };
        for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
                int e = raw_open(attempts[i].path, 1);
                if (e != 0)
                        e = raw_open(attempts[i].path, 0);
                char detail[64];
                snprintf(detail, sizeof(detail), "wasi errno %d", e);
                check(attempts[i].name, e == 0, detail);
        }
        printf("DONE\n");
        return 0;
}

/* descriptor numbers the module was never given: reading or writing any
 * of them must be EBADF */
static int forge(void)
{
        int used = 0;
        char detail[128] = "";
        for (int fd = 3; fd < 1024; fd++) {
                __wasi_prestat_t p;
                if (__wasi_fd_prestat_get((__wasi_fd_t)fd, &p) == 0)
                        continue; /* a preopen: given */
                __wasi_ciovec_t out = {.buf = (const uint8_t *)"{}\n", .buf_len = 3};
                __wasi_size_t n = 0;
                __wasi_errno_t e = __wasi_fd_write((__wasi_fd_t)fd, &out, 1, &n);
                uint8_t b[4];
                __wasi_iovec_t in = {.buf = b, .buf_len = sizeof(b)};
                __wasi_errno_t r = __wasi_fd_read((__wasi_fd_t)fd, &in, 1, &n);
                __wasi_filestat_t st;
                __wasi_errno_t s = __wasi_fd_filestat_get((__wasi_fd_t)fd, &st);
                if (e != __WASI_ERRNO_BADF || r != __WASI_ERRNO_BADF || s != __WASI_ERRNO_BADF) {
                        if (!used)
                                snprintf(detail, sizeof(detail), "fd %d: write %d read %d stat %d",
                                         fd, e, r, s);
                        used++;
                }
        }
        check("forged_fds", used > 0, used ? detail : "all EBADF");
        printf("DONE\n");
        return 0;
}

static int preopens(void)
{
        for (int fd = 3; fd < 64; fd++) {
                __wasi_prestat_t p;
                char name[512];
                if (__wasi_fd_prestat_get((__wasi_fd_t)fd, &p) != 0 ||
                    p.u.dir.pr_name_len >= sizeof(name) ||
                    __wasi_fd_prestat_dir_name((__wasi_fd_t)fd, (uint8_t *)name,
                                               p.u.dir.pr_name_len) != 0)
                        continue;
                name[p.u.dir.pr_name_len] = '\0';
                printf("preopen %s\n", name);
        }
        return 0;
}

static char *volatile kept; /* the compiler may not drop the allocations */

static int memory(long mib)
{
        long got = 0;
        for (; got < mib; got++) {
                char *p = malloc(1 << 20);
                if (!p)
                        break;
                memset(p, 1, 1 << 20);
                kept = p;
        }
        printf("allocated %ld MiB\n", got);
        return got == mib ? 0 : 3;
}

int main(int argc, char **argv)
{
        const char *cmd = argc > 1 ? argv[1] : "";
        if (strcmp(cmd, "args") == 0) {
                for (int i = 0; i < argc; i++)
                        printf("arg:%s\n", argv[i]);
                return 0;
        }
        if (strcmp(cmd, "env") == 0) {
                for (char **e = environ; *e; e++)
                        printf("env:%s\n", *e);
                return 0;
        }
        if (strcmp(cmd, "clock") == 0) {
                struct timespec a, b, r;
                clock_gettime(CLOCK_REALTIME, &a);
                expect("realtime", a.tv_sec > 1600000000, "before 2020");
                clock_gettime(CLOCK_MONOTONIC, &a);
                struct timespec pause = {.tv_nsec = 20 * 1000000};
                nanosleep(&pause, NULL);
                clock_gettime(CLOCK_MONOTONIC, &b);
                long long ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
                expect("monotonic_sleep", ns >= 20 * 1000000, "slept less than asked");
                expect("resolution", clock_getres(CLOCK_MONOTONIC, &r) == 0, ename(errno));
                expect("process_clock", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &r) == 0,
                       ename(errno));
                return failures ? 1 : 0;
        }
        if (strcmp(cmd, "random") == 0) {
                unsigned char x[32] = {0}, y[32] = {0}, zero[32] = {0};
                expect("random_get", getentropy(x, sizeof(x)) == 0 && getentropy(y, sizeof(y)) == 0,
                       ename(errno));
                expect("random_differs", memcmp(x, y, 32) != 0 && memcmp(x, zero, 32) != 0, "same");
                return failures ? 1 : 0;
        }
        if (strcmp(cmd, "exit") == 0 && argc > 2)
                exit(atoi(argv[2]));
        if (strcmp(cmd, "files") == 0)
                return files();
        if (strcmp(cmd, "readonly") == 0)
                return readonly_workspace();
        if (strcmp(cmd, "memory") == 0 && argc > 2)
                return memory(atol(argv[2]));
        if (strcmp(cmd, "open") == 0 && argc > 2) {
                char buf[256];
                int n = read_file(argv[2], buf, sizeof(buf));
                printf("open %s: %s\n", argv[2], n >= 0 ? "OK" : ename(errno));
                if (n >= 0)
                        printf("content: %s\n", buf);
                return 0;
        }
        if (strcmp(cmd, "write") == 0 && argc > 2) {
                int r = write_file(argv[2], "written by wasm\n", O_TRUNC);
                printf("write %s: %s\n", argv[2], r == 0 ? "OK" : ename(errno));
                return 0;
        }
        if (strcmp(cmd, "raw-open") == 0 && argc > 2) {
                printf("raw-open %s: %d\n", argv[2], raw_open(argv[2], 0));
                return 0;
        }
        if (strcmp(cmd, "open-sleep") == 0 && argc > 3) {
                char buf[64];
                int n = read_file(argv[2], buf, sizeof(buf));
                printf("open %s: %s\n", argv[2], n >= 0 ? "OK" : ename(errno));
                argv[2] = argv[3];
                cmd = "sleep";
        }
        if (strcmp(cmd, "sleep") == 0 && argc > 2) {
                struct timespec t = {.tv_sec = atol(argv[2]) / 1000,
                                     .tv_nsec = (atol(argv[2]) % 1000) * 1000000L};
                printf("sleeping\n");
                fflush(stdout);
                nanosleep(&t, NULL);
                return 0;
        }
        if (strcmp(cmd, "preopens") == 0)
                return preopens();
        if (strcmp(cmd, "escape") == 0)
                return escape();
        if (strcmp(cmd, "reopen") == 0)
                return reopen_dot();
        if (strcmp(cmd, "forge") == 0)
                return forge();
        fprintf(stderr, "usage: wasi_conformance args|env|clock|random|exit N|files|...\n");
        return 2;
}

#include "sandbox/exec_notify.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/bytes_json.h"

#define EXEC_MAX_ARGS  4096
#define EXEC_MAX_BYTES (4u << 20) /* what we read of argv in all */

/* process_vm_readv, or where the kernel lacks it (CONFIG_CROSS_MEMORY_ATTACH
 * off: reins' own guest kernel, isolation: vm) a read of /proc/PID/mem,
 * which the same ptrace check guards. */
static ssize_t exec_read_memory(pid_t pid, void *buf, size_t length, uint64_t address)
{
        struct iovec local = {.iov_base = buf, .iov_len = length};
        struct iovec remote = {.iov_base = (void *)(uintptr_t)address, .iov_len = length};
        ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
        if (n >= 0 || errno != ENOSYS)
                return n;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/mem", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        n = pread(fd, buf, length, (off_t)address);
        close(fd);
        return n;
}

char *exec_notify_read_string(pid_t pid, uint64_t address, size_t *budget, size_t *length)
{
        size_t capacity = 256, used = 0;
        char *buf = malloc(capacity);
        while (buf && *budget > 0) {
                if (used == capacity) {
                        char *bigger = realloc(buf, capacity * 2);
                        if (!bigger)
                                break;
                        buf = bigger;
                        capacity *= 2;
                }
                /* never read across a page boundary in one go: the next page
                 * may be unmapped while this one holds the terminator */
                size_t page_left = 4096 - ((address + used) & 4095);
                size_t want = capacity - used < page_left ? capacity - used : page_left;
                if (want > *budget)
                        want = *budget;
                ssize_t n = exec_read_memory(pid, buf + used, want, address + used);
                if (n <= 0)
                        break;
                char *nul = memchr(buf + used, '\0', (size_t)n);
                *budget -= (size_t)n;
                if (nul) {
                        *length = (size_t)(nul - buf);
                        return buf;
                }
                used += (size_t)n;
        }
        free(buf);
        return NULL;
}

static json_t *exec_read_argv(pid_t pid, uint64_t argv_address, size_t *budget)
{
        json_t *argv = json_array();
        for (int i = 0; argv && i < EXEC_MAX_ARGS; i++) {
                uint64_t pointer = 0;
                if (exec_read_memory(pid, &pointer, sizeof(pointer),
                                     argv_address + 8u * (uint64_t)i) != sizeof(pointer) ||
                    pointer == 0)
                        break;
                size_t length = 0;
                char *arg = exec_notify_read_string(pid, pointer, budget, &length);
                if (!arg) {
                        json_array_append_new(argv, json_pack("{s:b}", "unreadable", 1));
                        break;
                }
                json_array_append_new(argv, bytes_json(arg, length));
                free(arg);
        }
        return argv;
}

static json_t *exec_proc_link(pid_t pid, const char *name)
{
        char path[64], target[4096];
        snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
        ssize_t n = readlink(path, target, sizeof(target));
        return n < 0 ? json_null() : bytes_json(target, (size_t)n);
}

/* The pids as the sandbox sees them (last NSpid field) and the parent: one
 * read of /proc/PID/status, no stdio (this runs for every exec). */
void exec_notify_proc_ids(pid_t pid, long *inner_pid, long *parent)
{
        char path[64], buf[4096];
        *inner_pid = *parent = -1;
        snprintf(path, sizeof(path), "/proc/%d/status", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return;
        buf[n] = '\0';
        const char *ppid = strstr(buf, "\nPPid:");
        if (ppid)
                *parent = strtol(ppid + 6, NULL, 10);
        const char *nspid = strstr(buf, "\nNSpid:");
        if (nspid) {
                const char *end = strchr(nspid + 1, '\n');
                const char *last = nspid + 7;
                for (const char *c = last; c && *c && c != end; c++)
                        if (*c == '\t')
                                last = c + 1;
                *inner_pid = strtol(last, NULL, 10);
        }
}

json_t *exec_notify_comm(pid_t pid)
{
        char path[64], comm[64];
        snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return json_null();
        ssize_t n = read(fd, comm, sizeof(comm));
        close(fd);
        if (n <= 0)
                return json_null();
        if (comm[n - 1] == '\n')
                n--;
        return bytes_json(comm, (size_t)n);
}

/* What the exec will most likely answer, judged from the supervisor through
 * the process's own root and cwd (telemetry: the kernel decides). */
static const char *exec_predict(pid_t pid, const char *path)
{
        char probe[8192];
        if (!path)
                return "EFAULT";
        snprintf(probe, sizeof(probe), "/proc/%d/%s/%s", pid, path[0] == '/' ? "root" : "cwd",
                 path);
        struct stat st;
        if (stat(probe, &st) < 0)
                return errno == ENOENT ? "ENOENT" : errno == ENOTDIR ? "ENOTDIR" : "EACCES";
        if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111))
                return "EACCES";
        return "ok";
}

static json_t *exec_describe(const struct seccomp_notif *req)
{
        pid_t pid = (pid_t)req->pid;
        bool at = req->data.nr == __NR_execveat;
        size_t budget = EXEC_MAX_BYTES, length = 0;
        char *path = exec_notify_read_string(pid, req->data.args[at ? 1 : 0], &budget, &length);
        long inner = -1, parent = -1;
        exec_notify_proc_ids(pid, &inner, &parent);
        json_t *fields =
            json_pack("{s:I, s:I, s:I, s:o, s:o, s:o, s:s}", "pid", (json_int_t)inner, "host_pid",
                      (json_int_t)pid, "ppid", (json_int_t)parent, "path",
                      path ? bytes_json(path, length) : json_null(), "argv",
                      exec_read_argv(pid, req->data.args[at ? 2 : 1], &budget), "cwd",
                      exec_proc_link(pid, "cwd"), "syscall", at ? "execveat" : "execve");
        if (fields)
                json_object_set_new(fields, "result", json_string(exec_predict(pid, path)));
        free(path);
        return fields;
}

json_t *exec_notify_answer(const struct seccomp_notif *req, struct seccomp_notif_resp *resp,
                           bool describe, const struct exec_gate *gate)
{
        /* read what the process asks for while it still waits: after the
         * answer its memory is the new program's */
        json_t *fields = describe || gate ? exec_describe(req) : NULL;
        const char *why = NULL;
        int refuse = gate && fields ? gate->check(gate->ctx, fields, &why) : 0;
        if (refuse) {
                resp->error = -refuse;
                json_object_set_new(fields, "refused", json_string(why ? why : "refused"));
        } else {
                /* the exec itself is decided by the kernel and the other filters */
                resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        }
        return fields;
}

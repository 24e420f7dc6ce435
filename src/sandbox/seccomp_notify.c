/* Receive, answer and record the seccomp filter's notifications
 * (seccomp_notify.h). */
#include "sandbox/seccomp_notify.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/bytes_json.h"

int seccomp_notify_init(struct seccomp_notify *state, const struct reins_plan *plan)
{
        memset(state, 0, sizeof(*state));
        state->tokens = SECCOMP_NOTIFY_BURST;
        state->last_nr = -1;
        return plan ? protect_watch_init(&state->protect, plan) : 0;
}

static int64_t monotonic_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The token bucket: may this denial be recorded? */
static bool notify_may_record(struct seccomp_notify *state)
{
        int64_t now = monotonic_ms();
        if (state->refilled_ms == 0)
                state->refilled_ms = now;
        state->tokens += (double)(now - state->refilled_ms) * SECCOMP_NOTIFY_PER_SECOND / 1000.0;
        if (state->tokens > SECCOMP_NOTIFY_BURST)
                state->tokens = SECCOMP_NOTIFY_BURST;
        state->refilled_ms = now;
        if (state->tokens < 1)
                return false;
        state->tokens -= 1;
        return true;
}

static json_t *syscall_name(int nr)
{
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        json_t *text = name ? json_string(name) : json_sprintf("syscall-%d", nr);
        free(name);
        return text;
}

/* The record of one refused escape primitive (telemetry: the pid and comm
 * are read after the fact and may be stale). */
static json_t *denial_describe(const struct seccomp_notif *req, struct seccomp_notify *state)
{
        pid_t pid = (pid_t)req->pid;
        long inner = -1, parent = -1;
        exec_notify_proc_ids(pid, &inner, &parent);
        json_t *fields =
            json_pack("{s:o, s:I, s:I, s:I, s:o, s:s}", "syscall", syscall_name(req->data.nr),
                      "pid", (json_int_t)inner, "host_pid", (json_int_t)pid, "ppid",
                      (json_int_t)parent, "comm", exec_notify_comm(pid), "result", "EPERM");
        if (!fields)
                return NULL;
        if (req->data.nr == __NR_clone || req->data.nr == __NR_unshare)
                json_object_set_new(fields, "flags",
                                    json_sprintf("0x%llx", (unsigned long long)req->data.args[0]));
        if (state->suppressed) {
                json_object_set_new(fields, "suppressed_before",
                                    json_integer((json_int_t)state->suppressed));
                state->suppressed = 0;
        }
        return fields;
}

/* Escape primitives are refused whatever the process's memory says: the
 * answer never depends on anything the sandbox controls. */
static json_t *denial_answer(const struct seccomp_notif *req, struct seccomp_notif_resp *resp,
                             struct seccomp_notify *state, bool describe)
{
        resp->error = -EPERM;
        resp->flags = 0;
        state->denied++;
        if (!describe)
                return NULL;
        if (!notify_may_record(state)) {
                state->suppressed++;
                state->last_nr = req->data.nr;
                return NULL;
        }
        return denial_describe(req, state);
}

/* The kernel's notification structures may grow: ask their sizes once. */
static int notify_sizes(size_t *notif, size_t *resp)
{
        static struct seccomp_notif_sizes sizes;
        if (sizes.seccomp_notif == 0 &&
            syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
                return -errno;
        *notif = sizes.seccomp_notif > sizeof(struct seccomp_notif) ? sizes.seccomp_notif
                                                                    : sizeof(struct seccomp_notif);
        *resp = sizes.seccomp_notif_resp > sizeof(struct seccomp_notif_resp)
                    ? sizes.seccomp_notif_resp
                    : sizeof(struct seccomp_notif_resp);
        return 0;
}

static bool exec_is_miss(const json_t *fields)
{
        const char *result = json_string_value(json_object_get(fields, "result"));
        return result && (strcmp(result, "ENOENT") == 0 || strcmp(result, "ENOTDIR") == 0) &&
               !json_object_get(fields, "refused");
}

static bool is_exec(int nr)
{
        return nr == __NR_execve || nr == __NR_execveat;
}

int seccomp_notify_handle(int listener, struct seccomp_notify *state, struct event_bus *bus,
                          const struct exec_gate *gate)
{
        size_t notif_size = 0, resp_size = 0;
        int r = notify_sizes(&notif_size, &resp_size);
        if (r < 0)
                return r;
        /* both fit comfortably on the stack, aligned for the kernel's structs */
        _Alignas(8) unsigned char req_buf[256] = {0}, resp_buf[64] = {0};
        if (notif_size > sizeof(req_buf) || resp_size > sizeof(resp_buf))
                return -EOVERFLOW;
        struct seccomp_notif *req = (struct seccomp_notif *)req_buf;
        struct seccomp_notif_resp *resp = (struct seccomp_notif_resp *)resp_buf;
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
                return errno == EINTR || errno == ENOENT ? 0 : -errno;
        bool describe = bus && (bus->sink_count > 0 || bus->held);
        bool exec = is_exec(req->data.nr);
        bool rename_call = protect_notify_is_rename(req->data.nr);
        const char *rename_type = NULL;
        resp->id = req->id;
        json_t *fields = exec          ? exec_notify_answer(req, resp, describe, gate)
                         : rename_call ? protect_notify_answer(listener, req, resp, &state->protect,
                                                               describe, &rename_type)
                                       : denial_answer(req, resp, state, describe);
        if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0 && errno != ENOENT)
                r = -errno;
        if (fields && exec && exec_is_miss(fields)) {
                /* execvp tries each PATH directory: the misses are not runs,
                 * and each of them is not a record; the exec that runs says
                 * how many came before it */
                state->exec_misses++;
                json_decref(fields);
                fields = NULL;
        } else if (fields && exec && state->exec_misses) {
                json_object_set_new(fields, "path_misses",
                                    json_integer((json_int_t)state->exec_misses));
                state->exec_misses = 0;
        }
        if (fields)
                event_emit(bus,
                           exec          ? "exec"
                           : rename_call ? rename_type
                                         : "syscall.denied",
                           fields);
        return r;
}

void seccomp_notify_finish(struct seccomp_notify *state, struct event_bus *bus)
{
        protect_watch_finish(&state->protect, bus);
        if (state->exec_misses && bus) /* a command that was never found */
                event_emit(bus, "exec.missed",
                           json_pack("{s:I}", "path_misses", (json_int_t)state->exec_misses));
        state->exec_misses = 0;
        if (!state->suppressed || !bus)
                return;
        event_emit(bus, "syscall.denied",
                   json_pack("{s:o, s:b, s:I, s:I}", "syscall", syscall_name(state->last_nr),
                             "summary", 1, "suppressed_before", (json_int_t)state->suppressed,
                             "denied_total", (json_int_t)state->denied));
        state->suppressed = 0;
}

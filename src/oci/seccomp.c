/* config.json's linux.seccomp, compiled with libseccomp into a BPF program
 * that the container's process installs last, on top of reins' own filter
 * (sandbox/child_exec.c). The kernel runs every filter of a process and
 * keeps the most restrictive answer, so the container gets the union of
 * both profiles' denials: config.json can narrow what reins allows, never
 * widen it.
 *
 * The profile is written by whoever made config.json (an engine's default,
 * an image's annotation): every list is bounded and every action or operator
 * reins does not know is refused with its key named. Syscall names this
 * libseccomp does not know are skipped (runc does the same: a profile
 * lists names of newer kernels). */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "oci/spec.h"
#include "util/cleanup.h"

#define SECCOMP_MAX_ENTRIES 4096
#define SECCOMP_MAX_NAMES   1024

static int oci_seccomp_action(const json_t *obj, const char *key, const char *where, uint32_t *out,
                              struct reins_error *err)
{
        const char *name = json_string_value(json_object_get(obj, key));
        if (!name)
                return reins_error_set(err, EINVAL, "config.json: %s%s: expected an action", where,
                                       key);
        json_t *ret = json_object_get(obj, "errnoRet");
        uint32_t errno_ret = EPERM;
        if (ret) {
                if (!json_is_integer(ret) || json_integer_value(ret) < 0 ||
                    json_integer_value(ret) > 4095)
                        return reins_error_set(
                            err, EINVAL, "config.json: %serrnoRet: expected 0 to 4095", where);
                errno_ret = (uint32_t)json_integer_value(ret);
        }
        if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
                *out = SCMP_ACT_ALLOW;
        else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
                *out = SCMP_ACT_ERRNO(errno_ret);
        else if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
                *out = SCMP_ACT_KILL_THREAD;
        else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
                *out = SCMP_ACT_KILL_PROCESS;
        else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
                *out = SCMP_ACT_TRAP;
        else if (strcmp(name, "SCMP_ACT_LOG") == 0)
                *out = SCMP_ACT_LOG;
        else
                /* TRACE and NOTIFY hand the decision to a tracer or an agent
                 * of the engine's: not reins' to give away */
                return reins_error_set(err, EINVAL,
                                       "config.json: %s%s '%.32s' is not supported by reins", where,
                                       key, name);
        return 0;
}

static int oci_seccomp_op(const char *name, enum scmp_compare *out)
{
        static const struct {
                const char *name;
                enum scmp_compare op;
        } ops[] = {{"SCMP_CMP_NE", SCMP_CMP_NE},
                   {"SCMP_CMP_LT", SCMP_CMP_LT},
                   {"SCMP_CMP_LE", SCMP_CMP_LE},
                   {"SCMP_CMP_EQ", SCMP_CMP_EQ},
                   {"SCMP_CMP_GE", SCMP_CMP_GE},
                   {"SCMP_CMP_GT", SCMP_CMP_GT},
                   {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
        for (size_t i = 0; name && i < sizeof(ops) / sizeof(ops[0]); i++)
                if (strcmp(ops[i].name, name) == 0) {
                        *out = ops[i].op;
                        return 0;
                }
        return -EINVAL;
}

static int oci_seccomp_args(const json_t *args, size_t entry, struct scmp_arg_cmp *out,
                            unsigned *count, struct reins_error *err)
{
        *count = 0;
        if (!args)
                return 0;
        if (!json_is_array(args) || json_array_size(args) > 6)
                return reins_error_set(err, EINVAL,
                                       "config.json: linux.seccomp.syscalls[%zu].args: expected "
                                       "at most 6 entries",
                                       entry);
        for (size_t i = 0; i < json_array_size(args); i++) {
                json_t *a = json_array_get(args, i);
                json_t *index = json_object_get(a, "index"), *value = json_object_get(a, "value");
                json_t *two = json_object_get(a, "valueTwo");
                enum scmp_compare op;
                if (!json_is_integer(index) || json_integer_value(index) < 0 ||
                    json_integer_value(index) > 5 || !json_is_integer(value) ||
                    (two && !json_is_integer(two)) ||
                    oci_seccomp_op(json_string_value(json_object_get(a, "op")), &op) < 0)
                        return reins_error_set(
                            err, EINVAL,
                            "config.json: linux.seccomp.syscalls[%zu].args[%zu]: "
                            "expected index 0-5, integer values and a "
                            "SCMP_CMP_ operator",
                            entry, i);
                out[i] = (struct scmp_arg_cmp){
                    .arg = (unsigned)json_integer_value(index),
                    .op = op,
                    .datum_a = (scmp_datum_t)json_integer_value(value),
                    .datum_b = two ? (scmp_datum_t)json_integer_value(two) : 0,
                };
        }
        *count = (unsigned)json_array_size(args);
        return 0;
}

static int oci_seccomp_rules(scmp_filter_ctx ctx, const json_t *syscalls, struct reins_error *err)
{
        if (!syscalls)
                return 0;
        if (!json_is_array(syscalls) || json_array_size(syscalls) > SECCOMP_MAX_ENTRIES)
                return reins_error_set(err, EINVAL,
                                       "config.json: linux.seccomp.syscalls: expected an array of "
                                       "at most %d entries",
                                       SECCOMP_MAX_ENTRIES);
        for (size_t i = 0; i < json_array_size(syscalls); i++) {
                json_t *entry = json_array_get(syscalls, i);
                char where[64];
                snprintf(where, sizeof(where), "linux.seccomp.syscalls[%zu].", i);
                json_t *names = json_object_get(entry, "names");
                if (!json_is_array(names) || json_array_size(names) > SECCOMP_MAX_NAMES)
                        return reins_error_set(err, EINVAL,
                                               "config.json: %snames: expected an array of at most "
                                               "%d names",
                                               where, SECCOMP_MAX_NAMES);
                uint32_t action;
                struct scmp_arg_cmp args[6];
                unsigned arg_count;
                int r;
                if ((r = oci_seccomp_action(entry, "action", where, &action, err)) < 0 ||
                    (r = oci_seccomp_args(json_object_get(entry, "args"), i, args, &arg_count,
                                          err)) < 0)
                        return r;
                for (size_t j = 0; j < json_array_size(names); j++) {
                        const char *name = json_string_value(json_array_get(names, j));
                        if (!name)
                                return reins_error_set(err, EINVAL,
                                                       "config.json: %snames[%zu]: expected a "
                                                       "string",
                                                       where, j);
                        int nr = seccomp_syscall_resolve_name(name);
                        if (nr == __NR_SCMP_ERROR)
                                continue; /* unknown here: skipped, as runc does */
                        r = seccomp_rule_add_array(ctx, action, nr, arg_count, args);
                        /* the default action already: nothing to add */
                        if (r < 0 && r != -EACCES && r != -EEXIST)
                                return reins_error_errno(err, -r, "config.json: %snames[%zu] %s",
                                                         where, j, name);
                }
        }
        return 0;
}

int oci_seccomp_compile(const json_t *profile, void **filter, size_t *len, struct reins_error *err)
{
        *filter = NULL;
        *len = 0;
        uint32_t default_action;
        int r =
            oci_seccomp_action(profile, "defaultAction", "linux.seccomp.", &default_action, err);
        if (r < 0)
                return r;
        json_t *default_errno = json_object_get(profile, "defaultErrnoRet");
        if (default_errno && json_is_integer(default_errno) &&
            (default_action & 0xffff0000U) == SCMP_ACT_ERRNO(0) &&
            json_integer_value(default_errno) >= 0 && json_integer_value(default_errno) < 4096)
                default_action = SCMP_ACT_ERRNO((uint32_t)json_integer_value(default_errno));
        scmp_filter_ctx ctx = seccomp_init(default_action);
        if (!ctx)
                return reins_error_set(err, ENOMEM, "config.json: linux.seccomp: seccomp_init");
        r = oci_seccomp_rules(ctx, json_object_get(profile, "syscalls"), err);
        cleanup_fd int fd = r < 0 ? -1 : memfd_create("reins-oci-seccomp", MFD_CLOEXEC);
        if (r == 0 && fd < 0)
                r = reins_error_errno(err, errno, "memfd_create");
        if (r == 0 && (r = seccomp_export_bpf(ctx, fd)) < 0)
                r = reins_error_errno(err, -r, "config.json: linux.seccomp: compiling the profile");
        seccomp_release(ctx);
        if (r < 0)
                return r;
        struct stat st;
        if (fstat(fd, &st) < 0 || st.st_size <= 0 || st.st_size % 8 != 0 || st.st_size / 8 > 65535)
                return reins_error_set(err, EINVAL,
                                       "config.json: linux.seccomp: the compiled profile is too "
                                       "large");
        void *bytes = malloc((size_t)st.st_size);
        if (!bytes)
                return reins_error_set(err, ENOMEM, "out of memory");
        if (pread(fd, bytes, (size_t)st.st_size, 0) != st.st_size) {
                free(bytes);
                return reins_error_errno(err, errno, "reading the compiled profile");
        }
        *filter = bytes;
        *len = (size_t)st.st_size / 8;
        return 0;
}

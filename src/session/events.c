#include "session/events.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/bytes_json.h"

void session_event_sink_stream(void *stream, const json_t *event)
{
        /* one line per event, flushed at once: the stream is live */
        if (json_dumpf(event, stream, JSON_COMPACT | JSON_ENSURE_ASCII) == 0) {
                fputc('\n', stream);
                fflush(stream);
        }
}

int session_new_id(char out[25])
{
        unsigned char raw[12];
        if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
                return -errno;
        for (size_t i = 0; i < sizeof(raw); i++)
                snprintf(out + 2 * i, 3, "%02x", raw[i]);
        return 0;
}

/* What is actually in force for this session, for the record. */
static json_t *run_protections_json(const struct reins_plan *plan, const struct spawn_inputs *in)
{
        json_t *list = json_array();
        const char *always[] = {"user-ns",     "pid-ns",    "mount-ns", "ipc-ns",
                                "uts-ns",      "cgroup-ns", "seccomp",  "capabilities-dropped",
                                "no-new-privs"};
        for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++)
                json_array_append_new(list, json_string(always[i]));
        json_array_append_new(list, json_string(plan->host_network ? "host-network" : "net-ns"));
        if (plan->proxy)
                json_array_append_new(list, json_string("egress-proxy"));
        if (in->landlock_abi > 0) {
                char name[32];
                snprintf(name, sizeof(name), "landlock-abi-%d", in->landlock_abi);
                json_array_append_new(list, json_string(name));
        }
        if (in->cgroup && in->cgroup->mode != CGROUP_NONE)
                json_array_append_new(
                    list, json_string(in->cgroup->mode == CGROUP_V2 ? "cgroup-v2" : "cgroup-v1"));
        else if (in->rlimit_fallback)
                json_array_append_new(list, json_string("rlimits"));
        if (in->use_pty)
                json_array_append_new(list, json_string("private-pty"));
        return list;
}

json_t *session_start_fields(const struct reins_plan *plan, const struct spawn_inputs *in,
                             const char *policy_source, const char *user_key, json_t *identity)
{
        struct passwd *pw = getpwuid(getuid());
        json_t *policy =
            json_pack("{s:s, s:s, s:s}", "name", plan->policy_name, "sha256", plan->policy_sha256,
                      "source", policy_source ? policy_source : "");
        json_t *fields = json_pack(
            "{s:s, s:i, s:s, s:o, s:o, s:b, s:s, s:o, s:o}", "user", pw ? pw->pw_name : "?", "uid",
            (json_int_t)getuid(), "agent", plan->agent ? plan->agent : "", "policy", policy,
            "protections", run_protections_json(plan, in), "degraded", in->landlock_abi == 0,
            "version", REINS_VERSION, "command", bytes_json_array(plan->argv), "workspace",
            bytes_json_z(plan->workspace));
        if (fields && user_key)
                json_object_set_new(fields, "user_key", json_string(user_key));
        /* the root the agent ran in, by its content key (reins env show KEY) */
        if (fields && plan->environment && plan->environment->key)
                json_object_set_new(fields, "environment",
                                    json_pack("{s:s, s:b}", "key", plan->environment->key,
                                              "writable", plan->environment->upper != NULL));
        if (fields && identity)
                json_object_update(fields, identity);
        json_decref(identity);
        return fields;
}

void session_emit_start(struct event_bus *bus, const struct reins_plan *plan,
                        const struct spawn_inputs *in, const char *policy_source,
                        const char *user_key, json_t *identity)
{
        event_emit(bus, "session.start",
                   session_start_fields(plan, in, policy_source, user_key, identity));
}

void session_emit_end(struct event_bus *bus, const struct reins_plan *plan,
                      const struct supervise_outcome *outcome, const struct cgroup_handle *cgroup,
                      uint64_t duration_ms)
{
        long oom = cgroup_oom_kills(cgroup);
        if (outcome->timed_out)
                event_emit(bus, "limit",
                           json_pack("{s:s, s:I}", "kind", "timeout", "limit_ms",
                                     (json_int_t)plan->limits.wall_time_ms));
        if (oom > 0)
                event_emit(bus, "limit",
                           json_pack("{s:s, s:I, s:i}", "kind", "memory", "limit_bytes",
                                     (json_int_t)plan->limits.memory_bytes, "oom_kills", (int)oom));
        json_t *fields = json_pack("{s:i, s:I, s:b, s:b}", "status", outcome->exit_status,
                                   "duration_ms", (json_int_t)duration_ms, "timed_out",
                                   outcome->timed_out, "setup_failed", outcome->setup_failed);
        if (fields && outcome->exit_status > 128 && !outcome->setup_failed)
                json_object_set_new(fields, "signal", json_integer(outcome->exit_status - 128));
        long peak = cgroup_memory_peak(cgroup);
        if (fields && peak > 0)
                json_object_set_new(fields, "peak_memory_bytes", json_integer(peak));
        event_emit(bus, "session.end", fields);
}

#include "audit/bench.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/event.h"
#include "audit/trail.h"
#include "audit/verify.h"

#define BENCH_POOL 4096

static double bench_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *bench_fields(uint64_t i)
{
        char arg[32];
        snprintf(arg, sizeof(arg), "file-%llu.c", (unsigned long long)i);
        return json_pack("{s:I, s:I, s:[s, s, s], s:s, s:s, s:s}", "pid",
                         (json_int_t)(i % 30000 + 2), "ppid", (json_int_t)1, "argv", "cc", "-c",
                         arg, "cwd", "/home/user/project", "path", "/usr/bin/cc", "result", "ok");
}

/* Collects what the bus delivers, to feed the trail alone afterwards. */
struct bench_pool {
        json_t *events[BENCH_POOL];
        size_t count;
};

static void bench_collect(void *ctx, const json_t *event)
{
        struct bench_pool *pool = ctx;
        if (pool->count < BENCH_POOL)
                pool->events[pool->count++] = json_deep_copy(event);
}

static int bench_trail_alone(uint64_t events, const char *path, struct audit_bench_result *out,
                             struct reins_error *err)
{
        static struct bench_pool pool;
        struct event_bus bus;
        event_bus_init(&bus, "0123456789abcdef01234567");
        event_bus_add_sink(&bus, bench_collect, &pool);
        for (uint64_t i = 0; i < BENCH_POOL; i++)
                event_emit(&bus, "exec", bench_fields(i));
        struct audit_trail *trail = NULL;
        int r = audit_trail_open(path, &trail, err);
        if (r == 0) {
                /* the write path, not the rate cap: every record written */
                audit_trail_set_limits(trail, UINT64_MAX / 2, UINT64_MAX / 2);
                double start = bench_now();
                for (uint64_t i = 0; i < events; i++)
                        audit_trail_sink(trail, pool.events[i % pool.count]);
                r = audit_trail_close(trail, err);
                out->append_seconds = bench_now() - start;
        }
        for (size_t i = 0; i < pool.count; i++)
                json_decref(pool.events[i]);
        pool.count = 0;
        return r;
}

static int bench_whole_path(uint64_t events, const char *path, struct audit_bench_result *out,
                            struct reins_error *err)
{
        struct audit_trail *trail = NULL;
        int r = audit_trail_open(path, &trail, err);
        if (r < 0)
                return r;
        audit_trail_set_limits(trail, UINT64_MAX / 2, UINT64_MAX / 2);
        struct event_bus bus;
        event_bus_init(&bus, "0123456789abcdef01234567");
        event_bus_add_sink(&bus, audit_trail_sink, trail);
        double start = bench_now();
        for (uint64_t i = 0; i < events; i++)
                event_emit(&bus, "exec", bench_fields(i));
        r = audit_trail_close(trail, err);
        out->emit_seconds = bench_now() - start;
        return r;
}

int audit_bench(uint64_t events, const char *path, struct audit_bench_result *out,
                struct reins_error *err)
{
        char emit_path[4096];
        snprintf(emit_path, sizeof(emit_path), "%s.emit", path);
        out->events = events;
        int r = bench_trail_alone(events, path, out, err);
        if (r == 0)
                r = bench_whole_path(events, emit_path, out, err);
        unlink(emit_path);
        if (r < 0)
                return r;
        struct stat st;
        out->bytes = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
        struct audit_verify_result result;
        double start = bench_now();
        r = audit_verify_file(path, NULL, &result, err);
        out->verify_seconds = bench_now() - start;
        out->verdict = (int)result.verdict;
        return r;
}

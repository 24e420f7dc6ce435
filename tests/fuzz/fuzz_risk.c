/* The risk engine (govern/risk.c, rule_*.c) reads what the agent does:
 * every command line it runs (argv, parsed for shells, pipes, decoders,
 * reverse shells), every host it names and every file it touches. Its
 * text analysis is a parser of agent bytes. The input is a script, one
 * event per line, as in tests/unit/test_risk.c: "@allow HOST", "@deny
 * HOST", "@close BYTES", "@denied SYSCALL", "@canary PATH", "@tick MS",
 * "{...}" for any event as JSON, else a command line with tab-separated
 * arguments. The engine must hold for any of them; its score stays a
 * number and its tier in range. */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "govern/risk.h"

#define FUZZ_WORKSPACE "/home/agent/project"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        json_object_seed(1);
        return 0;
}

struct clock {
        int64_t now_ms;
};

static int64_t clock_ms(void *ctx)
{
        return ((struct clock *)ctx)->now_ms;
}

static json_t *event(const char *type)
{
        return json_pack("{s:s, s:s, s:s}", "type", type, "time", "2026-01-01T00:00:00.000000Z",
                         "session", "s1");
}

static json_t *net_event(const char *type, const char *decision, const char *host)
{
        json_t *e = event(type);
        if (decision)
                json_object_set_new(e, "decision", json_string(decision));
        bool ip = strspn(host, "0123456789.") == strlen(host) || strchr(host, ':');
        json_object_set_new(e, ip ? "address" : "host", json_string(host));
        json_object_set_new(e, "port", json_integer(443));
        return e;
}

static json_t *exec_event(char *line)
{
        json_t *argv = json_array();
        char *save = NULL;
        for (char *a = strtok_r(line, "\t", &save); a; a = strtok_r(NULL, "\t", &save))
                json_array_append_new(argv, json_string(a));
        const char *path = json_string_value(json_array_get(argv, 0));
        json_t *e = event("exec");
        json_object_set_new(e, "pid", json_integer(7));
        json_object_set_new(e, "ppid", json_integer(1));
        json_object_set_new(e, "path", json_string(path ? path : ""));
        json_object_set_new(e, "argv", argv);
        json_object_set_new(e, "cwd", json_string(FUZZ_WORKSPACE));
        json_object_set_new(e, "result", json_string("ok"));
        return e;
}

static json_t *script_event(char *line, size_t length, struct clock *clock)
{
        if (line[0] == '{')
                return json_loadb(line, length, 0, NULL);
        if (strncmp(line, "@tick ", 6) == 0) {
                clock->now_ms += strtoll(line + 6, NULL, 10) & 0xffffffffff;
                return NULL;
        }
        if (strncmp(line, "@allow ", 7) == 0)
                return net_event("net.decision", "allowed", line + 7);
        if (strncmp(line, "@deny ", 6) == 0)
                return net_event("net.decision", "denied", line + 6);
        if (strncmp(line, "@close ", 7) == 0) {
                json_t *e = net_event("net.close", NULL, "upload.example.com");
                json_object_set_new(e, "bytes_up", json_integer(strtoll(line + 7, NULL, 10)));
                return e;
        }
        if (strncmp(line, "@denied ", 8) == 0) {
                json_t *e = event("syscall.denied");
                json_object_set_new(e, "syscall", json_string(line + 8));
                json_object_set_new(e, "comm", json_string("python3"));
                return e;
        }
        if (strncmp(line, "@canary ", 8) == 0) {
                json_t *e = event("file.canary_read");
                json_object_set_new(e, "path", json_string(line + 8));
                return e;
        }
        return exec_event(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size > 65536)
                return 0;
        struct clock clock = {.now_ms = 1767225600000};
        struct risk_config config = {.clock_ms = clock_ms, .ctx = &clock};
        struct risk_engine *engine = risk_engine_new(&config);
        FUZZ_CHECK(engine != NULL);
        json_t *start = event("session.start");
        json_object_set_new(start, "workspace", json_string(FUZZ_WORKSPACE));
        risk_engine_sink(engine, start);
        json_decref(start);
        const char *p = (const char *)data, *end = p + size;
        while (p < end) {
                const char *newline = memchr(p, '\n', (size_t)(end - p));
                size_t n = newline ? (size_t)(newline - p) : (size_t)(end - p);
                char *line = strndup(p, n); /* a NUL in the line ends it, as in a C string */
                FUZZ_CHECK(line != NULL);
                clock.now_ms += 10;
                json_t *e = script_event(line, strlen(line), &clock);
                if (e)
                        risk_engine_sink(engine, e);
                json_decref(e);
                free(line);
                p += n + 1;
        }
        double score = risk_engine_score(engine, -1);
        FUZZ_CHECK(!isnan(score) && score >= 0);
        int tier = risk_engine_tier(engine);
        FUZZ_CHECK(tier >= 0 && tier <= RISK_TIER_MAX);
        risk_engine_free(engine);
        return 0;
}

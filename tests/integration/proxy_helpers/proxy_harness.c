/* The egress proxy outside a sandbox, for tests, valgrind and debugging:
 *   proxy_harness PORT SECONDS ALLOW... [-- HOSTS...]
 * listens on 127.0.0.1:PORT (0: any; the port is printed), serves for
 * SECONDS (or until SIGTERM/SIGINT), prints events on stderr, then frees
 * everything. Build from the repo with the objects of build/src/net,
 * audit/event.o and the util layer (as an archive), linked with
 * -ljansson -lcares -lssl -lcrypto -lsodium.
 *
 * A scripted gate (proxy_options.gate), from the environment:
 *   REINS_HARNESS_GATE="HOST=VERDICT[:ANSWER:MS];..."  per requested host:
 *       VERDICT allow | deny | ask | lists (what the lists said; the default)
 *       ANSWER  allow | deny: proxy_answer that many ms after an ask (MS
 *               "now": from inside the decide hook itself)
 *   REINS_HARNESS_ASK / REINS_HARNESS_DENY="PATTERN,..."  network.ask / deny
 *   REINS_HARNESS_SCAN=1            the scan hook prints what it is shown
 *   REINS_HARNESS_SCAN_STOP=WORD    ... and turns egress off (proxy_close_all,
 *                                   from inside the hook) when WORD shows up
 *   REINS_HARNESS_IDLE_MS, REINS_HARNESS_BUDGET (bytes), REINS_HARNESS_MAX_CONN
 *   REINS_HARNESS_NO_GATE=1         no gate at all (ask then means deny)
 * SIGUSR1: proxy_close_all("harness: egress off").
 * Lines for the test, on stderr: "harness: listening PORT", "harness: decide
 * ID HOST PORT PROTOCOL LISTS RULE", "harness: answer ID allow|deny",
 * "harness: abandoned ID", "harness: scan ID HOST LEN TEXT". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "net/proxy.h"

#define HARNESS_ANSWERS_MAX 256

struct scripted_answer {
        uint64_t id;
        uint64_t due_ms;
        bool allow;
};

struct harness {
        struct proxy *proxy;
        const char *script;    /* REINS_HARNESS_GATE */
        const char *scan_stop; /* REINS_HARNESS_SCAN_STOP */
        bool scan_print;
        struct scripted_answer answers[HARNESS_ANSWERS_MAX];
        size_t answer_count;
};

static volatile sig_atomic_t stop, close_all;

static void on_signal(int sig)
{
        if (sig == SIGUSR1)
                close_all = 1;
        else
                stop = 1;
}

static uint64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *verdict_text(enum proxy_verdict v)
{
        return v == PROXY_ALLOW ? "allow" : v == PROXY_ASK ? "ask" : "deny";
}

/* The script's entry for `host`: "VERDICT[:ANSWER:MS]" copied into `out`. */
static bool script_find(const char *script, const char *host, char *out, size_t size)
{
        size_t host_len = strlen(host);
        for (const char *p = script; p && *p;) {
                const char *end = strchr(p, ';');
                size_t len = end ? (size_t)(end - p) : strlen(p);
                if (len > host_len && strncmp(p, host, host_len) == 0 && p[host_len] == '=') {
                        size_t n = len - host_len - 1;
                        if (n >= size)
                                n = size - 1;
                        memcpy(out, p + host_len + 1, n);
                        out[n] = '\0';
                        return true;
                }
                p = end ? end + 1 : NULL;
        }
        return false;
}

static void schedule_answer(struct harness *h, uint64_t id, bool allow, unsigned delay_ms)
{
        if (h->answer_count == HARNESS_ANSWERS_MAX)
                return;
        h->answers[h->answer_count++] =
            (struct scripted_answer){.id = id, .due_ms = now_ms() + delay_ms, .allow = allow};
}

static enum proxy_verdict harness_decide(void *ctx, const struct proxy_request_info *request,
                                         const char **reason)
{
        struct harness *h = ctx;
        fprintf(stderr, "harness: decide %llu %s %u %s %s %s\n", (unsigned long long)request->id,
                request->host, (unsigned)request->port, request->protocol,
                verdict_text(request->verdict), request->rule ? request->rule : "-");
        char entry[64];
        if (!h->script || !script_find(h->script, request->host, entry, sizeof(entry)) ||
            strncmp(entry, "lists", 5) == 0)
                return request->verdict;
        if (strcmp(entry, "allow") == 0) {
                *reason = "the harness allows it";
                return PROXY_ALLOW;
        }
        if (strcmp(entry, "deny") == 0) {
                *reason = "the harness refuses it";
                return PROXY_DENY;
        }
        /* ask[:allow|deny:MS], or ask:allow|deny:now: answered from inside
         * this hook (the proxy must apply it once the hold is in place) */
        char answer[16], when[16];
        unsigned delay = 0;
        if (sscanf(entry, "ask:%15[a-z]:%15s", answer, when) == 2 && strcmp(when, "now") == 0)
                proxy_answer(h->proxy, request->id, strcmp(answer, "allow") == 0,
                             "answered inside the hook");
        else if (sscanf(entry, "ask:%15[a-z]:%u", answer, &delay) == 2)
                schedule_answer(h, request->id, strcmp(answer, "allow") == 0, delay);
        *reason = "the harness asks a pretend human";
        return PROXY_ASK;
}

static void harness_abandoned(void *ctx, uint64_t id)
{
        struct harness *h = ctx;
        fprintf(stderr, "harness: abandoned %llu\n", (unsigned long long)id);
        for (size_t i = 0; i < h->answer_count; i++)
                if (h->answers[i].id == id)
                        h->answers[i] = h->answers[--h->answer_count];
}

static void harness_scan(void *ctx, uint64_t id, const char *host, const void *bytes, size_t len)
{
        struct harness *h = ctx;
        if (h->scan_print) {
                /* printable ASCII only, the rest as '.', at most 200 bytes */
                char text[201];
                size_t n = len < 200 ? len : 200;
                for (size_t i = 0; i < n; i++) {
                        unsigned char ch = ((const unsigned char *)bytes)[i];
                        text[i] = ch > 32 && ch < 127 ? (char)ch : '.';
                }
                text[n] = '\0';
                fprintf(stderr, "harness: scan %llu %s %zu %s\n", (unsigned long long)id, host,
                        len, text);
        }
        if (h->scan_stop && memmem(bytes, len, h->scan_stop, strlen(h->scan_stop)))
                proxy_close_all(h->proxy, "harness: a secret in plaintext egress");
}

/* Answers that are due; ms until the next one (or `cap`). */
static int harness_run_answers(struct harness *h, int cap)
{
        uint64_t now = now_ms();
        int wait = cap;
        for (size_t i = 0; i < h->answer_count;) {
                struct scripted_answer a = h->answers[i];
                if (a.due_ms <= now) {
                        h->answers[i] = h->answers[--h->answer_count];
                        fprintf(stderr, "harness: answer %llu %s\n", (unsigned long long)a.id,
                                a.allow ? "allow" : "deny");
                        proxy_answer(h->proxy, a.id, a.allow,
                                     a.allow ? "the pretend human said yes"
                                             : "the pretend human said no");
                        continue;
                }
                if ((int)(a.due_ms - now) < wait)
                        wait = (int)(a.due_ms - now);
                i++;
        }
        return wait;
}

static void split_list(const char *text, struct reins_strv *out)
{
        if (!text)
                return;
        char *copy = strdup(text);
        for (char *save = NULL, *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
                strv_push(out, p);
        free(copy);
}

static int listen_loopback(int port)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof(sa);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 512) < 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
                perror("listen");
                return -1;
        }
        fprintf(stderr, "harness: listening %u\n", (unsigned)ntohs(sa.sin_port));
        return fd;
}

static uint64_t env_number(const char *name)
{
        const char *v = getenv(name);
        return v ? strtoull(v, NULL, 10) : 0;
}

int main(int argc, char **argv)
{
        if (argc < 3)
                return 2;
        setvbuf(stderr, NULL, _IOLBF, 0);
        struct reins_strv allow = {0}, hosts = {0}, ask = {0}, deny = {0};
        int i = 3;
        for (; i < argc && strcmp(argv[i], "--") != 0; i++)
                strv_push(&allow, argv[i]);
        for (i++; i < argc; i++)
                strv_push(&hosts, argv[i]);
        split_list(getenv("REINS_HARNESS_ASK"), &ask);
        split_list(getenv("REINS_HARNESS_DENY"), &deny);
        int fd = listen_loopback(atoi(argv[1]));
        if (fd < 0)
                return 1;
        struct event_bus bus;
        event_bus_init(&bus, "harness");
        event_bus_add_sink(&bus, event_sink_stderr, NULL);
        struct harness h = {
            .script = getenv("REINS_HARNESS_GATE"),
            .scan_stop = getenv("REINS_HARNESS_SCAN_STOP"),
            .scan_print = getenv("REINS_HARNESS_SCAN") != NULL,
        };
        struct proxy_gate gate = {
            .decide = harness_decide,
            .abandoned = harness_abandoned,
            .scan = h.scan_print || h.scan_stop ? harness_scan : NULL,
            .ctx = &h,
        };
        struct proxy_options options = {
            .allow = &allow,
            .deny = &deny,
            .ask = &ask,
            .gate = getenv("REINS_HARNESS_NO_GATE") ? NULL : &gate,
            .hosts = &hosts,
            .events = &bus,
            .idle_timeout_ms = env_number("REINS_HARNESS_IDLE_MS"),
            .egress_budget_bytes = env_number("REINS_HARNESS_BUDGET"),
            .max_connections = (unsigned)env_number("REINS_HARNESS_MAX_CONN"),
        };
        struct reins_error err = {0};
        if (proxy_create(&options, fd, &h.proxy, &err) < 0) {
                fprintf(stderr, "proxy_harness: %s\n", err.message);
                return 1;
        }
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        signal(SIGUSR1, on_signal);
        uint64_t end = now_ms() + (uint64_t)atoi(argv[2]) * 1000u;
        while (!stop && now_ms() < end) {
                if (close_all) {
                        close_all = 0;
                        proxy_close_all(h.proxy, "harness: egress off");
                }
                int wait = harness_run_answers(&h, 200);
                struct pollfd p = {.fd = proxy_poll_fd(h.proxy), .events = POLLIN};
                if (poll(&p, 1, wait) > 0)
                        proxy_dispatch(h.proxy);
        }
        proxy_free(h.proxy);
        event_bus_fini(&bus);
        strv_free(&allow);
        strv_free(&hosts);
        strv_free(&ask);
        strv_free(&deny);
        return 0;
}

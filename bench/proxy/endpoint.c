/* The proxy benchmark's two ends, in C so that neither end is the
 * bottleneck and the same code runs for the direct and the proxied transfer
 * (the ratio then measures the proxy, not Python):
 *
 *   endpoint serve                 listen on 127.0.0.1 (any port): a
 *                                  connection sends 8 bytes (a big-endian
 *                                  size) and gets that many bytes back, or
 *                                  sends 0 and gets its bytes echoed
 *   endpoint pull MODE HOST PORT TOTAL CONNS
 *                                  TOTAL bytes over CONNS parallel
 *                                  connections; "RESULT bytes=N seconds=S"
 *   endpoint latency MODE HOST PORT N
 *                                  N sequential connect + (CONNECT) + one
 *                                  echoed byte; "RESULT p50_us=A p99_us=B"
 *
 * MODE is "direct" (connect to 127.0.0.1:PORT; HOST is ignored) or "proxy"
 * (CONNECT HOST:PORT through the proxy at 127.0.0.1:3128, or at the port in
 * $REINS_BENCH_PROXY). Build: cc -O2 -pthread -o endpoint endpoint.c */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (256 * 1024)

static double now_s(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;
        while (len > 0) {
                ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
        char *p = buf;
        while (len > 0) {
                ssize_t n = recv(fd, p, len, 0);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                p += n;
                len -= (size_t)n;
        }
        return 0;
}

/* ------------------------------------------------------------------ server */

static void *serve_one(void *arg)
{
        int fd = (int)(intptr_t)arg;
        unsigned char head[8];
        if (read_all(fd, head, 8) == 0) {
                uint64_t size = 0;
                for (int i = 0; i < 8; i++)
                        size = size << 8 | head[i];
                char *buf = calloc(1, BLOCK);
                if (size == 0) { /* echo */
                        ssize_t n;
                        while (buf && (n = recv(fd, buf, BLOCK, 0)) > 0)
                                if (write_all(fd, buf, (size_t)n) < 0)
                                        break;
                }
                while (buf && size > 0) {
                        size_t n = size < BLOCK ? (size_t)size : BLOCK;
                        if (write_all(fd, buf, n) < 0)
                                break;
                        size -= n;
                }
                free(buf);
        }
        close(fd);
        return NULL;
}

static int cmd_serve(void)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in sa = {.sin_family = AF_INET};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof(sa);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1024) < 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
                perror("endpoint: listen");
                return 1;
        }
        printf("PORT %u\n", (unsigned)ntohs(sa.sin_port));
        fflush(stdout);
        for (;;) {
                int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0)
                        continue;
                pthread_t t;
                pthread_attr_t attr;
                pthread_attr_init(&attr);
                pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
                if (pthread_create(&t, &attr, serve_one, (void *)(intptr_t)c) != 0)
                        close(c);
                pthread_attr_destroy(&attr);
        }
}

/* ------------------------------------------------------------------ client */

struct target {
        int proxied;
        char host[256];
        int port;
        struct sockaddr_in proxy;
};

static int open_stream(const struct target *t)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const struct sockaddr_in *to = t->proxied ? &t->proxy : &sa;
        if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) < 0) {
                close(fd);
                return -1;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (!t->proxied)
                return fd;
        char req[600];
        int n = snprintf(req, sizeof(req), "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                         t->host, t->port, t->host, t->port);
        if (write_all(fd, req, (size_t)n) < 0) {
                close(fd);
                return -1;
        }
        /* read the response head byte by byte: nothing after it is ours */
        char head[1024];
        size_t got = 0;
        while (got < sizeof(head) - 1) {
                if (recv(fd, head + got, 1, 0) != 1)
                        break;
                got++;
                if (got >= 4 && memcmp(head + got - 4, "\r\n\r\n", 4) == 0)
                        break;
        }
        head[got] = '\0';
        if (strncmp(head, "HTTP/1.1 200", 12) != 0) {
                fprintf(stderr, "endpoint: proxy refused: %.80s\n", head);
                close(fd);
                return -1;
        }
        return fd;
}

struct pull {
        const struct target *target;
        uint64_t size, got;
};

static void *pull_one(void *arg)
{
        struct pull *p = arg;
        int fd = open_stream(p->target);
        if (fd < 0)
                return NULL;
        unsigned char head[8];
        for (int i = 0; i < 8; i++)
                head[i] = (unsigned char)(p->size >> (56 - 8 * i));
        char *buf = malloc(BLOCK * 4);
        if (buf && write_all(fd, head, 8) == 0) {
                while (p->got < p->size) {
                        ssize_t n = recv(fd, buf, BLOCK * 4, 0);
                        if (n <= 0)
                                break;
                        p->got += (uint64_t)n;
                }
        }
        free(buf);
        close(fd);
        return NULL;
}

static int cmd_pull(const struct target *t, uint64_t total, int conns)
{
        struct pull *pulls = calloc((size_t)conns, sizeof(*pulls));
        pthread_t *threads = calloc((size_t)conns, sizeof(*threads));
        double t0 = now_s();
        for (int i = 0; i < conns; i++) {
                pulls[i] = (struct pull){.target = t, .size = total / (uint64_t)conns};
                pthread_create(&threads[i], NULL, pull_one, &pulls[i]);
        }
        uint64_t sum = 0;
        for (int i = 0; i < conns; i++) {
                pthread_join(threads[i], NULL);
                sum += pulls[i].got;
        }
        double dt = now_s() - t0;
        printf("RESULT bytes=%llu seconds=%.4f\n", (unsigned long long)sum, dt);
        return sum == total / (uint64_t)conns * (uint64_t)conns ? 0 : 1;
}

static int compare_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static int cmd_latency(const struct target *t, int n)
{
        double *samples = calloc((size_t)n, sizeof(double));
        static const unsigned char echo_head[9] = {0, 0, 0, 0, 0, 0, 0, 0, 'x'};
        for (int i = 0; i < n; i++) {
                double t0 = now_s();
                int fd = open_stream(t);
                char c;
                if (fd < 0 || write_all(fd, echo_head, 9) < 0 || read_all(fd, &c, 1) < 0) {
                        fprintf(stderr, "endpoint: latency probe %d failed\n", i);
                        return 1;
                }
                samples[i] = now_s() - t0;
                close(fd);
        }
        qsort(samples, (size_t)n, sizeof(double), compare_double);
        int p99 = (int)((double)n * 0.99);
        if (p99 >= n)
                p99 = n - 1;
        printf("RESULT p50_us=%.0f p99_us=%.0f\n", samples[n / 2] * 1e6, samples[p99] * 1e6);
        return 0;
}

static int parse_target(const char *mode, const char *host, const char *port, struct target *t)
{
        memset(t, 0, sizeof(*t));
        t->proxied = strcmp(mode, "proxy") == 0;
        snprintf(t->host, sizeof(t->host), "%s", host);
        t->port = atoi(port);
        const char *proxy = getenv("REINS_BENCH_PROXY");
        t->proxy.sin_family = AF_INET;
        t->proxy.sin_port = htons(proxy ? (uint16_t)atoi(proxy) : 3128);
        t->proxy.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return t->port > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
        struct target t;
        if (argc == 2 && strcmp(argv[1], "serve") == 0)
                return cmd_serve();
        if (argc == 7 && strcmp(argv[1], "pull") == 0 &&
            parse_target(argv[2], argv[3], argv[4], &t) == 0)
                return cmd_pull(&t, strtoull(argv[5], NULL, 10), atoi(argv[6]));
        if (argc == 6 && strcmp(argv[1], "latency") == 0 &&
            parse_target(argv[2], argv[3], argv[4], &t) == 0)
                return cmd_latency(&t, atoi(argv[5]));
        fprintf(stderr, "usage: endpoint serve | pull MODE HOST PORT TOTAL CONNS | latency MODE "
                        "HOST PORT N\n");
        return 2;
}

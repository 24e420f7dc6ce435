/* The egress proxy outside a sandbox, for valgrind and debugging:
 *   proxy_harness PORT SECONDS ALLOW... [-- HOSTS...]
 * listens on 127.0.0.1:PORT, serves for SECONDS (or until SIGTERM/SIGINT),
 * prints events on stderr, then frees everything. Build from the repo with
 * the objects of build/src/net, audit/event.o, util/{error,strv}.o and
 * sandbox/weaken.o, linked with -ljansson -lcares. */
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

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
        (void)sig;
        stop = 1;
}

int main(int argc, char **argv)
{
        if (argc < 3)
                return 2;
        struct reins_strv allow = {0}, hosts = {0};
        int i = 3;
        for (; i < argc && strcmp(argv[i], "--") != 0; i++)
                strv_push(&allow, argv[i]);
        for (i++; i < argc; i++)
                strv_push(&hosts, argv[i]);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 128) < 0) {
                perror("listen");
                return 1;
        }
        struct event_bus bus;
        event_bus_init(&bus, "harness");
        event_bus_add_sink(&bus, event_sink_stderr, NULL);
        struct proxy_options options = {.allow = &allow, .hosts = &hosts, .events = &bus};
        struct proxy *proxy = NULL;
        struct reins_error err = {0};
        if (proxy_create(&options, fd, &proxy, &err) < 0) {
                fprintf(stderr, "proxy_harness: %s\n", err.message);
                return 1;
        }
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
        time_t end = time(NULL) + atoi(argv[2]);
        while (!stop && time(NULL) < end) {
                struct pollfd p = {.fd = proxy_poll_fd(proxy), .events = POLLIN};
                if (poll(&p, 1, 200) > 0)
                        proxy_dispatch(proxy);
        }
        proxy_free(proxy);
        strv_free(&allow);
        strv_free(&hosts);
        return 0;
}

/* Outgoing TCP and HTTP for the daemon (serve/outbound.h). */
#include "serve/outbound.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"

static long long outbound_now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int outbound_wait(int fd, short events, long long deadline)
{
        for (;;) {
                long long left = deadline - outbound_now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                struct pollfd p = {.fd = fd, .events = events};
                int n = poll(&p, 1, (int)left);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n > 0)
                        return p.revents;
        }
}

int outbound_connect(const char *host, const char *port, int timeout_ms)
{
        long long deadline = outbound_now_ms() + timeout_ms;
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *found = NULL;
        if (getaddrinfo(host, port, &hints, &found) != 0 || !found)
                return -EHOSTUNREACH;
        int r = -ECONNREFUSED;
        for (struct addrinfo *a = found; a; a = a->ai_next) {
                int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0) {
                        r = -errno;
                        continue;
                }
                if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
                        freeaddrinfo(found);
                        return fd;
                }
                if (errno == EINPROGRESS) {
                        int ev = outbound_wait(fd, POLLOUT, deadline), e = 0;
                        socklen_t len = sizeof(e);
                        if (ev > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == 0 &&
                            e == 0) {
                                freeaddrinfo(found);
                                return fd;
                        }
                        r = ev < 0 ? ev : -(e ? e : ECONNREFUSED);
                } else {
                        r = -errno;
                }
                close(fd);
        }
        freeaddrinfo(found);
        return r;
}

int outbound_send_all(int fd, const void *data, size_t length, int timeout_ms)
{
        long long deadline = outbound_now_ms() + timeout_ms;
        const char *p = data;
        while (length > 0) {
                ssize_t n = send(fd, p, length, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0) {
                        p += n;
                        length -= (size_t)n;
                        continue;
                }
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                int ev = outbound_wait(fd, POLLOUT, deadline);
                if (ev < 0)
                        return ev;
                if (ev & (POLLERR | POLLHUP))
                        return -ECONNRESET;
        }
        return 0;
}

/* 0: open; 1: the peer closed in order (FIN: it had read everything it
 * was sent, else its TCP would have reset); -errno: reset. Bytes the peer
 * sent (a syslog receiver sends none) are read and dropped. */
static int outbound_peer_state(int fd)
{
        char sink[512];
        for (;;) {
                ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
                if (n > 0)
                        continue;
                if (n == 0)
                        return 1;
                return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
        }
}

int outbound_wait_acked(int fd, int settle_ms, int timeout_ms)
{
        long long deadline = outbound_now_ms() + timeout_ms, acked_at = -1;
        for (;;) {
                int pending = 0;
                if (ioctl(fd, SIOCOUTQ, &pending) < 0)
                        return -errno;
                int state = outbound_peer_state(fd);
                if (state < 0)
                        return state;
                if (pending > 0 && state == 1)
                        return -ECONNRESET; /* closed before taking it all */
                long long now = outbound_now_ms();
                if (pending == 0) {
                        if (state == 1)
                                return 1;
                        if (acked_at < 0)
                                acked_at = now;
                        if (now - acked_at >= settle_ms)
                                return 0;
                }
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct timespec step = {.tv_nsec = 2 * 1000000L};
                nanosleep(&step, NULL);
        }
}

#define OUTBOUND_RESPONSE_MAX (64 * 1024)

/* One HTTP exchange's connection: plain TCP or a TLS session on it. */
struct outbound_stream {
        int fd;
        struct serve_tls_client *tls;
        void *session;
        long long deadline;
};

static int outbound_stream_send(struct outbound_stream *s, const void *data, size_t length)
{
        if (s->session)
                return serve_tls_client_send(s->tls, s->session, data, length);
        long long left = s->deadline - outbound_now_ms();
        return left <= 0 ? -ETIMEDOUT : outbound_send_all(s->fd, data, length, (int)left);
}

/* Bytes read, 0 at the end, -errno; waits until the deadline at most. */
static long outbound_stream_recv(struct outbound_stream *s, char *buffer, size_t size)
{
        for (;;) {
                if (s->session) {
                        long n = serve_tls_client_recv(s->tls, s->session, buffer, size);
                        if (n != -EAGAIN)
                                return n;
                        if (outbound_now_ms() >= s->deadline)
                                return -ETIMEDOUT;
                        continue;
                }
                ssize_t n = recv(s->fd, buffer, size, MSG_DONTWAIT);
                if (n >= 0)
                        return (long)n;
                if (errno != EAGAIN && errno != EINTR)
                        return -errno;
                int ev = outbound_wait(s->fd, POLLIN, s->deadline);
                if (ev < 0)
                        return ev;
        }
}

int outbound_http_post(const struct outbound_endpoint *to, const char *headers,
                       const char *content_type, const char *body, size_t length, int timeout_ms,
                       int *status, struct reins_error *err)
{
        const char *scheme = to->tls ? "https" : "http";
        struct outbound_stream s = {.tls = to->tls, .deadline = outbound_now_ms() + timeout_ms};
        cleanup_fd int fd = s.fd = outbound_connect(to->host, to->port, timeout_ms);
        if (fd < 0)
                return reins_error_errno(err, -fd, "connecting to %s:%s", to->host, to->port);
        if (to->tls) {
                /* verified or nothing: no request leaves in clear text */
                s.session = serve_tls_client_start(
                    to->tls, fd, to->server_name ? to->server_name : to->host, timeout_ms, err);
                if (!s.session)
                        return -EPROTO;
        }
        cleanup_free char *head = NULL;
        int n =
            asprintf(&head,
                     "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
                     to->path, to->host, to->port, content_type, length, headers ? headers : "");
        int r = n < 0 ? -ENOMEM : outbound_stream_send(&s, head, (size_t)n);
        if (r == 0)
                r = outbound_stream_send(&s, body, length);
        /* the status line, then the rest of the header block (bounded) */
        char response[OUTBOUND_RESPONSE_MAX];
        size_t got = 0;
        while (r == 0 && got < sizeof(response) - 1) {
                long m = outbound_stream_recv(&s, response + got, sizeof(response) - 1 - got);
                if (m < 0)
                        r = (int)m;
                if (m <= 0)
                        break;
                got += (size_t)m;
                response[got] = '\0';
                if (strstr(response, "\r\n\r\n"))
                        break; /* a full header block is enough to know the status */
        }
        if (s.session)
                serve_tls_client_close(s.tls, s.session);
        if (r < 0)
                return reins_error_errno(err, -r, "posting to %s://%s:%s%s", scheme, to->host,
                                         to->port, to->path);
        response[got] = '\0';
        unsigned code = 0;
        if (sscanf(response, "HTTP/1.%*[01] %3u", &code) != 1 || code < 100 || code > 599)
                return reins_error_set(err, EPROTO, "%s://%s:%s%s: not an HTTP answer", scheme,
                                       to->host, to->port, to->path);
        *status = (int)code;
        return 0;
}

/* splice relay (see tunnel.h). */
#include "net/tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int relay_init(struct net_relay *r)
{
        int p[2];
        r->pipe_read = r->pipe_write = -1;
        if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
                return -errno;
        r->pipe_read = p[0];
        r->pipe_write = p[1];
        /* a bigger pipe means fewer wakeups per byte; over the user's pipe
         * quota the kernel refuses and the default (64 KiB) stays */
        int size = fcntl(p[1], F_SETPIPE_SZ, NET_TUNNEL_PIPE_SIZE);
        if (size < 0)
                size = fcntl(p[1], F_GETPIPE_SZ);
        r->capacity = size > 0 ? (size_t)size : 65536;
        r->in_pipe = 0;
        r->eof = r->shut = r->pipe_full = false;
        return 0;
}

static void relay_destroy(struct net_relay *r)
{
        if (r->pipe_read >= 0)
                close(r->pipe_read);
        if (r->pipe_write >= 0)
                close(r->pipe_write);
        r->pipe_read = r->pipe_write = -1;
}

int net_tunnel_init(struct net_tunnel *t, int client_fd, int upstream_fd)
{
        t->client_fd = client_fd;
        t->upstream_fd = upstream_fd;
        t->down.pipe_read = t->down.pipe_write = -1;
        int r = relay_init(&t->up);
        if (r == 0)
                r = relay_init(&t->down);
        if (r < 0)
                net_tunnel_destroy(t);
        return r;
}

void net_tunnel_destroy(struct net_tunnel *t)
{
        relay_destroy(&t->up);
        relay_destroy(&t->down);
}

/* Move bytes src -> pipe -> dst until both sides would block or the slice is
 * used. Returns bytes delivered to dst, or -errno. */
static long relay_pump(struct net_relay *r, int src, int dst)
{
        size_t delivered = 0;
        while (delivered < NET_TUNNEL_SLICE) {
                bool progress = false;
                if (!r->eof && !r->pipe_full && r->in_pipe < r->capacity) {
                        ssize_t n = splice(src, NULL, r->pipe_write, NULL, r->capacity - r->in_pipe,
                                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                        if (n > 0) {
                                r->in_pipe += (size_t)n;
                                progress = true;
                        } else if (n == 0) {
                                r->eof = true;
                                progress = true;
                        } else if (errno == EAGAIN && r->in_pipe > 0) {
                                /* the socket may be readable and the pipe full
                                 * (splice uses a pipe slot per socket buffer):
                                 * stop reading until the writer drains some,
                                 * or a level-triggered EPOLLIN would spin */
                                r->pipe_full = true;
                        } else if (errno != EAGAIN && errno != EINTR) {
                                return -errno;
                        }
                }
                if (r->in_pipe > 0) {
                        ssize_t n = splice(r->pipe_read, NULL, dst, NULL, r->in_pipe,
                                           SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
                        if (n > 0) {
                                r->in_pipe -= (size_t)n;
                                delivered += (size_t)n;
                                r->pipe_full = false;
                                progress = true;
                        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                                return -errno;
                        }
                }
                if (r->eof && r->in_pipe == 0 && !r->shut) {
                        /* the source finished sending: so does the destination's
                         * peer see EOF, while the other direction goes on */
                        shutdown(dst, SHUT_WR);
                        r->shut = true;
                }
                if (!progress)
                        break;
        }
        return (long)delivered;
}

int net_tunnel_pump(struct net_tunnel *t, unsigned dirs, uint64_t *up, uint64_t *down)
{
        if (dirs & NET_TUNNEL_UP) {
                long n = relay_pump(&t->up, t->client_fd, t->upstream_fd);
                if (n < 0)
                        return (int)n;
                *up += (uint64_t)n;
        }
        if (dirs & NET_TUNNEL_DOWN) {
                long n = relay_pump(&t->down, t->upstream_fd, t->client_fd);
                if (n < 0)
                        return (int)n;
                *down += (uint64_t)n;
        }
        return t->up.shut && t->down.shut ? NET_TUNNEL_DONE : NET_TUNNEL_OPEN;
}

static uint32_t relay_source_events(const struct net_relay *r)
{
        return !r->eof && !r->pipe_full && r->in_pipe < r->capacity ? EPOLLIN : 0;
}

static uint32_t relay_sink_events(const struct net_relay *r)
{
        return r->in_pipe > 0 ? EPOLLOUT : 0;
}

uint32_t net_tunnel_client_events(const struct net_tunnel *t)
{
        return relay_source_events(&t->up) | relay_sink_events(&t->down);
}

uint32_t net_tunnel_upstream_events(const struct net_tunnel *t)
{
        return relay_source_events(&t->down) | relay_sink_events(&t->up);
}

/* The data path of an open connection: two sockets, one pipe per direction,
 * bytes moved with splice(2) so they never enter user space. Non-blocking
 * and EAGAIN-driven: a direction reads only while its pipe has room, so each
 * connection buffers at most one pipe per direction (bounded memory, and a
 * stalled reader stops its writer instead of growing a queue). Half-close
 * is forwarded with shutdown(SHUT_WR). */
#ifndef REINS_NET_TUNNEL_H
#define REINS_NET_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_TUNNEL_PIPE_SIZE                                                                       \
        (1024 * 1024)                      /* a wide tunnel's, asked for; the kernel may           \
                                              give less */
#define NET_TUNNEL_SLICE (4 * 1024 * 1024) /* bytes per direction per pump: fairness */

struct net_relay {
        int pipe_read, pipe_write;
        size_t in_pipe;      /* bytes read from the source not yet written out */
        size_t capacity;     /* of the pipe */
        bool eof;            /* the source will send no more */
        bool pipe_full;      /* the last read found no room (pipe slots can fill below capacity) */
        bool shut;           /* and the destination was told (SHUT_WR) */
        size_t inspect_left; /* bytes still to show the inspector before they move */
        size_t inspected;    /* bytes at the head of the source already shown */
};

/* Sees bytes before they are spliced on (consecutive pieces); false stops
 * the tunnel (the pump returns -ECONNABORTED). */
typedef bool (*net_tunnel_inspect_fn)(void *ctx, const void *bytes, size_t len);

struct net_tunnel {
        int client_fd, upstream_fd;    /* borrowed */
        struct net_relay up;           /* client -> upstream */
        struct net_relay down;         /* upstream -> client */
        net_tunnel_inspect_fn inspect; /* on `up`, for its first inspect_left bytes */
        void *inspect_ctx;
        unsigned char *scratch; /* borrowed: where peeked bytes land */
        size_t scratch_size;
};

enum net_tunnel_dir {
        NET_TUNNEL_UP = 1,
        NET_TUNNEL_DOWN = 2,
};

enum net_tunnel_state {
        NET_TUNNEL_OPEN = 0,
        NET_TUNNEL_DONE = 1, /* both directions ended cleanly */
};

/* Make the pipes: NET_TUNNEL_PIPE_SIZE when `wide`, else the kernel's
 * default (64 KiB): what a connection can hold is bounded per connection.
 * -errno (EMFILE...). */
int net_tunnel_init(struct net_tunnel *t, int client_fd, int upstream_fd, bool wide);
/* Show the first `limit` bytes the client sends to `fn` before they go
 * upstream: they are peeked (MSG_PEEK) into `scratch`, then spliced as usual,
 * so the inspection costs one copy of the prefix and nothing after it. */
void net_tunnel_inspect_up(struct net_tunnel *t, size_t limit, net_tunnel_inspect_fn fn, void *ctx,
                           void *scratch, size_t scratch_size);
/* Move what can be moved now in the directions of `dirs` (a mask), at most
 * `up_limit` bytes upstream (the egress budget's rest); adds the bytes
 * delivered to *up and *down. NET_TUNNEL_OPEN / DONE, or -errno when a
 * socket failed (reset, ...): then close the connection. */
int net_tunnel_pump(struct net_tunnel *t, unsigned dirs, uint64_t up_limit, uint64_t *up,
                    uint64_t *down);
/* The epoll events each socket needs now (EPOLLIN / EPOLLOUT). */
uint32_t net_tunnel_client_events(const struct net_tunnel *t);
uint32_t net_tunnel_upstream_events(const struct net_tunnel *t);
/* Close the pipes (the sockets belong to the caller). */
void net_tunnel_destroy(struct net_tunnel *t);

#endif

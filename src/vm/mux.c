/* Connections over one virtio-serial port (vm/mux.h). Both ends run the
 * same loop; only who opens an id differs. Every length read from the port
 * is bounded before it is used: the guest is not trusted by vm-host. */
#include "vm/mux.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/fileio.h"

struct vm_mux_conn {
        uint32_t id;
        int fd; /* -1: free */
};

struct vm_mux {
        int serial;
        int listener;        /* guest: new connections; -1 in vm-host */
        unsigned proxy_port; /* vm-host: where new ids go; 0 in the guest */
        uint32_t next_id;
        struct vm_mux_conn conns[VM_MUX_CONNECTIONS];
        unsigned char in[8 + VM_MUX_FRAME_MAX];
        size_t in_length;
};

int vm_mux_listen(unsigned port)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd, (struct sockaddr *)&at, sizeof(at)) < 0 || listen(fd, 64) < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        return fd;
}

static int vm_mux_send(struct vm_mux *m, uint32_t id, const void *bytes, uint32_t length)
{
        unsigned char header[8];
        uint32_t be_id = htonl(id), be_length = htonl(length);
        memcpy(header, &be_id, 4);
        memcpy(header + 4, &be_length, 4);
        int r = fileio_write_all(m->serial, header, sizeof(header));
        if (r == 0 && length)
                r = fileio_write_all(m->serial, bytes, length);
        return r;
}

static struct vm_mux_conn *vm_mux_find(struct vm_mux *m, uint32_t id)
{
        for (size_t i = 0; i < VM_MUX_CONNECTIONS; i++)
                if (m->conns[i].fd >= 0 && m->conns[i].id == id)
                        return &m->conns[i];
        return NULL;
}

static struct vm_mux_conn *vm_mux_free_slot(struct vm_mux *m)
{
        for (size_t i = 0; i < VM_MUX_CONNECTIONS; i++)
                if (m->conns[i].fd < 0)
                        return &m->conns[i];
        return NULL;
}

static void vm_mux_close(struct vm_mux_conn *c)
{
        close(c->fd);
        c->fd = -1;
}

/* vm-host: a connection to the session's proxy for a new id. */
static int vm_mux_connect(unsigned port)
{
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&at, sizeof(at)) < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        return fd;
}

/* Whole frames in m->in: delivered to their connections. */
static int vm_mux_deliver(struct vm_mux *m)
{
        size_t at = 0;
        while (m->in_length - at >= 8) {
                uint32_t id, length;
                memcpy(&id, m->in + at, 4);
                memcpy(&length, m->in + at + 4, 4);
                id = ntohl(id);
                length = ntohl(length);
                if (length > VM_MUX_FRAME_MAX)
                        return -EPROTO;
                if (m->in_length - at < 8 + (size_t)length)
                        break;
                const unsigned char *body = m->in + at + 8;
                at += 8 + (size_t)length;
                struct vm_mux_conn *c = vm_mux_find(m, id);
                if (length == 0) {
                        if (c)
                                vm_mux_close(c);
                        continue;
                }
                if (!c && m->proxy_port) {
                        struct vm_mux_conn *slot = vm_mux_free_slot(m);
                        int fd = slot ? vm_mux_connect(m->proxy_port) : -EMFILE;
                        if (fd < 0) {
                                vm_mux_send(m, id, NULL, 0);
                                continue;
                        }
                        slot->id = id;
                        slot->fd = fd;
                        c = slot;
                }
                if (!c)
                        continue;
                if (fileio_write_all(c->fd, body, length) < 0) {
                        vm_mux_close(c);
                        vm_mux_send(m, id, NULL, 0);
                }
        }
        memmove(m->in, m->in + at, m->in_length - at);
        m->in_length -= at;
        return 0;
}

static int vm_mux_loop(struct vm_mux *m)
{
        for (size_t i = 0; i < VM_MUX_CONNECTIONS; i++)
                m->conns[i].fd = -1;
        static unsigned char buf[VM_MUX_FRAME_MAX];
        for (;;) {
                struct pollfd fds[VM_MUX_CONNECTIONS + 2];
                struct vm_mux_conn *owner[VM_MUX_CONNECTIONS + 2] = {0};
                nfds_t n = 0;
                fds[n++] = (struct pollfd){.fd = m->serial, .events = POLLIN};
                if (m->listener >= 0)
                        fds[n++] = (struct pollfd){.fd = m->listener, .events = POLLIN};
                for (size_t i = 0; i < VM_MUX_CONNECTIONS; i++)
                        if (m->conns[i].fd >= 0) {
                                owner[n] = &m->conns[i];
                                fds[n++] = (struct pollfd){.fd = m->conns[i].fd, .events = POLLIN};
                        }
                if (poll(fds, n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (nfds_t i = 0; i < n; i++) {
                        if (!fds[i].revents)
                                continue;
                        if (fds[i].fd == m->serial) {
                                ssize_t got = read(m->serial, m->in + m->in_length,
                                                   sizeof(m->in) - m->in_length);
                                if (got == 0)
                                        return 0;
                                if (got < 0 && errno != EINTR && errno != EAGAIN)
                                        return -errno;
                                if (got > 0) {
                                        m->in_length += (size_t)got;
                                        if (vm_mux_deliver(m) < 0)
                                                return -EPROTO;
                                }
                        } else if (fds[i].fd == m->listener) {
                                int fd = accept4(m->listener, NULL, NULL, SOCK_CLOEXEC);
                                struct vm_mux_conn *slot = fd >= 0 ? vm_mux_free_slot(m) : NULL;
                                if (fd >= 0 && !slot)
                                        close(fd);
                                else if (slot) {
                                        slot->id = ++m->next_id;
                                        slot->fd = fd;
                                }
                        } else if (owner[i] && owner[i]->fd >= 0) {
                                ssize_t got = read(owner[i]->fd, buf, sizeof(buf));
                                if (got > 0) {
                                        if (vm_mux_send(m, owner[i]->id, buf, (uint32_t)got) < 0)
                                                return -EIO;
                                } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                                        uint32_t id = owner[i]->id;
                                        vm_mux_close(owner[i]);
                                        if (vm_mux_send(m, id, NULL, 0) < 0)
                                                return -EIO;
                                }
                        }
                }
        }
}

int vm_mux_guest(int serial, int listener)
{
        struct vm_mux *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->serial = serial;
        m->listener = listener;
        int r = vm_mux_loop(m);
        free(m);
        return r;
}

int vm_mux_host(int serial, unsigned proxy_port)
{
        struct vm_mux *m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->serial = serial;
        m->listener = -1;
        m->proxy_port = proxy_port;
        m->next_id = 0x80000000u; /* unused: vm-host never opens */
        int r = vm_mux_loop(m);
        free(m);
        return r;
}

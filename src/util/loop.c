#include "util/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "util/array.h"

struct loop_source {
        int fd;              /* -1: a free slot */
        uint32_t generation; /* an event read before a removal is not dispatched after it */
        loop_fd_handler handler;
        void *ctx;
};

struct loop_tick {
        int64_t due_ms; /* LOOP_IDLE: only after an fd's dispatch */
        loop_tick_handler handler;
        void *ctx;
};

struct loop {
        int epoll;
        struct loop_source *sources;
        size_t source_count, source_cap;
        struct loop_tick *ticks;
        size_t tick_count;
        bool kicked; /* loop_kick: every tick at the next round */
        uint32_t generation;
};

static int64_t loop_now_ms(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int loop_new(struct loop **out)
{
        struct loop *l = calloc(1, sizeof(*l));
        if (!l)
                return -ENOMEM;
        l->epoll = epoll_create1(EPOLL_CLOEXEC);
        if (l->epoll < 0) {
                int r = -errno;
                free(l);
                return r;
        }
        *out = l;
        return 0;
}

static struct loop_source *loop_find(struct loop *l, int fd)
{
        for (size_t i = 0; i < l->source_count; i++)
                if (l->sources[i].fd == fd)
                        return &l->sources[i];
        return NULL;
}

int loop_add_fd(struct loop *l, int fd, loop_fd_handler handler, void *ctx)
{
        if (fd < 0)
                return -EBADF;
        if (loop_find(l, fd))
                return -EEXIST;
        size_t slot = 0;
        while (slot < l->source_count && l->sources[slot].fd >= 0)
                slot++;
        if (slot == l->source_count) {
                if (array_reserve(l->sources, l->source_cap, l->source_count + 1, 8) < 0)
                        return -ENOMEM;
                l->source_count++;
        }
        struct loop_source *s = &l->sources[slot];
        *s = (struct loop_source){
            .fd = fd, .generation = ++l->generation, .handler = handler, .ctx = ctx};
        struct epoll_event ev = {.events = EPOLLIN,
                                 .data.u64 = (uint64_t)s->generation << 32 | slot};
        if (epoll_ctl(l->epoll, EPOLL_CTL_ADD, fd, &ev) < 0) {
                int r = -errno;
                s->fd = -1;
                return r;
        }
        return 0;
}

void loop_remove_fd(struct loop *l, int fd)
{
        struct loop_source *s = loop_find(l, fd);
        if (!s)
                return;
        epoll_ctl(l->epoll, EPOLL_CTL_DEL, fd, NULL);
        s->fd = -1;
}

int loop_add_tick(struct loop *l, loop_tick_handler handler, void *ctx)
{
        struct loop_tick *grown = realloc(l->ticks, (l->tick_count + 1) * sizeof(*grown));
        if (!grown)
                return -ENOMEM;
        l->ticks = grown;
        /* due at once: what happened before the loop ran is looked at */
        l->ticks[l->tick_count++] =
            (struct loop_tick){.due_ms = loop_now_ms(), .handler = handler, .ctx = ctx};
        return 0;
}

void loop_kick(struct loop *l)
{
        l->kicked = true;
}

/* How long epoll may wait: until the next tick's deadline, within
 * max_wait_ms; -1 (for ever) when nothing is due and max_wait_ms is -1. */
static int loop_wait_ms(const struct loop *l, int max_wait_ms)
{
        if (l->kicked)
                return 0;
        int64_t now = loop_now_ms();
        int64_t wait = max_wait_ms;
        for (size_t i = 0; i < l->tick_count; i++) {
                if (l->ticks[i].due_ms == LOOP_IDLE)
                        continue;
                int64_t left = l->ticks[i].due_ms - now;
                if (left < 0)
                        left = 0;
                if (wait < 0 || left < wait)
                        wait = left;
        }
        return wait > INT32_MAX ? INT32_MAX : (int)wait;
}

/* After fds were dispatched every tick runs; otherwise those now due. */
static void loop_run_ticks(struct loop *l, bool dispatched)
{
        for (size_t i = 0; i < l->tick_count; i++) {
                struct loop_tick t = l->ticks[i];
                if (!dispatched && (t.due_ms == LOOP_IDLE || t.due_ms > loop_now_ms()))
                        continue;
                int64_t next = t.handler(t.ctx);
                /* by index: the handler may have added a tick (realloc) */
                l->ticks[i].due_ms = next < 0 ? LOOP_IDLE : loop_now_ms() + next;
        }
}

int loop_run_once(struct loop *l, int max_wait_ms)
{
        struct epoll_event events[16];
        int n = epoll_wait(l->epoll, events, 16, loop_wait_ms(l, max_wait_ms));
        if (n < 0 && errno != EINTR)
                return -errno;
        for (int i = 0; i < n; i++) {
                size_t slot = (size_t)(events[i].data.u64 & 0xffffffffu);
                uint32_t generation = (uint32_t)(events[i].data.u64 >> 32);
                /* removed (or replaced) by a handler that ran before */
                if (slot >= l->source_count || l->sources[slot].fd < 0 ||
                    l->sources[slot].generation != generation)
                        continue;
                struct loop_source s = l->sources[slot];
                s.handler(s.ctx, s.fd, events[i].events);
        }
        bool kicked = l->kicked;
        l->kicked = false;
        loop_run_ticks(l, n > 0 || kicked);
        return n < 0 ? 0 : n;
}

void loop_free(struct loop *l)
{
        if (!l)
                return;
        close(l->epoll);
        free(l->sources);
        free(l->ticks);
        free(l);
}

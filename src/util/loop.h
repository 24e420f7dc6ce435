/* A small event loop: file descriptors and periodic timers, each added by
 * the part that needs it (the supervisor's own fds, the control socket,
 * the secrets watcher, the trail's flush), instead of a fixed list of
 * hooks. One thread; handlers run to completion and may add or remove
 * sources, their own included. */
#ifndef REINS_UTIL_LOOP_H
#define REINS_UTIL_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;

/* `events` are epoll's (EPOLLIN, EPOLLHUP, ...). */
typedef void (*loop_fd_handler)(void *ctx, int fd, uint32_t events);
typedef void (*loop_timer_handler)(void *ctx);

int loop_new(struct loop **out);
/* Watch fd for input; -EEXIST when it is watched already. */
int loop_add_fd(struct loop *l, int fd, loop_fd_handler handler, void *ctx);
/* Stop watching fd (it is not closed); nothing when it is not watched. */
void loop_remove_fd(struct loop *l, int fd);
/* Call handler after every wake-up that dispatched something, and at
 * least every interval_ms (an idle loop wakes for it): the trail's flush,
 * the risk engine's reports, governance's timeouts. */
int loop_add_tick(struct loop *l, unsigned interval_ms, loop_timer_handler handler, void *ctx);
/* Wait until a source is ready or a timer is due (at most max_wait_ms;
 * -1: as long as it takes), then dispatch. Returns the number of fds
 * dispatched, 0 on a timeout or EINTR, -errno on failure. */
int loop_run_once(struct loop *l, int max_wait_ms);
void loop_free(struct loop *l);

#endif

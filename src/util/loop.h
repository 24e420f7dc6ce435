/* A small event loop: file descriptors and ticks, each added by the part
 * that needs it (the supervisor's own fds, the control socket, the secrets
 * watcher, the trail's flush), instead of a fixed list of hooks. One
 * thread; handlers run to completion and may add or remove fds, their own
 * included.
 *
 * An idle loop does not wake up: a tick says when it next has something
 * to do (a batch to flush, a request's deadline), or that it has nothing
 * until an fd brings news, and epoll_wait sleeps without a timeout then.
 * A thousand idle sessions cost no CPU at all (README "Density"). */
#ifndef REINS_UTIL_LOOP_H
#define REINS_UTIL_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;

/* `events` are epoll's (EPOLLIN, EPOLLHUP, ...). */
typedef void (*loop_fd_handler)(void *ctx, int fd, uint32_t events);
/* A tick: it did what was due and returns in how many milliseconds it
 * must run again even when nothing happens, or LOOP_IDLE: not before an
 * fd or another tick's deadline wakes the loop. */
typedef int64_t (*loop_tick_handler)(void *ctx);
#define LOOP_IDLE ((int64_t)-1)

int loop_new(struct loop **out);
/* Watch fd for input; -EEXIST when it is watched already. */
int loop_add_fd(struct loop *l, int fd, loop_fd_handler handler, void *ctx);
/* Stop watching fd (it is not closed); nothing when it is not watched. */
void loop_remove_fd(struct loop *l, int fd);
/* Call handler after every wake-up that dispatched an fd (or followed a
 * loop_kick), and when the delay it last returned has passed (the first time at the next
 * loop_run_once): the trail's flush, the risk engine's reports,
 * governance's timeouts. Ticks run in the order they were added. */
int loop_add_tick(struct loop *l, loop_tick_handler handler, void *ctx);
/* Something happened outside the loop's handlers (an event recorded
 * between two rounds): every tick runs at the next round, at once. */
void loop_kick(struct loop *l);
/* Wait until a source is ready or a tick is due (at most max_wait_ms;
 * -1: as long as it takes), then dispatch. Returns the number of fds
 * dispatched, 0 on a timeout or EINTR, -errno on failure. */
int loop_run_once(struct loop *l, int max_wait_ms);
void loop_free(struct loop *l);

#endif

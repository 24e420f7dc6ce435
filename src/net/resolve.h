/* Asynchronous name resolution for the proxy (c-ares), driven by the
 * supervisor's event loop: the resolver has an epoll fd of its own (its
 * sockets and a timerfd for c-ares timeouts) that the proxy watches. A
 * lookup never blocks the loop, so one slow DNS answer stalls no other
 * connection. IP literals are never given to the resolver. */
#ifndef REINS_NET_RESOLVE_H
#define REINS_NET_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "net/addr.h"
#include "util/error.h"

#define NET_RESOLVE_MAX_ADDRESSES 16

struct net_resolver;
struct net_resolve_query;

/* status: 0 (count >= 1 addresses with `port` set), -ENOENT (no such name /
 * no address), -ETIMEDOUT, -EIO (other failure). */
typedef void (*net_resolve_fn)(void *ctx, int status, const struct net_address *addresses,
                               size_t count);

/* `servers`: NULL for the system's resolv.conf, else c-ares CSV form
 * ("127.0.0.1:5353,[::1]:53"; tests point it at a fake DNS server). */
int net_resolver_create(const char *servers, struct net_resolver **out, struct reins_error *err);
int net_resolver_poll_fd(const struct net_resolver *resolver);
void net_resolver_dispatch(struct net_resolver *resolver);
/* Pending callbacks are not called. */
void net_resolver_free(struct net_resolver *resolver);

/* Start a lookup of A and AAAA records. `*slot` holds the query while it is
 * pending and is set to NULL just before `fn` runs (which may happen before
 * this returns, for /etc/hosts answers). 0 or -ENOMEM. */
int net_resolve_start(struct net_resolver *resolver, const char *host, uint16_t port,
                      net_resolve_fn fn, void *ctx, struct net_resolve_query **slot);
/* Forget a pending lookup: its callback will never run. */
void net_resolve_cancel(struct net_resolve_query *query);

#endif

/* The sandbox's network namespace: loopback only, and (proxy mode) the
 * listening socket the supervisor serves the egress proxy on. */
#ifndef REINS_SANDBOX_NETNS_H
#define REINS_SANDBOX_NETNS_H

#include <stdint.h>

#include "util/error.h"

/* The fixed address of the egress proxy inside every sandbox. The network
 * namespace is fresh, so the port cannot be taken by anything else. */
#define NETNS_PROXY_PORT 3128
#define NETNS_AGENT_PORT 3129 /* the agent's request channel (session/control.h) */

/* Bring `lo` up: local servers and tests inside the sandbox work, nothing
 * else is reachable (there is no other interface and no route). */
int netns_loopback_up(struct reins_error *err);

/* Listen on 127.0.0.1:port inside the sandbox's namespace; the fd is handed
 * to the supervisor, which accepts on it from the host side. */
int netns_listen(uint16_t port, struct reins_error *err);

#endif

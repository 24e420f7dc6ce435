/* Byte accounting: per destination ("host:port") and per session, and the
 * egress budget (bytes sent out of the sandbox; once passed, no new
 * connection is allowed and the proxy closes the open ones). The destination table is bounded: past
 * NET_ACCOUNT_MAX_DESTINATIONS distinct destinations, the rest are summed
 * under "(other)" so a scan of many names cannot grow supervisor memory. */
#ifndef REINS_NET_ACCOUNT_H
#define REINS_NET_ACCOUNT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/rules.h"

#define NET_ACCOUNT_MAX_DESTINATIONS 1024

struct net_account_destination {
        char name[NET_HOST_MAX + 8]; /* host:port */
        uint64_t bytes_up, bytes_down;
        uint64_t connections, denied;
};

struct net_account {
        struct net_account_destination *items;
        size_t count, capacity;
        uint64_t bytes_up, bytes_down; /* the session */
        uint64_t budget;               /* 0: none */
        bool budget_passed;
};

void net_account_init(struct net_account *acct, uint64_t budget);
void net_account_free(struct net_account *acct);
/* The index of host:port's entry (created; "(other)" when the table is
 * full); -1 only on ENOMEM. */
long net_account_destination(struct net_account *acct, const char *host, uint16_t port);
/* Add bytes; returns true when this call made the session pass its budget. */
bool net_account_add(struct net_account *acct, long destination, uint64_t up, uint64_t down);
/* May a new connection go out? */
bool net_account_budget_left(const struct net_account *acct);
/* Bytes the session may still send before it passes its budget
 * (UINT64_MAX without one). */
uint64_t net_account_budget_remaining(const struct net_account *acct);
/* {"destinations": [{"destination", "bytes_up", "bytes_down", "connections"}...],
 *  "bytes_up", "bytes_down"} */
json_t *net_account_summary(const struct net_account *acct);

#endif

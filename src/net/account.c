/* Byte accounting and the egress budget (see account.h). */
#include "net/account.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void net_account_init(struct net_account *acct, uint64_t budget)
{
        memset(acct, 0, sizeof(*acct));
        acct->budget = budget;
}

void net_account_free(struct net_account *acct)
{
        free(acct->items);
        memset(acct, 0, sizeof(*acct));
}

long net_account_destination(struct net_account *acct, const char *host, uint16_t port)
{
        char name[sizeof(acct->items[0].name)];
        bool v6 = strchr(host, ':') != NULL;
        snprintf(name, sizeof(name), "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "",
                 (unsigned)port);
        if (acct->count >= NET_ACCOUNT_MAX_DESTINATIONS)
                snprintf(name, sizeof(name), "(other)");
        for (size_t i = 0; i < acct->count; i++)
                if (strcmp(acct->items[i].name, name) == 0)
                        return (long)i;
        if (acct->count == acct->capacity) {
                size_t cap = acct->capacity ? acct->capacity * 2 : 16;
                if (cap > NET_ACCOUNT_MAX_DESTINATIONS + 1)
                        cap = NET_ACCOUNT_MAX_DESTINATIONS + 1;
                struct net_account_destination *items = realloc(acct->items, cap * sizeof(*items));
                if (!items)
                        return -1;
                acct->items = items;
                acct->capacity = cap;
        }
        struct net_account_destination *d = &acct->items[acct->count];
        memset(d, 0, sizeof(*d));
        snprintf(d->name, sizeof(d->name), "%s", name);
        return (long)acct->count++;
}

bool net_account_add(struct net_account *acct, long destination, uint64_t up, uint64_t down)
{
        if (destination >= 0 && (size_t)destination < acct->count) {
                acct->items[destination].bytes_up += up;
                acct->items[destination].bytes_down += down;
        }
        acct->bytes_up += up;
        acct->bytes_down += down;
        if (acct->budget && !acct->budget_passed && acct->bytes_up >= acct->budget) {
                acct->budget_passed = true;
                return true;
        }
        return false;
}

bool net_account_budget_left(const struct net_account *acct)
{
        return !acct->budget_passed;
}

uint64_t net_account_budget_remaining(const struct net_account *acct)
{
        if (!acct->budget)
                return UINT64_MAX;
        return acct->bytes_up >= acct->budget ? 0 : acct->budget - acct->bytes_up;
}

json_t *net_account_summary(const struct net_account *acct)
{
        json_t *list = json_array();
        for (size_t i = 0; list && i < acct->count; i++) {
                const struct net_account_destination *d = &acct->items[i];
                json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:I, s:I}", "destination",
                                                      d->name, "bytes_up", (json_int_t)d->bytes_up,
                                                      "bytes_down", (json_int_t)d->bytes_down,
                                                      "connections", (json_int_t)d->connections,
                                                      "denied", (json_int_t)d->denied));
        }
        return json_pack("{s:o*, s:I, s:I}", "destinations", list, "bytes_up",
                         (json_int_t)acct->bytes_up, "bytes_down", (json_int_t)acct->bytes_down);
}

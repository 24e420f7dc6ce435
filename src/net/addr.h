/* Address classification: which resolved addresses the proxy may connect to.
 * Everything that is not a public unicast address is refused unless the name
 * is pinned in network.hosts; IPv6 forms that carry an IPv4 address (mapped,
 * compatible, NAT64, 6to4, Teredo) are judged by that IPv4 address. Pure. */
#ifndef REINS_NET_ADDR_H
#define REINS_NET_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "util/error.h"
#include "util/strv.h"

enum net_addr_class {
        NET_ADDR_PUBLIC = 0,
        NET_ADDR_LOOPBACK,    /* 127/8, ::1 */
        NET_ADDR_PRIVATE,     /* RFC 1918, IPv6 ULA fc00::/7 */
        NET_ADDR_CGNAT,       /* 100.64/10 */
        NET_ADDR_LINK_LOCAL,  /* 169.254/16, fe80::/10 */
        NET_ADDR_METADATA,    /* 169.254.169.254, fd00:ec2::254 (cloud instance metadata) */
        NET_ADDR_MULTICAST,   /* 224/4, ff00::/8 */
        NET_ADDR_BROADCAST,   /* 255.255.255.255 */
        NET_ADDR_UNSPECIFIED, /* 0/8 ("this network"), :: */
        NET_ADDR_RESERVED,    /* 240/4, documentation, benchmarking, 192.0.0/24, ... */
        NET_ADDR_MAPPED,      /* ::ffff:0:0/96 or ::/96 IPv4 forms (even of public IPv4) */
};

struct net_address {
        struct sockaddr_storage sa;
        socklen_t len;
};

enum net_addr_class net_addr_classify_ipv4(const struct in_addr *a);
enum net_addr_class net_addr_classify_ipv6(const struct in6_addr *a);
enum net_addr_class net_addr_classify(const struct sockaddr *sa);
/* "public", "loopback", "private", ... (for events). */
const char *net_addr_class_name(enum net_addr_class c);
/* Text form of an address without the port ("10.0.0.1", "::1"). */
void net_addr_format(const struct sockaddr *sa, char *out, size_t out_size);
/* Parse an IP literal with a port into `out`. 0 or -EINVAL. */
int net_addr_from_literal(const char *literal, uint16_t port, struct net_address *out);

/* network.hosts pins: "name=address". A pinned name connects to that address
 * without DNS and whatever class the address has (the user said so). */
struct net_pin {
        char *name; /* normalized */
        struct net_address address;
        char *address_text;
};

struct net_pins {
        struct net_pin *items;
        size_t count;
};

int net_pins_build(struct net_pins *pins, const struct reins_strv *entries,
                   struct reins_error *err);
const struct net_pin *net_pins_find(const struct net_pins *pins, const char *host);
void net_pins_free(struct net_pins *pins);

#endif

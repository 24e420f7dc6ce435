/* Address classification (see addr.h). The tables follow the IANA special
 * purpose registries; the point is the attacks they stop: a public name that
 * resolves to 127.0.0.1 (DNS rebinding onto the host's own services), to
 * 169.254.169.254 (cloud credentials), to 10.x (the LAN), or to an IPv6
 * spelling of any of those that a naive check reads as "not IPv4". */
#include "net/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/rules.h"

struct v4_range {
        uint32_t net;
        unsigned prefix;
        enum net_addr_class cls;
};

/* Most specific first: the metadata address sits inside link-local. */
static const struct v4_range v4_ranges[] = {
    {0xA9FEA9FE, 32, NET_ADDR_METADATA},   /* 169.254.169.254 */
    {0xFFFFFFFF, 32, NET_ADDR_BROADCAST},  /* 255.255.255.255 */
    {0x00000000, 8, NET_ADDR_UNSPECIFIED}, /* 0/8 "this network" */
    {0x7F000000, 8, NET_ADDR_LOOPBACK},    /* 127/8 */
    {0x0A000000, 8, NET_ADDR_PRIVATE},     /* 10/8 */
    {0xAC100000, 12, NET_ADDR_PRIVATE},    /* 172.16/12 */
    {0xC0A80000, 16, NET_ADDR_PRIVATE},    /* 192.168/16 */
    {0x64400000, 10, NET_ADDR_CGNAT},      /* 100.64/10 */
    {0xA9FE0000, 16, NET_ADDR_LINK_LOCAL}, /* 169.254/16 */
    {0xC0000000, 24, NET_ADDR_RESERVED},   /* 192.0.0/24 IETF protocol assignments */
    {0xC0000200, 24, NET_ADDR_RESERVED},   /* 192.0.2/24 TEST-NET-1 */
    {0xC0586300, 24, NET_ADDR_RESERVED},   /* 192.88.99/24 6to4 relay anycast */
    {0xC6120000, 15, NET_ADDR_RESERVED},   /* 198.18/15 benchmarking */
    {0xC6336400, 24, NET_ADDR_RESERVED},   /* 198.51.100/24 TEST-NET-2 */
    {0xCB007100, 24, NET_ADDR_RESERVED},   /* 203.0.113/24 TEST-NET-3 */
    {0xE0000000, 4, NET_ADDR_MULTICAST},   /* 224/4 */
    {0xF0000000, 4, NET_ADDR_RESERVED},    /* 240/4 */
};

enum net_addr_class net_addr_classify_ipv4(const struct in_addr *a)
{
        uint32_t v = ntohl(a->s_addr);
        for (size_t i = 0; i < sizeof(v4_ranges) / sizeof(v4_ranges[0]); i++) {
                uint32_t mask = v4_ranges[i].prefix ? ~0u << (32 - v4_ranges[i].prefix) : 0;
                if ((v & mask) == v4_ranges[i].net)
                        return v4_ranges[i].cls;
        }
        return NET_ADDR_PUBLIC;
}

static bool v6_prefix(const struct in6_addr *a, const uint8_t *p, unsigned bits)
{
        unsigned bytes = bits / 8, rest = bits % 8;
        if (memcmp(a->s6_addr, p, bytes) != 0)
                return false;
        if (rest == 0)
                return true;
        uint8_t mask = (uint8_t)(0xFF << (8 - rest));
        return (a->s6_addr[bytes] & mask) == (p[bytes] & mask);
}

static enum net_addr_class classify_embedded(const uint8_t *four, bool invert)
{
        struct in_addr v4;
        uint8_t b[4];
        for (int i = 0; i < 4; i++)
                b[i] = invert ? (uint8_t)~four[i] : four[i];
        memcpy(&v4.s_addr, b, 4);
        return net_addr_classify_ipv4(&v4);
}

enum net_addr_class net_addr_classify_ipv6(const struct in6_addr *a)
{
        static const uint8_t zero[16] = {0};
        static const uint8_t loopback[16] = {[15] = 1};
        static const uint8_t mapped[12] = {[10] = 0xFF, [11] = 0xFF};
        static const uint8_t nat64[12] = {0x00, 0x64, 0xFF, 0x9B};
        static const uint8_t nat64_local[6] = {0x00, 0x64, 0xFF, 0x9B, 0x00, 0x01};
        static const uint8_t six_to_four[2] = {0x20, 0x02};
        static const uint8_t teredo[4] = {0x20, 0x01, 0x00, 0x00};
        static const uint8_t ula[1] = {0xFC};
        static const uint8_t link_local[2] = {0xFE, 0x80};
        static const uint8_t site_local[2] = {0xFE, 0xC0};
        static const uint8_t multicast[1] = {0xFF};
        static const uint8_t documentation[4] = {0x20, 0x01, 0x0D, 0xB8};
        static const uint8_t aws_metadata[16] = {0xFD, 0x00, 0x0E, 0xC2, [14] = 0x02, [15] = 0x54};

        if (memcmp(a->s6_addr, zero, 16) == 0)
                return NET_ADDR_UNSPECIFIED;
        if (memcmp(a->s6_addr, loopback, 16) == 0)
                return NET_ADDR_LOOPBACK;
        if (memcmp(a->s6_addr, aws_metadata, 16) == 0)
                return NET_ADDR_METADATA;
        /* ::ffff:a.b.c.d and the deprecated ::a.b.c.d: a DNS answer never
         * legitimately has them, and connect() turns them into IPv4 */
        if (v6_prefix(a, mapped, 96) || v6_prefix(a, zero, 96)) {
                enum net_addr_class c = classify_embedded(a->s6_addr + 12, false);
                return c == NET_ADDR_PUBLIC ? NET_ADDR_MAPPED : c;
        }
        /* translators and tunnels reach the IPv4 address they embed */
        if (v6_prefix(a, nat64, 96))
                return classify_embedded(a->s6_addr + 12, false);
        if (v6_prefix(a, nat64_local, 48))
                return classify_embedded(a->s6_addr + 12, false);
        if (v6_prefix(a, six_to_four, 16))
                return classify_embedded(a->s6_addr + 2, false);
        if (v6_prefix(a, teredo, 32)) {
                enum net_addr_class server = classify_embedded(a->s6_addr + 4, false);
                if (server != NET_ADDR_PUBLIC)
                        return server;
                return classify_embedded(a->s6_addr + 12, true);
        }
        if (v6_prefix(a, ula, 7))
                return NET_ADDR_PRIVATE;
        if (v6_prefix(a, link_local, 10))
                return NET_ADDR_LINK_LOCAL;
        if (v6_prefix(a, site_local, 10))
                return NET_ADDR_PRIVATE; /* deprecated site-local fec0::/10 */
        if (v6_prefix(a, multicast, 8))
                return NET_ADDR_MULTICAST;
        if (v6_prefix(a, documentation, 32))
                return NET_ADDR_RESERVED;
        /* only 2000::/3 is global unicast; everything else is unassigned */
        if ((a->s6_addr[0] & 0xE0) != 0x20)
                return NET_ADDR_RESERVED;
        return NET_ADDR_PUBLIC;
}

enum net_addr_class net_addr_classify(const struct sockaddr *sa)
{
        if (sa->sa_family == AF_INET)
                return net_addr_classify_ipv4(
                    &((const struct sockaddr_in *)(const void *)sa)->sin_addr);
        if (sa->sa_family == AF_INET6)
                return net_addr_classify_ipv6(
                    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
        return NET_ADDR_RESERVED;
}

const char *net_addr_class_name(enum net_addr_class c)
{
        switch (c) {
        case NET_ADDR_PUBLIC:
                return "public";
        case NET_ADDR_LOOPBACK:
                return "loopback";
        case NET_ADDR_PRIVATE:
                return "private";
        case NET_ADDR_CGNAT:
                return "cgnat";
        case NET_ADDR_LINK_LOCAL:
                return "link-local";
        case NET_ADDR_METADATA:
                return "metadata";
        case NET_ADDR_MULTICAST:
                return "multicast";
        case NET_ADDR_BROADCAST:
                return "broadcast";
        case NET_ADDR_UNSPECIFIED:
                return "unspecified";
        case NET_ADDR_RESERVED:
                return "reserved";
        case NET_ADDR_MAPPED:
                return "ipv4-mapped";
        }
        return "reserved";
}

void net_addr_format(const struct sockaddr *sa, char *out, size_t out_size)
{
        const void *raw = NULL;
        if (sa->sa_family == AF_INET)
                raw = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
        else if (sa->sa_family == AF_INET6)
                raw = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
        if (!raw || !inet_ntop(sa->sa_family, raw, out, (socklen_t)out_size))
                snprintf(out, out_size, "?");
}

int net_addr_from_literal(const char *literal, uint16_t port, struct net_address *out)
{
        memset(out, 0, sizeof(*out));
        struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)&out->sa;
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)&out->sa;
        if (inet_pton(AF_INET, literal, &v4->sin_addr) == 1) {
                v4->sin_family = AF_INET;
                v4->sin_port = htons(port);
                out->len = sizeof(*v4);
                return 0;
        }
        if (inet_pton(AF_INET6, literal, &v6->sin6_addr) == 1) {
                v6->sin6_family = AF_INET6;
                v6->sin6_port = htons(port);
                out->len = sizeof(*v6);
                return 0;
        }
        return -EINVAL;
}

int net_pins_build(struct net_pins *pins, const struct reins_strv *entries, struct reins_error *err)
{
        pins->items = NULL;
        pins->count = 0;
        if (!entries || entries->count == 0)
                return 0;
        pins->items = calloc(entries->count, sizeof(*pins->items));
        if (!pins->items)
                return reins_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < entries->count; i++) {
                const char *entry = entries->items[i];
                const char *eq = strchr(entry, '=');
                const char *why = "expected NAME=ADDRESS";
                char name[NET_HOST_MAX + 1];
                struct net_pin *pin = &pins->items[pins->count];
                if (!eq ||
                    net_host_normalize(entry, (size_t)(eq - entry), name, sizeof(name), &why) < 0) {
                        net_pins_free(pins);
                        return reins_error_set(err, EINVAL, "network.hosts: '%s': %s", entry, why);
                }
                char addr[INET6_ADDRSTRLEN + 2];
                size_t alen = strlen(eq + 1);
                if (alen >= 2 && eq[1] == '[' && eq[alen] == ']' && alen - 2 < sizeof(addr)) {
                        memcpy(addr, eq + 2, alen - 2);
                        addr[alen - 2] = '\0';
                } else {
                        snprintf(addr, sizeof(addr), "%s", eq + 1);
                }
                if (net_addr_from_literal(addr, 0, &pin->address) < 0) {
                        net_pins_free(pins);
                        return reins_error_set(err, EINVAL,
                                               "network.hosts: '%s': the address must be an "
                                               "IPv4 or IPv6 literal",
                                               entry);
                }
                pin->name = strdup(name);
                pin->address_text = strdup(addr);
                pins->count++;
                if (!pin->name || !pin->address_text) {
                        net_pins_free(pins);
                        return reins_error_set(err, ENOMEM, "out of memory");
                }
        }
        return 0;
}

const struct net_pin *net_pins_find(const struct net_pins *pins, const char *host)
{
        for (size_t i = 0; pins && i < pins->count; i++)
                if (strcmp(pins->items[i].name, host) == 0)
                        return &pins->items[i];
        return NULL;
}

void net_pins_free(struct net_pins *pins)
{
        for (size_t i = 0; i < pins->count; i++) {
                free(pins->items[i].name);
                free(pins->items[i].address_text);
        }
        free(pins->items);
        pins->items = NULL;
        pins->count = 0;
}

/* SOCKS5 (RFC 1928) as far as the proxy speaks it: the no-authentication
 * method and the CONNECT command with a domain, IPv4 or IPv6 address. BIND
 * and UDP ASSOCIATE are refused (no inbound listeners, no UDP out). Pure. */
#ifndef REINS_NET_SOCKS5_H
#define REINS_NET_SOCKS5_H

#include <stddef.h>
#include <stdint.h>

#include "net/rules.h"

#define NET_SOCKS5_VERSION 5

enum net_socks5_reply {
        NET_SOCKS5_SUCCEEDED = 0x00,
        NET_SOCKS5_GENERAL_FAILURE = 0x01,
        NET_SOCKS5_NOT_ALLOWED = 0x02,
        NET_SOCKS5_NETWORK_UNREACHABLE = 0x03,
        NET_SOCKS5_HOST_UNREACHABLE = 0x04,
        NET_SOCKS5_CONNECTION_REFUSED = 0x05,
        NET_SOCKS5_TTL_EXPIRED = 0x06,
        NET_SOCKS5_COMMAND_NOT_SUPPORTED = 0x07,
        NET_SOCKS5_ADDRESS_NOT_SUPPORTED = 0x08,
};

enum net_socks5_status {
        NET_SOCKS5_OK = 0,
        NET_SOCKS5_INCOMPLETE,
        NET_SOCKS5_BAD,       /* malformed: close without a reply */
        NET_SOCKS5_NO_METHOD, /* greeting: no acceptable method (answer 0xFF) */
        NET_SOCKS5_REFUSE,    /* request: answer with `reply` and close */
};

/* Greeting: VER NMETHODS METHODS...; *consumed set on OK / NO_METHOD. */
enum net_socks5_status net_socks5_parse_greeting(const uint8_t *buf, size_t len, size_t *consumed);

struct net_socks5_request {
        char host[NET_HOST_MAX + 1]; /* normalized name or IP literal */
        uint16_t port;
        uint8_t atyp;
        enum net_socks5_reply reply; /* with NET_SOCKS5_REFUSE */
        const char *why;
        size_t consumed;
};

/* Request: VER CMD RSV ATYP DST.ADDR DST.PORT. */
enum net_socks5_status net_socks5_parse_request(const uint8_t *buf, size_t len,
                                                struct net_socks5_request *req);

/* A reply with BND.ADDR 0.0.0.0:0 (10 bytes). */
size_t net_socks5_reply(enum net_socks5_reply code, uint8_t out[10]);

#endif

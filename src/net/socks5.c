/* SOCKS5 parsing. The domain form (socks5h://, what ALL_PROXY is set to) lets
 * the proxy decide on the name exactly like CONNECT; the address forms are
 * IP literals and reach only what an allowed literal pattern names. */
#include "net/socks5.h"

#include <arpa/inet.h>
#include <string.h>

#define SOCKS5_METHOD_NO_AUTH 0x00
#define SOCKS5_CMD_CONNECT    0x01
#define SOCKS5_CMD_BIND       0x02
#define SOCKS5_CMD_UDP        0x03
#define SOCKS5_ATYP_IPV4      0x01
#define SOCKS5_ATYP_DOMAIN    0x03
#define SOCKS5_ATYP_IPV6      0x04

enum net_socks5_status net_socks5_parse_greeting(const uint8_t *buf, size_t len, size_t *consumed)
{
        if (len < 1)
                return NET_SOCKS5_INCOMPLETE;
        if (buf[0] != NET_SOCKS5_VERSION)
                return NET_SOCKS5_BAD;
        if (len < 2)
                return NET_SOCKS5_INCOMPLETE;
        size_t n = buf[1];
        if (n == 0)
                return NET_SOCKS5_BAD;
        if (len < 2 + n)
                return NET_SOCKS5_INCOMPLETE;
        *consumed = 2 + n;
        for (size_t i = 0; i < n; i++)
                if (buf[2 + i] == SOCKS5_METHOD_NO_AUTH)
                        return NET_SOCKS5_OK;
        return NET_SOCKS5_NO_METHOD;
}

static enum net_socks5_status refuse(struct net_socks5_request *req, enum net_socks5_reply code,
                                     const char *why)
{
        req->reply = code;
        req->why = why;
        return NET_SOCKS5_REFUSE;
}

enum net_socks5_status net_socks5_parse_request(const uint8_t *buf, size_t len,
                                                struct net_socks5_request *req)
{
        memset(req, 0, sizeof(*req));
        if (len < 5)
                return NET_SOCKS5_INCOMPLETE;
        if (buf[0] != NET_SOCKS5_VERSION || buf[2] != 0) {
                req->why = "bad SOCKS5 request header";
                return NET_SOCKS5_BAD;
        }
        req->atyp = buf[3];
        size_t addr_len;
        switch (buf[3]) {
        case SOCKS5_ATYP_IPV4:
                addr_len = 4;
                break;
        case SOCKS5_ATYP_IPV6:
                addr_len = 16;
                break;
        case SOCKS5_ATYP_DOMAIN:
                addr_len = 1 + (size_t)buf[4];
                break;
        default:
                return refuse(req, NET_SOCKS5_ADDRESS_NOT_SUPPORTED, "unknown address type");
        }
        if (len < 4 + addr_len + 2)
                return NET_SOCKS5_INCOMPLETE;
        req->consumed = 4 + addr_len + 2;
        const uint8_t *addr = buf + 4;
        req->port = (uint16_t)((buf[4 + addr_len] << 8) | buf[4 + addr_len + 1]);
        if (buf[1] == SOCKS5_CMD_BIND || buf[1] == SOCKS5_CMD_UDP)
                return refuse(req, NET_SOCKS5_COMMAND_NOT_SUPPORTED,
                              buf[1] == SOCKS5_CMD_BIND ? "BIND is not supported"
                                                        : "UDP ASSOCIATE is not supported");
        if (buf[1] != SOCKS5_CMD_CONNECT)
                return refuse(req, NET_SOCKS5_COMMAND_NOT_SUPPORTED, "unknown command");
        if (req->port == 0)
                return refuse(req, NET_SOCKS5_GENERAL_FAILURE, "port 0");
        const char *why = "bad host";
        if (buf[3] == SOCKS5_ATYP_DOMAIN) {
                if (buf[4] == 0 || memchr(addr + 1, '\0', buf[4]))
                        return refuse(req, NET_SOCKS5_GENERAL_FAILURE, "bad host name");
                if (net_host_normalize((const char *)addr + 1, buf[4], req->host, sizeof(req->host),
                                       &why) < 0)
                        return refuse(req, NET_SOCKS5_GENERAL_FAILURE, why);
                return NET_SOCKS5_OK;
        }
        inet_ntop(buf[3] == SOCKS5_ATYP_IPV4 ? AF_INET : AF_INET6, addr, req->host,
                  sizeof(req->host));
        return NET_SOCKS5_OK;
}

size_t net_socks5_reply(enum net_socks5_reply code, uint8_t out[10])
{
        memset(out, 0, 10);
        out[0] = NET_SOCKS5_VERSION;
        out[1] = (uint8_t)code;
        out[3] = SOCKS5_ATYP_IPV4;
        return 10;
}

/* SOCKS5 as the proxy reads it from the sandbox: a greeting, then a CONNECT
 * request in the bytes after it (net_socks5_parse_greeting/_request). A
 * parsed request consumes no more than it was given and names a host that
 * is a C string. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "net/socks5.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t *buf = malloc(size ? size : 1); /* exact size: over-reads are caught */
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        size_t consumed = 0;
        enum net_socks5_status s = net_socks5_parse_greeting(buf, size, &consumed);
        if (s == NET_SOCKS5_OK || s == NET_SOCKS5_NO_METHOD)
                FUZZ_CHECK(consumed >= 3 && consumed <= size);
        else
                consumed = 0; /* a request on its own, as after a greeting */
        struct net_socks5_request req;
        s = net_socks5_parse_request(buf + consumed, size - consumed, &req);
        if (s == NET_SOCKS5_OK) {
                FUZZ_CHECK(req.consumed <= size - consumed);
                FUZZ_CHECK(memchr(req.host, '\0', sizeof(req.host)) != NULL);
                FUZZ_CHECK(req.host[0] != '\0' && req.port != 0);
        } else if (s == NET_SOCKS5_REFUSE) {
                FUZZ_CHECK(req.why != NULL && req.consumed <= size - consumed);
        }
        uint8_t reply[10];
        FUZZ_CHECK(net_socks5_reply(req.reply, reply) == 10);
        free(buf);
        return 0;
}

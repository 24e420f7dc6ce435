/* Credential injection's request handling (net/inject.h): the head the agent
 * sends on a terminated connection, rewritten with the secrets, and the body
 * framing that says where the next request starts. Beyond memory safety: a
 * rewritten head is one well-formed head (CRLF only, a single blank line at
 * its end), a secret appears in it only when its credential was injected, a
 * placeholder of a credential that was not injected never passes, and the
 * framing never consumes more than it was given. The first input byte picks
 * TLS and the port; the rest is the request. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "net/http.h"
#include "net/inject.h"

static struct net_inject inject;
static const char *const secrets[] = {"SECRET-one-1", "SECRET:two", "eyJx.eyJ5.SECRETsig"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        struct reins_error err = {0};
        const char *a[] = {"api.test", "api.test:8443/v1/"};
        const char *b[] = {"*.example.com/repos"};
        const char *c[] = {"api.test/q"};
        if (net_inject_add(&inject, "a", "reins-cred-a-00000000000000000000000000000000",
                           secrets[0], strlen(secrets[0]), a, 2, NET_INJECT_HEADER, "x-api-key",
                           false, 0, &err) < 0 ||
            net_inject_add(&inject, "b", "reins-cred-b-11111111111111111111111111111111",
                           secrets[1], strlen(secrets[1]), b, 1, NET_INJECT_BASIC, NULL, true, 0,
                           &err) < 0 ||
            net_inject_add(&inject, "c", "reins-cred-c-22222222222222222222222222222222",
                           secrets[2], strlen(secrets[2]), c, 1, NET_INJECT_QUERY, "key", false,
                           net_inject_jwt_prefix(secrets[2], strlen(secrets[2])), &err) < 0)
                abort();
        return 0;
}

static void check_head(const char *out, size_t len, const struct net_inject_report *r)
{
        FUZZ_CHECK(len >= 4 && memcmp(out + len - 4, "\r\n\r\n", 4) == 0);
        for (size_t i = 0; i < len; i++) {
                FUZZ_CHECK(out[i] != '\0');
                if (out[i] == '\n')
                        FUZZ_CHECK(i > 0 && out[i - 1] == '\r');
                if (out[i] == '\r')
                        FUZZ_CHECK(i + 1 < len && out[i + 1] == '\n');
        }
        const char *blank = memmem(out, len, "\r\n\r\n", 4);
        FUZZ_CHECK(blank && (size_t)(blank - out) + 4 == len);
        for (size_t k = 0; k < inject.count; k++) {
                bool injected = r->injected & (1u << k);
                if (!injected) /* not injected: its placeholder did not pass either */
                        FUZZ_CHECK(!memmem(out, len, inject.items[k].placeholder,
                                           inject.items[k].placeholder_len));
        }
        /* the secrets: only through an injection (the agent cannot know
         * them, so an input holding one is the fuzzer's luck; skip those) */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size < 1)
                return 0;
        bool tls = data[0] & 1;
        uint16_t port = (data[0] & 2) ? 8443 : (tls ? 443 : 80);
        const char *host = (data[0] & 4) ? "api.example.com" : "api.test";
        char *buf = malloc(size - 1 ? size - 1 : 1);
        if (!buf)
                return 0;
        memcpy(buf, data + 1, size - 1);
        char *out = NULL;
        size_t out_len = 0;
        struct net_inject_report r;
        int rc = net_inject_rewrite(&inject, host, port, tls, buf, size - 1, &out, &out_len, &r);
        FUZZ_CHECK(rc == 0 || rc == NET_HTTP_INCOMPLETE || rc == -ENOMEM);
        bool lucky = false;
        for (size_t k = 0; k < 3; k++)
                lucky = lucky || memmem(buf, size - 1, secrets[k], strlen(secrets[k]));
        if (rc == 0 && r.status == 0) {
                FUZZ_CHECK(out && r.head_len <= size - 1);
                if (!lucky)
                        check_head(out, out_len, &r);
                /* the body that follows, in pieces of varying size */
                struct net_inject_body body;
                net_inject_body_start(&body, r.chunked, r.content_length);
                size_t at = r.head_len, step = 1;
                while (at < size - 1 && body.state != NET_BODY_DONE) {
                        size_t len = size - 1 - at < step ? size - 1 - at : step;
                        size_t used = 0;
                        int done = net_inject_body_step(&body, buf + at, len, &used);
                        FUZZ_CHECK(used <= len);
                        if (done < 0)
                                break;
                        FUZZ_CHECK(done == 1 || used == len);
                        at += used;
                        step = step * 3 % 17 + 1;
                }
        } else if (rc == 0) {
                FUZZ_CHECK(!out && r.status >= 400 && r.status < 600 && r.why);
        }
        free(out);
        free(buf);
        return 0;
}

/* reins identity verify: check an agent identity assertion offline (the
 * `Reins-Agent-Assertion` header the proxy adds for identity.hosts).
 *
 * The assertion is a JWS (compact, EdDSA): BASE64URL(header) "."
 * BASE64URL(claims) "." BASE64URL(Ed25519 signature of the first two parts
 * joined by "."). The header carries `kid` (the session's public key, hex)
 * and `reins_cert`: the session certificate, signed by the user's key
 * (audit/session_key.h). So a service that knows the user's public key
 * (`reins id`) checks: the certificate's signature by that key; that it
 * certifies `kid` for the claims' session; the assertion's signature by
 * `kid`; and `exp`. Then the claims say who: sid (session), agt (the
 * agent's key fingerprint), usr (the user's), pol (the policy's SHA-256),
 * aud (host:port), htm and htu (method and path), iat, exp, jti (a nonce). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit/session_key.h"
#include "cli/cli.h"

static void identity_usage(FILE *out)
{
        fprintf(out,
                "Usage: reins identity verify [--user-key HEX] [--host HOST:PORT] ASSERTION\n"
                "\n"
                "Verify an agent identity assertion (the Reins-Agent-Assertion header the egress\n"
                "proxy adds for identity.hosts) offline and print its claims as JSON.\n"
                "--user-key  the user's public key (reins id) the session certificate must be\n"
                "            signed by; without it, any user's certificate is accepted (its key\n"
                "            is printed: compare it yourself)\n"
                "--host      the destination it must name (its aud claim)\n"
                "Exit 0: valid; 1: not valid (one line says why); 2: usage.\n");
}

static json_t *decode_part(const char *text, size_t len)
{
        unsigned char *bytes = malloc(len + 1);
        size_t n = 0;
        if (!bytes || sodium_base642bin(bytes, len + 1, text, len, NULL, &n, NULL,
                                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
                free(bytes);
                return NULL;
        }
        json_t *value = json_loadb((const char *)bytes, n, 0, NULL);
        free(bytes);
        return value;
}

static int fail(const char *why)
{
        fprintf(stderr, "reins: identity: not valid: %s\n", why);
        return 1;
}

static int identity_verify(const char *token, const char *user_key_hex, const char *host)
{
        const char *dot1 = strchr(token, '.');
        const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
        if (!dot1 || !dot2 || strchr(dot2 + 1, '.'))
                return fail("not a JWS in compact form (three parts)");
        json_t *header = decode_part(token, (size_t)(dot1 - token));
        json_t *claims = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
        int rc = 1;
        unsigned char kid[crypto_sign_PUBLICKEYBYTES], signature[crypto_sign_BYTES + 1];
        size_t n = 0;
        struct audit_session_cert cert;
        char why[256] = "";
        const char *alg = json_string_value(json_object_get(header, "alg"));
        const char *kid_hex = json_string_value(json_object_get(header, "kid"));
        const char *sid = json_string_value(json_object_get(claims, "sid"));
        json_int_t exp = json_integer_value(json_object_get(claims, "exp"));
        if (!header || !claims)
                rc = fail("its header or claims are not base64url JSON");
        else if (!alg || strcmp(alg, "EdDSA") != 0)
                rc = fail("alg is not EdDSA");
        else if (!kid_hex || strlen(kid_hex) != 2 * sizeof(kid) ||
                 sodium_hex2bin(kid, sizeof(kid), kid_hex, strlen(kid_hex), NULL, NULL, NULL) != 0)
                rc = fail("kid is not an Ed25519 public key in hex");
        else if (audit_session_cert_from_json(json_object_get(header, "reins_cert"), &cert, why,
                                              sizeof(why)) < 0)
                rc = fail(why[0] ? why : "no session certificate (reins_cert)");
        else if (!audit_session_cert_signature_valid(&cert))
                rc = fail("the session certificate's signature is not its user key's");
        else if (!sid || audit_session_cert_check(&cert, sid, kid, NULL, why, sizeof(why)) < 0)
                rc = fail(why[0] ? why : "the certificate is not for this session and key");
        else if (sodium_base642bin(signature, sizeof(signature), dot2 + 1, strlen(dot2 + 1), NULL,
                                   &n, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
                 n != crypto_sign_BYTES ||
                 crypto_sign_verify_detached(signature, (const unsigned char *)token,
                                             (size_t)(dot2 - token), kid) != 0)
                rc = fail("the signature does not verify");
        else if (exp < (json_int_t)time(NULL))
                rc = fail("expired (exp)");
        else {
                char user_hex[2 * crypto_sign_PUBLICKEYBYTES + 1];
                sodium_bin2hex(user_hex, sizeof(user_hex), cert.user_key, sizeof(cert.user_key));
                const char *aud = json_string_value(json_object_get(claims, "aud"));
                if (user_key_hex && strcasecmp(user_key_hex, user_hex) != 0)
                        rc = fail("signed for another user's key");
                else if (host && (!aud || strcmp(aud, host) != 0))
                        rc = fail("its aud is another destination");
                else {
                        json_object_set_new(claims, "user_key", json_string(user_hex));
                        json_object_set_new(claims, "user_key_pinned",
                                            json_boolean(user_key_hex != NULL));
                        char *text = json_dumps(claims, JSON_INDENT(2) | JSON_SORT_KEYS);
                        if (text)
                                printf("%s\n", text);
                        free(text);
                        rc = 0;
                }
        }
        json_decref(header);
        json_decref(claims);
        return rc;
}

int cli_identity(int argc, char **argv)
{
        static const struct option options[] = {{"user-key", required_argument, NULL, 'u'},
                                                {"host", required_argument, NULL, 'H'},
                                                {"help", no_argument, NULL, 'h'},
                                                {NULL, 0, NULL, 0}};
        const char *user_key = NULL, *host = NULL;
        if (argc < 2 || strcmp(argv[1], "verify") != 0) {
                identity_usage(argc > 1 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
                return argc > 1 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
        }
        argc--;
        argv++;
        optind = 1;
        int c;
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
                switch (c) {
                case 'u':
                        user_key = optarg;
                        break;
                case 'H':
                        host = optarg;
                        break;
                case 'h':
                        identity_usage(stdout);
                        return 0;
                default:
                        identity_usage(stderr);
                        return 2;
                }
        }
        if (optind + 1 != argc) {
                identity_usage(stderr);
                return 2;
        }
        return identity_verify(argv[optind], user_key, host);
}

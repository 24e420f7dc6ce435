/* Delegation tokens: the Ed25519 wrapper against RFC 8032, the text form,
 * the signature chain, tampering, every refusal reason, and (property-style)
 * that attenuation only ever narrows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/keys.h"
#include "govern/token.h"
#include "govern/token_internal.h"
#include "govern/token_sign.h"

/* ---- RFC 8032 §7.1 */

static void unhex(const char *hex, unsigned char *out, size_t length)
{
        assert_int_equal(audit_unhex(hex, out, length), 0);
}

static void check_rfc8032(const char *seed_hex, const char *public_hex, const char *message_hex,
                          const char *signature_hex)
{
        unsigned char seed[32], expect_public[32], public_key[32], secret[64], signature[64],
            expect_signature[64], message[64] = {0};
        size_t length = strlen(message_hex) / 2;
        unhex(seed_hex, seed, 32);
        unhex(public_hex, expect_public, 32);
        unhex(signature_hex, expect_signature, 64);
        if (length)
                unhex(message_hex, message, length);
        token_keypair_from_seed(seed, public_key, secret);
        assert_memory_equal(public_key, expect_public, 32);
        token_ed25519_sign(secret, message, length, signature);
        assert_memory_equal(signature, expect_signature, 64);
        assert_true(token_ed25519_verify(public_key, message, length, signature));
        signature[10] ^= 1;
        assert_false(token_ed25519_verify(public_key, message, length, signature));
        signature[10] ^= 1;
        message[0] ^= 1; /* the message changes (or gains a byte, for the empty one) */
        assert_false(token_ed25519_verify(public_key, message, length ? length : 1, signature));
}

static void test_rfc8032_vector_1(void **state)
{
        (void)state;
        check_rfc8032("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
                      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                      "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
}

static void test_rfc8032_vector_2(void **state)
{
        (void)state;
        check_rfc8032("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                      "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
                      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
                      "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
}

/* ---- helpers */

struct root {
        unsigned char public_key[32], secret[64];
};

static struct root new_root(void)
{
        struct root r;
        assert_int_equal(token_crypto_init(), 0);
        crypto_sign_keypair(r.public_key, r.secret);
        return r;
}

static struct token_restrictions full_restrictions(void)
{
        struct token_restrictions r = {0};
        r.has_dest = r.has_path = r.has_cmd = r.has_expires = r.has_uses = true;
        assert_int_equal(strv_push(&r.dest, "*.github.com"), 0);
        assert_int_equal(strv_push(&r.dest, "pypi.org:443"), 0);
        assert_int_equal(strv_push(&r.path, "src/**"), 0);
        assert_int_equal(strv_push(&r.cmd, "git"), 0);
        r.expires = 4000000000;
        r.uses = 7;
        r.agent = strdup("claude");
        return r;
}

static char *encode(const struct token *t)
{
        char *text = NULL;
        assert_int_equal(token_encode(t, &text, NULL), 0);
        return text;
}

static enum token_failure check(const char *text, const struct root *root, int64_t now,
                                const struct reins_strv *revoked)
{
        struct token t;
        enum token_failure failure = TOKEN_OK;
        struct reins_error err = {0};
        if (token_decode(text, root->public_key, &t, &failure, &err) < 0) {
                assert_int_not_equal(failure, TOKEN_OK);
                assert_true(err.message[0] != '\0');
                return failure;
        }
        int rc = token_verify(&t, root->public_key, now, revoked, &failure, &err);
        token_free(&t);
        if (rc < 0)
                assert_true(err.message[0] != '\0');
        return rc < 0 ? failure : TOKEN_OK;
}

/* A one-block token whose payload is `payload`, correctly signed by root. */
static char *forge_signed(const struct root *root, const char *payload)
{
        struct token t = {0};
        struct token_block block = {0};
        unsigned char public_key[32];
        token_keypair_random(t.proof, public_key);
        block.payload = strdup(payload);
        token_block_sign(root->secret, block.payload, block.signature);
        t.blocks = &block;
        t.count = 1;
        char *text = encode(&t);
        free(block.payload);
        return text;
}

/* ---- tests */

static void test_round_trip(void **state)
{
        (void)state;
        struct root root = new_root();
        struct token_restrictions r = full_restrictions(), narrower = {0};
        struct token t;
        assert_int_equal(token_mint(root.secret, &r, &t, NULL), 0);
        narrower.has_dest = true;
        assert_int_equal(strv_push(&narrower.dest, "api.github.com"), 0);
        assert_int_equal(token_attenuate(&t, &narrower, NULL), 0);
        char *text = encode(&t);
        assert_non_null(strchr(text, '\0'));
        for (const char *p = text; *p; p++) /* one printable line */
                assert_true((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                            (*p >= '0' && *p <= '9') || *p == '-' || *p == '_');

        char *padded = NULL;
        assert_true(asprintf(&padded, "  %s\n", text) > 0); /* a file's newline is fine */
        struct token back;
        enum token_failure failure;
        assert_int_equal(token_decode(padded, root.public_key, &back, &failure, NULL), 0);
        assert_int_equal(back.count, 2);
        assert_string_equal(back.blocks[0].id, t.blocks[0].id);
        assert_string_equal(back.blocks[1].id, t.blocks[1].id);
        assert_memory_equal(back.proof, t.proof, sizeof(t.proof));
        const struct token_restrictions *b0 = &back.blocks[0].restrictions;
        assert_int_equal(b0->dest.count, 2);
        assert_string_equal(b0->dest.items[1], "pypi.org:443");
        assert_string_equal(b0->path.items[0], "src/**");
        assert_string_equal(b0->cmd.items[0], "git");
        assert_int_equal(b0->expires, 4000000000);
        assert_int_equal(b0->uses, 7);
        assert_string_equal(b0->agent, "claude");
        assert_false(back.blocks[1].restrictions.has_uses);
        char *again = encode(&back);
        assert_string_equal(again, text);
        assert_int_equal(check(text, &root, 1000, NULL), TOKEN_OK);
        free(again);
        free(padded);
        free(text);
        token_free(&back);
        token_free(&t);
        token_restrictions_free(&r);
        token_restrictions_free(&narrower);
}

static void test_attenuate_offline_and_chain(void **state)
{
        (void)state;
        struct root root = new_root(), other = new_root();
        struct token_restrictions none = {0};
        struct token t;
        assert_int_equal(token_mint(root.secret, &none, &t, NULL), 0);
        char *first = encode(&t);
        /* offline: decode without any root key, then append */
        struct token offline;
        assert_int_equal(token_decode(first, NULL, &offline, NULL, NULL), 0);
        for (int i = 0; i < 5; i++)
                assert_int_equal(token_attenuate(&offline, &none, NULL), 0);
        char *deep = encode(&offline);
        assert_int_equal(check(deep, &root, 0, NULL), TOKEN_OK);
        assert_int_equal(check(deep, &other, 0, NULL), TOKEN_BAD_SIGNATURE);
        assert_true(token_signed_by(&offline, root.public_key));
        assert_false(token_signed_by(&offline, other.public_key));
        free(first);
        free(deep);
        token_free(&offline);
        token_free(&t);
}

/* Every byte of every block's payload and signature matters. */
static void test_tampering_each_block_byte(void **state)
{
        (void)state;
        struct root root = new_root();
        struct token_restrictions r = full_restrictions();
        struct token t;
        assert_int_equal(token_mint(root.secret, &r, &t, NULL), 0);
        assert_int_equal(token_attenuate(&t, &r, NULL), 0);
        for (size_t b = 0; b < t.count; b++) {
                char *payload = t.blocks[b].payload;
                for (size_t i = 0; payload[i]; i++) {
                        payload[i] ^= 0x01;
                        char *text = encode(&t);
                        assert_int_equal(check(text, &root, 0, NULL), TOKEN_BAD_SIGNATURE);
                        free(text);
                        payload[i] ^= 0x01;
                }
                for (size_t i = 0; i < TOKEN_SIGNATURE_BYTES; i++) {
                        t.blocks[b].signature[i] ^= 0x80;
                        char *text = encode(&t);
                        assert_int_equal(check(text, &root, 0, NULL), TOKEN_BAD_SIGNATURE);
                        free(text);
                        t.blocks[b].signature[i] ^= 0x80;
                }
        }
        token_free(&t);
        token_restrictions_free(&r);
}

/* Any change to any character of the text form is refused. */
static void test_tampering_each_character(void **state)
{
        (void)state;
        static const char alphabet[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        struct root root = new_root();
        struct token_restrictions r = full_restrictions();
        struct token t;
        assert_int_equal(token_mint(root.secret, &r, &t, NULL), 0);
        assert_int_equal(token_attenuate(&t, &r, NULL), 0);
        char *text = encode(&t);
        for (size_t i = 0; text[i]; i++) {
                char saved = text[i];
                /* three substitutes per position keep the test fast */
                for (size_t k = 1; k <= 3; k++) {
                        const char *at = strchr(alphabet, saved);
                        text[i] = alphabet[((size_t)(at - alphabet) + k * 21) % 64];
                        assert_int_not_equal(check(text, &root, 0, NULL), TOKEN_OK);
                }
                text[i] = saved;
        }
        assert_int_equal(check(text, &root, 0, NULL), TOKEN_OK);
        free(text);
        token_free(&t);
        token_restrictions_free(&r);
}

static void test_rejection_reasons(void **state)
{
        (void)state;
        struct root root = new_root();
        struct token_restrictions r = full_restrictions();
        struct token t, u;
        assert_int_equal(token_mint(root.secret, &r, &t, NULL), 0);
        assert_int_equal(token_attenuate(&t, &r, NULL), 0);
        assert_int_equal(token_mint(root.secret, &r, &u, NULL), 0);

        /* malformed */
        assert_int_equal(check("", &root, 0, NULL), TOKEN_MALFORMED);
        assert_int_equal(check("not a token!", &root, 0, NULL), TOKEN_MALFORMED);
        assert_int_equal(check("eyJ2ZXJzaW9uIjoxfQ", &root, 0, NULL), TOKEN_MALFORMED);

        /* broken chain: another token's proof */
        unsigned char proof[TOKEN_SEED_BYTES];
        memcpy(proof, t.proof, sizeof(proof));
        memcpy(t.proof, u.proof, sizeof(t.proof));
        char *text = encode(&t);
        assert_int_equal(check(text, &root, 0, NULL), TOKEN_BROKEN_CHAIN);
        free(text);
        memcpy(t.proof, proof, sizeof(proof));

        /* broken chain: a block claiming another position, correctly signed */
        char *payload = NULL;
        assert_true(asprintf(&payload,
                             "{\"id\":\"%s\",\"index\":1,\"next_key\":\"%064d\","
                             "\"restrictions\":{}}",
                             t.blocks[0].id, 0) > 0);
        text = forge_signed(&root, payload);
        assert_int_equal(check(text, &root, 0, NULL), TOKEN_BROKEN_CHAIN);
        free(text);
        free(payload);

        /* bad signature: a block from one token spliced onto another */
        struct token_block saved = t.blocks[1];
        t.blocks[1] = u.blocks[0];
        text = encode(&t);
        assert_int_equal(check(text, &root, 0, NULL), TOKEN_BAD_SIGNATURE);
        free(text);
        t.blocks[1] = saved;

        /* unknown restriction kind, correctly signed: refused, not ignored */
        static const char *const forged[][2] = {
            {"\"net\":[\"evil.com\"]", "unknown"}, {"\"uses\":0", "bad"},
            {"\"dest\":[\"*foo\"]", "bad"},        {"\"path\":[\"../x\"]", "bad"},
            {"\"path\":[\"/etc/passwd\"]", "bad"}, {"\"cmd\":[\"/bin/sh\"]", "bad"},
            {"\"expires\":\"soon\"", "bad"},       {"\"agent\":7", "bad"},
        };
        for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
                assert_true(asprintf(&payload,
                                     "{\"id\":\"%032d\",\"index\":0,\"next_key\":\"%064d\","
                                     "\"restrictions\":{%s}}",
                                     0, 0, forged[i][0]) > 0);
                text = forge_signed(&root, payload);
                /* the forged next_key is not the proof's: compare the reason the
                 * restriction check gives, which comes first */
                enum token_failure want =
                    forged[i][1][0] == 'u' ? TOKEN_UNKNOWN_RESTRICTION : TOKEN_BAD_RESTRICTION;
                assert_int_equal(check(text, &root, 0, NULL), want);
                free(text);
                free(payload);
        }
        /* an unknown field in a block is malformed, not ignored */
        assert_true(asprintf(&payload,
                             "{\"extra\":1,\"id\":\"%032d\",\"index\":0,\"next_key\":\"%064d\","
                             "\"restrictions\":{}}",
                             0, 0) > 0);
        text = forge_signed(&root, payload);
        assert_int_equal(check(text, &root, 0, NULL), TOKEN_MALFORMED);
        free(text);
        free(payload);

        /* expired: at and after the earliest expiry */
        text = encode(&t);
        assert_int_equal(check(text, &root, 3999999999, NULL), TOKEN_OK);
        assert_int_equal(check(text, &root, 4000000000, NULL), TOKEN_EXPIRED);

        /* revoked: the parent's id revokes the child */
        struct reins_strv revoked = {0};
        assert_int_equal(strv_push(&revoked, t.blocks[0].id), 0);
        assert_int_equal(check(text, &root, 0, &revoked), TOKEN_REVOKED);
        strv_free(&revoked);
        assert_int_equal(strv_push(&revoked, t.blocks[1].id), 0);
        assert_int_equal(check(text, &root, 0, &revoked), TOKEN_REVOKED);
        strv_free(&revoked);
        free(text);

        /* every reason has a name */
        for (int f = TOKEN_OK; f <= TOKEN_REVOKED; f++)
                assert_non_null(token_failure_name((enum token_failure)f));
        token_free(&t);
        token_free(&u);
        token_restrictions_free(&r);
}

static void test_invalid_restrictions_refused_at_mint(void **state)
{
        (void)state;
        struct root root = new_root();
        struct token t;
        struct token_restrictions r = {0};
        r.has_path = true;
        assert_int_equal(strv_push(&r.path, "../outside"), 0);
        struct reins_error err = {0};
        assert_true(token_mint(root.secret, &r, &t, &err) < 0);
        assert_non_null(strstr(err.message, "../outside"));
        token_restrictions_free(&r);
}

/* ---- attenuation only narrows: random restriction sets */

static const char *const hosts[] = {"a.com", "b.a.com", "c.b.a.com", "x.org", "10.0.0.1"};
static const char *const dest_patterns[] = {
    "a.com", "*.a.com", "*", "x.org:443", "x.org", "*.b.a.com", "10.0.0.1:8080", "*:22"};
static const uint16_t ports[] = {80, 443, 22, 8080};
static const char *const paths[] = {"a.c", "src/a.c", "src/sub/b.h", "docs/x.md", "README.md"};
static const char *const path_patterns[] = {"**",     "src/**",  "*.c",      "*.md",
                                            "docs/*", "src/*.c", "README.md"};
static const char *const cmds[] = {"git", "make", "cc", "sh"};
static const char *const agents[] = {"claude", "codex", "aider"};

static void random_subset(struct reins_strv *v, const char *const *items, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (randombytes_uniform(3) == 0)
                        assert_int_equal(strv_push(v, items[i]), 0);
}

static struct token_restrictions random_restrictions(void)
{
        struct token_restrictions r = {0};
        if ((r.has_dest = randombytes_uniform(2)))
                random_subset(&r.dest, dest_patterns, sizeof(dest_patterns) / sizeof(char *));
        if ((r.has_path = randombytes_uniform(2)))
                random_subset(&r.path, path_patterns, sizeof(path_patterns) / sizeof(char *));
        if ((r.has_cmd = randombytes_uniform(2)))
                random_subset(&r.cmd, cmds, sizeof(cmds) / sizeof(char *));
        if ((r.has_expires = randombytes_uniform(2)))
                r.expires = 1000 + randombytes_uniform(1000);
        if ((r.has_uses = randombytes_uniform(2)))
                r.uses = 1 + randombytes_uniform(10);
        if (randombytes_uniform(3) == 0)
                r.agent = strdup(agents[randombytes_uniform(3)]);
        return r;
}

static void rights_of(const struct token *t, struct token_rights *rights)
{
        assert_int_equal(token_effective_rights(t, rights, NULL), 0);
}

/* child allows X  ⇔  parent allows X and the new block allows X */
static void check_narrower(const struct token_rights *parent, const struct token_rights *child,
                           const struct token_rights *block)
{
        for (size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++)
                for (size_t p = 0; p < sizeof(ports) / sizeof(ports[0]); p++) {
                        bool c = token_check_dest(child, hosts[h], ports[p]);
                        assert_int_equal(c, token_check_dest(parent, hosts[h], ports[p]) &&
                                                token_check_dest(block, hosts[h], ports[p]));
                }
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
                assert_int_equal(token_check_path(child, paths[i]),
                                 token_check_path(parent, paths[i]) &&
                                     token_check_path(block, paths[i]));
        for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
                assert_int_equal(token_check_cmd(child, cmds[i]),
                                 token_check_cmd(parent, cmds[i]) &&
                                     token_check_cmd(block, cmds[i]));
        for (size_t i = 0; i < sizeof(agents) / sizeof(agents[0]); i++)
                assert_int_equal(token_check_agent(child, agents[i]),
                                 token_check_agent(parent, agents[i]) &&
                                     token_check_agent(block, agents[i]));
        for (int64_t now = 900; now < 2100; now += 37)
                assert_int_equal(token_check_time(child, now),
                                 token_check_time(parent, now) && token_check_time(block, now));
        if (parent->has_uses)
                assert_true(child->has_uses && child->uses <= parent->uses);
        if (parent->has_expires)
                assert_true(child->has_expires && child->expires <= parent->expires);
}

static void test_attenuation_only_narrows(void **state)
{
        (void)state;
        struct root root = new_root();
        for (int round = 0; round < 300; round++) {
                struct token t;
                struct token_restrictions first = random_restrictions();
                assert_int_equal(token_mint(root.secret, &first, &t, NULL), 0);
                int depth = 1 + (int)randombytes_uniform(3);
                for (int d = 0; d < depth; d++) {
                        struct token_restrictions more = random_restrictions();
                        struct token_rights parent, child, block;
                        rights_of(&t, &parent);
                        /* the new block on its own, as a one-block token */
                        struct token alone;
                        assert_int_equal(token_mint(root.secret, &more, &alone, NULL), 0);
                        rights_of(&alone, &block);
                        /* through the text form, as a holder would do it */
                        char *text = encode(&t);
                        token_free(&t);
                        assert_int_equal(token_decode(text, NULL, &t, NULL, NULL), 0);
                        free(text);
                        assert_int_equal(token_attenuate(&t, &more, NULL), 0);
                        rights_of(&t, &child);
                        check_narrower(&parent, &child, &block);
                        token_rights_free(&parent);
                        token_rights_free(&child);
                        token_rights_free(&block);
                        token_free(&alone);
                        token_restrictions_free(&more);
                }
                char *text = encode(&t);
                assert_int_equal(check(text, &root, 0, NULL), TOKEN_OK);
                free(text);
                token_free(&t);
                token_restrictions_free(&first);
        }
}

static void test_rights_checks(void **state)
{
        (void)state;
        struct root root = new_root();
        struct token_restrictions r = full_restrictions();
        struct token t;
        struct token_rights rights;
        assert_int_equal(token_mint(root.secret, &r, &t, NULL), 0);
        rights_of(&t, &rights);
        assert_true(token_check_dest(&rights, "api.GitHub.com.", 443));
        assert_false(token_check_dest(&rights, "github.com", 443));    /* *.x is subdomains only */
        assert_false(token_check_dest(&rights, "api.github.com", 22)); /* no port: 80/443 */
        assert_true(token_check_dest(&rights, "pypi.org", 443));
        assert_false(token_check_dest(&rights, "pypi.org", 80));
        assert_false(token_check_dest(&rights, "bad host", 443));
        assert_true(token_check_path(&rights, "src/a/b.c"));
        assert_false(token_check_path(&rights, "Makefile"));
        assert_false(token_check_path(&rights, "/src/a.c"));
        assert_true(token_check_cmd(&rights, "git"));
        assert_false(token_check_cmd(&rights, "curl"));
        assert_true(token_check_agent(&rights, "claude"));
        assert_false(token_check_agent(&rights, "codex"));
        assert_false(token_check_agent(&rights, NULL));
        assert_true(token_check_time(&rights, 3999999999));
        assert_false(token_check_time(&rights, 4000000000));
        token_rights_free(&rights);

        /* two different agents: nobody */
        struct token_restrictions other = {0};
        other.agent = strdup("codex");
        assert_int_equal(token_attenuate(&t, &other, NULL), 0);
        rights_of(&t, &rights);
        assert_true(rights.agent_conflict);
        assert_false(token_check_agent(&rights, "claude"));
        assert_false(token_check_agent(&rights, "codex"));
        token_rights_free(&rights);

        /* no restriction at all: everything (the policy still applies) */
        struct token_restrictions none = {0};
        struct token open;
        assert_int_equal(token_mint(root.secret, &none, &open, NULL), 0);
        rights_of(&open, &rights);
        assert_true(token_check_dest(&rights, "anything.example", 9));
        assert_true(token_check_path(&rights, "x"));
        assert_true(token_check_cmd(&rights, "rm"));
        assert_true(token_check_agent(&rights, NULL));
        token_rights_free(&rights);
        token_free(&open);
        token_free(&t);
        token_restrictions_free(&r);
        token_restrictions_free(&other);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_rfc8032_vector_1),
            cmocka_unit_test(test_rfc8032_vector_2),
            cmocka_unit_test(test_round_trip),
            cmocka_unit_test(test_attenuate_offline_and_chain),
            cmocka_unit_test(test_tampering_each_block_byte),
            cmocka_unit_test(test_tampering_each_character),
            cmocka_unit_test(test_rejection_reasons),
            cmocka_unit_test(test_invalid_restrictions_refused_at_mint),
            cmocka_unit_test(test_attenuation_only_narrows),
            cmocka_unit_test(test_rights_checks),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

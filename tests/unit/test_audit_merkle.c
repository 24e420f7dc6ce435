/* The Merkle tree hash against RFC 6962's definition (SHA-256 itself is
 * tested in test_util_digest.c).
 *
 * Expected roots: the inputs are the eight leaves of the certificate-
 * transparency test suite (merkle_tree_test.cc: "", 00, 10, 2021, 3031,
 * 40414243, 5051...57, 6061...6f); the roots for sizes 0..8 were computed
 * independently from RFC 6962 §2.1 (a ten-line Python hashlib version of
 * MTH) and agree with that suite's published values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "audit/keys.h"
#include "audit/merkle.h"

static const char *const leaves_hex[] = {
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};

static const char *const roots[] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static void leaf_of(size_t i, unsigned char out[MERKLE_HASH_BYTES])
{
        unsigned char data[16];
        size_t length = strlen(leaves_hex[i]) / 2;
        assert_int_equal(audit_unhex(leaves_hex[i], data, length), 0);
        merkle_leaf_hash(data, length, out);
}

static void test_rfc6962_vectors(void **state)
{
        (void)state;
        unsigned char leaves[8][MERKLE_HASH_BYTES];
        struct merkle_frontier frontier;
        merkle_frontier_init(&frontier);
        for (size_t n = 0; n <= 8; n++) {
                unsigned char root[MERKLE_HASH_BYTES];
                char hex[65];
                merkle_tree_hash((const unsigned char(*)[MERKLE_HASH_BYTES])leaves, n, root);
                audit_hex(root, sizeof(root), hex);
                assert_string_equal(hex, roots[n]);
                merkle_frontier_root(&frontier, root);
                audit_hex(root, sizeof(root), hex);
                assert_string_equal(hex, roots[n]);
                if (n < 8) {
                        leaf_of(n, leaves[n]);
                        merkle_frontier_append(&frontier, leaves[n]);
                }
        }
}

/* The frontier (what the writer and verifier use) equals the recursive
 * definition at every size, across many power-of-two boundaries. */
static void test_frontier_matches_definition(void **state)
{
        (void)state;
        enum { N = 1100 };
        static unsigned char leaves[N][MERKLE_HASH_BYTES];
        struct merkle_frontier frontier;
        merkle_frontier_init(&frontier);
        for (size_t n = 1; n <= N; n++) {
                char data[32];
                int length = snprintf(data, sizeof(data), "record %zu", n);
                merkle_leaf_hash(data, (size_t)length, leaves[n - 1]);
                merkle_frontier_append(&frontier, leaves[n - 1]);
                unsigned char a[MERKLE_HASH_BYTES], b[MERKLE_HASH_BYTES];
                merkle_frontier_root(&frontier, a);
                merkle_tree_hash((const unsigned char(*)[MERKLE_HASH_BYTES])leaves, n, b);
                if (memcmp(a, b, sizeof(a)) != 0)
                        fail_msg("frontier root differs at size %zu", n);
        }
}

/* A leaf is never confused with a node: H(0x00||x) != H(0x01||x). */
static void test_domain_separation(void **state)
{
        (void)state;
        unsigned char l[MERKLE_HASH_BYTES], r[MERKLE_HASH_BYTES], node[MERKLE_HASH_BYTES];
        unsigned char concat[2 * MERKLE_HASH_BYTES], as_leaf[MERKLE_HASH_BYTES];
        leaf_of(1, l);
        leaf_of(2, r);
        merkle_node_hash(l, r, node);
        memcpy(concat, l, sizeof(l));
        memcpy(concat + sizeof(l), r, sizeof(r));
        merkle_leaf_hash(concat, sizeof(concat), as_leaf);
        assert_memory_not_equal(node, as_leaf, MERKLE_HASH_BYTES);
}

int main(void)
{
        if (sodium_init() < 0)
                return 1;
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_rfc6962_vectors),
            cmocka_unit_test(test_frontier_matches_definition),
            cmocka_unit_test(test_domain_separation),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

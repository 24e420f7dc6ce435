#include "audit/merkle.h"

#include <string.h>

#include "util/digest.h"

void merkle_leaf_hash(const void *data, size_t length, unsigned char out[MERKLE_HASH_BYTES])
{
        /* the 0x00 / 0x01 prefixes keep a leaf from passing for an inner
         * node (second-preimage attack on the tree, RFC 6962 §2.1) */
        struct digest_sha256 state;
        const unsigned char prefix = 0x00;
        digest_sha256_init(&state);
        digest_sha256_update(&state, &prefix, 1);
        digest_sha256_update(&state, data, length);
        digest_sha256_final(&state, out);
}

void merkle_node_hash(const unsigned char left[MERKLE_HASH_BYTES],
                      const unsigned char right[MERKLE_HASH_BYTES],
                      unsigned char out[MERKLE_HASH_BYTES])
{
        unsigned char buffer[1 + 2 * MERKLE_HASH_BYTES];
        buffer[0] = 0x01;
        memcpy(buffer + 1, left, MERKLE_HASH_BYTES);
        memcpy(buffer + 1 + MERKLE_HASH_BYTES, right, MERKLE_HASH_BYTES);
        digest_sha256(buffer, sizeof(buffer), out);
}

void merkle_frontier_init(struct merkle_frontier *frontier)
{
        memset(frontier, 0, sizeof(*frontier));
}

void merkle_frontier_append(struct merkle_frontier *frontier,
                            const unsigned char leaf[MERKLE_HASH_BYTES])
{
        unsigned char carry[MERKLE_HASH_BYTES];
        memcpy(carry, leaf, MERKLE_HASH_BYTES);
        unsigned k = 0;
        /* like a binary counter: equal-sized perfect subtrees merge */
        while (k < 63 && (frontier->size >> k) & 1) {
                merkle_node_hash(frontier->level[k], carry, carry);
                k++;
        }
        memcpy(frontier->level[k], carry, MERKLE_HASH_BYTES);
        frontier->size++;
}

void merkle_frontier_root(const struct merkle_frontier *frontier,
                          unsigned char out[MERKLE_HASH_BYTES])
{
        if (frontier->size == 0) {
                digest_sha256(NULL, 0, out);
                return;
        }
        /* fold from the smallest (rightmost) subtree to the largest: that is
         * exactly RFC 6962's split at the largest power of two below n */
        unsigned char root[MERKLE_HASH_BYTES];
        int have = 0;
        for (unsigned k = 0; k < 64; k++) {
                if (!((frontier->size >> k) & 1))
                        continue;
                if (have) {
                        merkle_node_hash(frontier->level[k], root, root);
                } else {
                        memcpy(root, frontier->level[k], MERKLE_HASH_BYTES);
                        have = 1;
                }
        }
        memcpy(out, root, MERKLE_HASH_BYTES);
}

void merkle_tree_hash(const unsigned char (*leaves)[MERKLE_HASH_BYTES], size_t n,
                      unsigned char out[MERKLE_HASH_BYTES])
{
        if (n == 0) {
                digest_sha256(NULL, 0, out);
                return;
        }
        if (n == 1) {
                memcpy(out, leaves[0], MERKLE_HASH_BYTES);
                return;
        }
        size_t k = 1;
        while (k * 2 < n)
                k *= 2;
        unsigned char left[MERKLE_HASH_BYTES], right[MERKLE_HASH_BYTES];
        merkle_tree_hash(leaves, k, left);
        merkle_tree_hash(leaves + k, n - k, right);
        merkle_node_hash(left, right, out);
}

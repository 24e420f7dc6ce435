/* RFC 6962 §2.1 Merkle tree hash over the trail's record lines:
 *   MTH({})       = SHA-256()
 *   leaf(d)       = SHA-256(0x00 || d)
 *   node(l, r)    = SHA-256(0x01 || l || r)
 *   MTH(D[0:n])   = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of
 *                   two smaller than n.
 * The frontier keeps one perfect subtree root per set bit of the size, so
 * appending is O(log n) and the root of every prefix is available at once
 * (the writer and the verifier both need a root every N records). */
#ifndef REINS_AUDIT_MERKLE_H
#define REINS_AUDIT_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_BYTES 32

struct merkle_frontier {
        uint64_t size;
        unsigned char level[64][MERKLE_HASH_BYTES]; /* valid where bit k of size is set */
};

void merkle_leaf_hash(const void *data, size_t length, unsigned char out[MERKLE_HASH_BYTES]);
void merkle_node_hash(const unsigned char left[MERKLE_HASH_BYTES],
                      const unsigned char right[MERKLE_HASH_BYTES],
                      unsigned char out[MERKLE_HASH_BYTES]);

void merkle_frontier_init(struct merkle_frontier *frontier);
void merkle_frontier_append(struct merkle_frontier *frontier,
                            const unsigned char leaf[MERKLE_HASH_BYTES]);
void merkle_frontier_root(const struct merkle_frontier *frontier,
                          unsigned char out[MERKLE_HASH_BYTES]);

/* The definition itself, recursive over `n` leaf hashes (for tests and as
 * the reference the frontier is checked against). */
void merkle_tree_hash(const unsigned char (*leaves)[MERKLE_HASH_BYTES], size_t n,
                      unsigned char out[MERKLE_HASH_BYTES]);

#endif

/* SHA-256 and SHA-1: the one digest API of reins.
 *
 * SHA-256 chains and Merkle-hashes every audit record, names the policy
 * (its normalized YAML) and the user's key; SHA-1 only names blobs the way
 * git does in a patch. Both come from nettle, a kept library whose fat
 * build picks the CPU's SHA extensions (x86-64 SHA-NI) at run
 * time: that is what keeps the trail above 200 000 records/s, with no
 * hand-written compression function of our own to get wrong.
 *
 * A context is plain memory: no allocation, nothing to free. */
#ifndef REINS_UTIL_DIGEST_H
#define REINS_UTIL_DIGEST_H

#include <stddef.h>

#include <nettle/sha1.h>
#include <nettle/sha2.h>

#define DIGEST_SHA256_BYTES 32
#define DIGEST_SHA1_BYTES   20

struct digest_sha256 {
        struct sha256_ctx nettle;
};

struct digest_sha1 {
        struct sha1_ctx nettle;
};

void digest_sha256_init(struct digest_sha256 *ctx);
void digest_sha256_update(struct digest_sha256 *ctx, const void *data, size_t length);
/* Writes the digest; the context is then ready for a new message. */
void digest_sha256_final(struct digest_sha256 *ctx, unsigned char out[DIGEST_SHA256_BYTES]);
/* One call for a whole message (`data` may be NULL when `length` is 0). */
void digest_sha256(const void *data, size_t length, unsigned char out[DIGEST_SHA256_BYTES]);

void digest_sha1_init(struct digest_sha1 *ctx);
void digest_sha1_update(struct digest_sha1 *ctx, const void *data, size_t length);
void digest_sha1_final(struct digest_sha1 *ctx, unsigned char out[DIGEST_SHA1_BYTES]);
void digest_sha1(const void *data, size_t length, unsigned char out[DIGEST_SHA1_BYTES]);

#endif

/* SHA-256 for the trail's hot path: the chain hash and the Merkle leaf of
 * every record. libsodium's SHA-256 is portable C; where the CPU has the
 * SHA extensions (x86-64 SHA-NI) the compression function uses them, which
 * is what keeps appending above 200 000 records/s. Same results either way
 * (unit-tested against libsodium). */
#ifndef REINS_AUDIT_SHA256_H
#define REINS_AUDIT_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define AUDIT_SHA256_BYTES 32

struct audit_sha256 {
        uint32_t state[8];
        unsigned char block[64];
        size_t used;     /* bytes in block */
        uint64_t length; /* total bytes */
};

void audit_sha256_init(struct audit_sha256 *ctx);
void audit_sha256_update(struct audit_sha256 *ctx, const void *data, size_t length);
void audit_sha256_final(struct audit_sha256 *ctx, unsigned char out[AUDIT_SHA256_BYTES]);
void audit_sha256(const void *data, size_t length, unsigned char out[AUDIT_SHA256_BYTES]);

/* Force the portable path (tests compare both). */
void audit_sha256_use_portable(int portable);

#endif

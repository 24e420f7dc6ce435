#include "util/digest.h"

/* nettle takes (length, data) and never reads `data` when length is 0, so
 * an empty message may come as NULL. */

void digest_sha256_init(struct digest_sha256 *ctx)
{
        sha256_init(&ctx->nettle);
}

void digest_sha256_update(struct digest_sha256 *ctx, const void *data, size_t length)
{
        sha256_update(&ctx->nettle, length, data);
}

void digest_sha256_final(struct digest_sha256 *ctx, unsigned char out[DIGEST_SHA256_BYTES])
{
        sha256_digest(&ctx->nettle, DIGEST_SHA256_BYTES, out);
}

void digest_sha256(const void *data, size_t length, unsigned char out[DIGEST_SHA256_BYTES])
{
        struct sha256_ctx ctx;
        sha256_init(&ctx);
        sha256_update(&ctx, length, data);
        sha256_digest(&ctx, DIGEST_SHA256_BYTES, out);
}

void digest_sha1_init(struct digest_sha1 *ctx)
{
        sha1_init(&ctx->nettle);
}

void digest_sha1_update(struct digest_sha1 *ctx, const void *data, size_t length)
{
        sha1_update(&ctx->nettle, length, data);
}

void digest_sha1_final(struct digest_sha1 *ctx, unsigned char out[DIGEST_SHA1_BYTES])
{
        sha1_digest(&ctx->nettle, DIGEST_SHA1_BYTES, out);
}

void digest_sha1(const void *data, size_t length, unsigned char out[DIGEST_SHA1_BYTES])
{
        struct sha1_ctx ctx;
        sha1_init(&ctx);
        sha1_update(&ctx, length, data);
        sha1_digest(&ctx, DIGEST_SHA1_BYTES, out);
}

#include "audit/sha256.h"

#include <sodium.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t rotr(uint32_t x, int n)
{
        return (x >> n) | (x << (32 - n));
}

/* FIPS 180-4 §6.2.2, one 64-byte block at a time. */
static void sha256_blocks_portable(uint32_t state[8], const unsigned char *data, size_t blocks)
{
        for (; blocks > 0; blocks--, data += 64) {
                uint32_t w[64];
                for (int t = 0; t < 16; t++)
                        w[t] = (uint32_t)data[4 * t] << 24 | (uint32_t)data[4 * t + 1] << 16 |
                               (uint32_t)data[4 * t + 2] << 8 | (uint32_t)data[4 * t + 3];
                for (int t = 16; t < 64; t++) {
                        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
                        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
                        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
                }
                uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4],
                         f = state[5], g = state[6], h = state[7];
                for (int t = 0; t < 64; t++) {
                        uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +
                                      ((e & f) ^ (~e & g)) + sha256_k[t] + w[t];
                        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) +
                                      ((a & b) ^ (a & c) ^ (b & c));
                        h = g;
                        g = f;
                        f = e;
                        e = d + t1;
                        d = c;
                        c = b;
                        b = a;
                        a = t1 + t2;
                }
                state[0] += a;
                state[1] += b;
                state[2] += c;
                state[3] += d;
                state[4] += e;
                state[5] += f;
                state[6] += g;
                state[7] += h;
        }
}

#if defined(__x86_64__)
/* The SHA extensions keep the state as two registers, ABEF and CDGH;
 * sha256rnds2 does two rounds, sha256msg1/msg2 the message schedule. */
__attribute__((target("sha,sse4.1,ssse3"))) static void
sha256_blocks_ni(uint32_t state[8], const unsigned char *data, size_t blocks)
{
        const __m128i byteswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
        __m128i dcba = _mm_loadu_si128((const __m128i *)&state[0]);
        __m128i hgfe = _mm_loadu_si128((const __m128i *)&state[4]);
        __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
        __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
        __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
        __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
        for (; blocks > 0; blocks--, data += 64) {
                __m128i abef_saved = abef, cdgh_saved = cdgh;
                __m128i m[4];
#pragma GCC unroll 16
                for (int g = 0; g < 16; g++) {
                        if (g < 4) {
                                m[g] = _mm_shuffle_epi8(
                                    _mm_loadu_si128((const __m128i *)(data + 16 * g)), byteswap);
                        } else {
                                /* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16] */
                                __m128i x = _mm_sha256msg1_epu32(m[g % 4], m[(g - 3) % 4]);
                                x = _mm_add_epi32(
                                    x, _mm_alignr_epi8(m[(g - 1) % 4], m[(g - 2) % 4], 4));
                                m[g % 4] = _mm_sha256msg2_epu32(x, m[(g - 1) % 4]);
                        }
                        __m128i wk = _mm_add_epi32(
                            m[g % 4], _mm_loadu_si128((const __m128i *)&sha256_k[4 * g]));
                        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
                        abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0E));
                }
                abef = _mm_add_epi32(abef, abef_saved);
                cdgh = _mm_add_epi32(cdgh, cdgh_saved);
        }
        __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
        __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
        dcba = _mm_blend_epi16(feba, dchg, 0xF0);
        hgfe = _mm_alignr_epi8(dchg, feba, 8);
        _mm_storeu_si128((__m128i *)&state[0], dcba);
        _mm_storeu_si128((__m128i *)&state[4], hgfe);
}

static int sha256_have_ni(void)
{
        unsigned eax, ebx, ecx, edx;
        if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
                return 0;
        int sse = (ecx & (1u << 19)) && (ecx & (1u << 9)); /* SSE4.1, SSSE3 */
        if (!sse || __get_cpuid_max(0, NULL) < 7)
                return 0;
        __cpuid_count(7, 0, eax, ebx, ecx, edx);
        return (ebx & (1u << 29)) != 0; /* SHA */
}
#endif

static int sha256_mode = -1; /* -1 unknown, 0 portable, 1 SHA-NI */

void audit_sha256_use_portable(int portable)
{
#if defined(__x86_64__)
        sha256_mode = portable ? 0 : sha256_have_ni();
#else
        (void)portable;
        sha256_mode = 0;
#endif
}

static void sha256_blocks(uint32_t state[8], const unsigned char *data, size_t blocks)
{
        if (sha256_mode < 0)
                audit_sha256_use_portable(0);
#if defined(__x86_64__)
        if (sha256_mode == 1) {
                sha256_blocks_ni(state, data, blocks);
                return;
        }
#endif
        sha256_blocks_portable(state, data, blocks);
}

void audit_sha256_init(struct audit_sha256 *ctx)
{
        static const uint32_t initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                            0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
        memcpy(ctx->state, initial, sizeof(initial));
        ctx->used = 0;
        ctx->length = 0;
}

void audit_sha256_update(struct audit_sha256 *ctx, const void *data, size_t length)
{
        const unsigned char *p = data;
        if (length == 0)
                return;
        ctx->length += length;
        if (ctx->used > 0) {
                size_t take = 64 - ctx->used < length ? 64 - ctx->used : length;
                memcpy(ctx->block + ctx->used, p, take);
                ctx->used += take;
                p += take;
                length -= take;
                if (ctx->used < 64)
                        return;
                sha256_blocks(ctx->state, ctx->block, 1);
                ctx->used = 0;
        }
        if (length >= 64) {
                sha256_blocks(ctx->state, p, length / 64);
                p += length / 64 * 64;
                length %= 64;
        }
        memcpy(ctx->block, p, length);
        ctx->used = length;
}

void audit_sha256_final(struct audit_sha256 *ctx, unsigned char out[AUDIT_SHA256_BYTES])
{
        uint64_t bits = ctx->length * 8;
        ctx->block[ctx->used++] = 0x80;
        if (ctx->used > 56) {
                memset(ctx->block + ctx->used, 0, 64 - ctx->used);
                sha256_blocks(ctx->state, ctx->block, 1);
                ctx->used = 0;
        }
        memset(ctx->block + ctx->used, 0, 56 - ctx->used);
        for (int i = 0; i < 8; i++)
                ctx->block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
        sha256_blocks(ctx->state, ctx->block, 1);
        for (int i = 0; i < 8; i++) {
                out[4 * i] = (unsigned char)(ctx->state[i] >> 24);
                out[4 * i + 1] = (unsigned char)(ctx->state[i] >> 16);
                out[4 * i + 2] = (unsigned char)(ctx->state[i] >> 8);
                out[4 * i + 3] = (unsigned char)ctx->state[i];
        }
        sodium_memzero(ctx, sizeof(*ctx));
}

void audit_sha256(const void *data, size_t length, unsigned char out[AUDIT_SHA256_BYTES])
{
        struct audit_sha256 ctx;
        audit_sha256_init(&ctx);
        audit_sha256_update(&ctx, data, length);
        audit_sha256_final(&ctx, out);
}

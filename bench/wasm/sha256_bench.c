/* The CPU-bound program of the Wasm bench (bench/wasm/wasm_bench.py): the
 * SHA-256 of MIB mebibytes of a generated stream, compiled both natively
 * and to wasm32-wasi from this one file. A plain FIPS 180-4 implementation
 * written for the bench; correctness is checked against a known digest by
 * the bench (1 MiB of the same stream, hashed by Python's hashlib).
 *
 * With -DBENCH_CORE it is a module without imports exporting
 * bench_one_mib(), for wabt's interpreter (Debian's wasm-interp has no
 * WASI): the "what an interpreter would give" figure. */
#include <stdint.h>
#include <string.h>
#ifndef BENCH_CORE
#include <stdio.h>
#include <stdlib.h>
#endif

static const uint32_t k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n)
{
        return (x >> n) | (x << (32 - n));
}

static void block(uint32_t h[8], const uint8_t *p)
{
        uint32_t w[64];
        for (int i = 0; i < 16; i++)
                w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
                       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
        for (int i = 16; i < 64; i++) {
                uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
                uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
                w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int i = 0; i < 64; i++) {
                uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) +
                              k[i] + w[i];
                uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
                hh = g;
                g = f;
                f = e;
                e = d + t1;
                d = c;
                c = b;
                b = a;
                a = t1 + t2;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

static void digest(long mib, uint32_t h[8])
{
        static const uint32_t start[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                          0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
        memcpy(h, start, sizeof(start));        static uint8_t chunk[1 << 20];
        uint32_t x = 1;
        uint64_t total = 0;
        for (long m = 0; m < mib; m++) {
                for (size_t i = 0; i < sizeof(chunk); i++) { /* a fixed LCG stream */
                        x = x * 1103515245u + 12345u;
                        chunk[i] = (uint8_t)(x >> 16);
                }
                for (size_t i = 0; i < sizeof(chunk); i += 64)
                        block(h, chunk + i);
                total += sizeof(chunk);
        }
        uint8_t pad[128] = {0x80};
        size_t padlen = 64; /* total is a multiple of 64 */
        uint64_t bits = total * 8;
        for (int i = 0; i < 8; i++)
                pad[padlen - 1 - i] = (uint8_t)(bits >> (8 * i));
        block(h, pad);
}

#ifdef BENCH_CORE
__attribute__((export_name("bench_one_mib"))) uint32_t bench_one_mib(void);
uint32_t bench_one_mib(void)
{
        uint32_t h[8];
        digest(1, h);
        return h[0];
}
#else
int main(int argc, char **argv)
{
        uint32_t h[8];
        digest(argc > 1 ? atol(argv[1]) : 100, h);
        for (int i = 0; i < 8; i++)
                printf("%08x", h[i]);
        printf("\n");
        return 0;
}
#endif

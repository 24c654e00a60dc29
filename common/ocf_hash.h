/*  ocf_hash: a fast 64-bit hash for digests (not for security).
    Digests compare tables across hosts, so the result depends only on the bytes given,
    never on the machine: words are read little-endian explicitly.  */
#ifndef OCF_HASH_H
#define OCF_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t
ocf_hash_rotl (uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t
ocf_hash_mix (uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

//  8 bytes as a little-endian word: one load (and a swap on a big-endian host). gcc -O2 does
//  not merge a loop of eight byte loads into one (-O3 does): the hash of proxyd's prefix key
//  took 1.7 times as long in a RelWithDebInfo build.
static inline uint64_t
ocf_hash_le64 (const unsigned char *bytes)
{
    uint64_t k;
    memcpy (&k, bytes, sizeof k);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    k = __builtin_bswap64 (k);
#endif
    return k;
}

static inline uint64_t
ocf_hash64 (const void *data, size_t size, uint64_t seed)
{
    const uint64_t p1 = 0x9E3779B185EBCA87ULL, p2 = 0xC2B2AE3D27D4EB4FULL;
    const unsigned char *bytes = data;
    uint64_t h = seed ^ (size * p1);
    while (size >= 8) {
        uint64_t k = ocf_hash_rotl (ocf_hash_le64 (bytes) * p2, 31) * p1;
        h = ocf_hash_rotl (h ^ k, 27) * p1 + 0x52dce729;
        bytes += 8;
        size -= 8;
    }
    uint64_t k = 0;
    for (size_t i = size; i > 0; i--)
        k = (k << 8) | bytes[i - 1];
    h ^= ocf_hash_rotl (k * p2, 31) * p1;
    return ocf_hash_mix (h);
}

//  The same kind of hash over four lanes of 8-byte words (as xxHash64): the lanes' multiplies
//  do not wait for each other, so a long input hashes about three times as fast as with
//  ocf_hash64, whose every word waits for the one before. Other values than ocf_hash64's: for
//  hashes that are not exchanged with older versions (proxyd's prefix blocks); as
//  deterministic across machines. Inputs under 32 bytes are ocf_hash64's.
static inline uint64_t
ocf_hash64_wide (const void *data, size_t size, uint64_t seed)
{
    const uint64_t p1 = 0x9E3779B185EBCA87ULL, p2 = 0xC2B2AE3D27D4EB4FULL;
    const unsigned char *bytes = data;
    if (size < 32)
        return ocf_hash64 (bytes, size, seed);
    //  Four variables, not an array: gcc -O2 kept an array's lanes in memory.
    uint64_t a = seed + p1 + p2, b = seed + p2, c = seed, d = seed - p1;
    size_t left = size;
    for (; left >= 32; bytes += 32, left -= 32) {
        a = ocf_hash_rotl (a + ocf_hash_le64 (bytes) * p2, 31) * p1;
        b = ocf_hash_rotl (b + ocf_hash_le64 (bytes + 8) * p2, 31) * p1;
        c = ocf_hash_rotl (c + ocf_hash_le64 (bytes + 16) * p2, 31) * p1;
        d = ocf_hash_rotl (d + ocf_hash_le64 (bytes + 24) * p2, 31) * p1;
    }
    uint64_t h = ocf_hash_rotl (a, 1) + ocf_hash_rotl (b, 7) + ocf_hash_rotl (c, 12) + ocf_hash_rotl (d, 18);
    return ocf_hash64 (bytes, left, ocf_hash_mix (h ^ size));
}

//  Folds one 64-bit value into a running hash.
static inline uint64_t
ocf_hash_u64 (uint64_t h, uint64_t value)
{
    return ocf_hash_mix (h ^ ocf_hash_mix (value + 0x9E3779B97F4A7C15ULL));
}

#endif

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

//  Folds one 64-bit value into a running hash.
static inline uint64_t
ocf_hash_u64 (uint64_t h, uint64_t value)
{
    return ocf_hash_mix (h ^ ocf_hash_mix (value + 0x9E3779B97F4A7C15ULL));
}

#endif

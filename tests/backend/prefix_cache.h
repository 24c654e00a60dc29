/*  prefix_cache: ocf-test-backend's simulated KV prefix cache, standing in for vLLM's
    automatic prefix caching: an LRU of prompt blocks, each named by its chain hash (the hash
    of the block and every block before it, as ocf_prefix computes them), so a block is a hit
    only when the whole prefix up to it was seen. Shared by the backend's threads (a mutex).  */
#ifndef PREFIX_CACHE_H
#define PREFIX_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct _prefix_cache_t prefix_cache_t;

//  capacity: blocks held (> 0).
prefix_cache_t *prefix_cache_new (size_t capacity);
void prefix_cache_destroy (prefix_cache_t **self_p);
//  A prompt's blocks: returns how many leading blocks were held (the hits), then holds all n
//  as the most recently used, evicting the least recently used beyond capacity.
size_t prefix_cache_use (prefix_cache_t *self, const uint64_t *chain, size_t n);

#endif

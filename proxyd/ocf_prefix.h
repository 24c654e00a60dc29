/*  ocf_prefix: the prefix key of an inference request, as the backend will see its prompt.
    Owns the normalisation of an OpenAI request body into the text a backend's prefix cache
    is keyed by (for chat: the tool definitions, then every message in order with its role,
    name, content, tool calls and tool call id; for completions: the prompt), and the hashing
    of that text in chained blocks (block i's hash covers blocks 0..i).
    The key the choice is made by is the anchor: the chain's hash at the end of the first
    user message (the system prompt and tools included), cut at max_blocks blocks. It is the
    same for every turn of a conversation, since each turn resends the earlier ones; it
    differs between conversations that share only a short system prompt, so they spread; and
    when the shared part alone fills max_blocks blocks (a long system prompt, a RAG document)
    every request that shares it has the same anchor, so they go where that part is cached.
    Normalised: JSON strings decoded, no whitespace between tokens, so two clients that encode
    the same conversation differently get the same key.
    Sans-I/O and pure over (pointer, length): fuzzed by tests/fuzz/fuzz_prefix.c.  */
#ifndef OCF_PREFIX_H
#define OCF_PREFIX_H

#include "ocf_json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OCF_PREFIX_BLOCK_MAX 4096

typedef enum {
    OCF_PREFIX_CHAT,             //  /v1/chat/completions: tools and messages
    OCF_PREFIX_COMPLETION        //  /v1/completions: prompt
} ocf_prefix_kind_t;

typedef struct {
    uint64_t anchor;             //  the key providers are ordered by; 0: the body gives none
    size_t anchor_bytes;         //  normalised bytes it covers
    size_t blocks;               //  full blocks hashed into it
} ocf_prefix_key_t;

//  Derives the key of a request body. block_size: bytes of normalised text per block
//  (1..OCF_PREFIX_BLOCK_MAX); max_blocks: longest anchor, in blocks (>= 1). Returns 0 (the
//  anchor is 0 when there is nothing to key on: no messages, no prompt, an empty text), or -1
//  when the body is not a JSON object or a member has the wrong type (error says which).
int ocf_prefix_key (const char *body, size_t len, ocf_prefix_kind_t kind, size_t block_size, size_t max_blocks,
                    ocf_prefix_key_t *key, char *error, size_t error_size);
//  The same from a body already validated (root: ocf_json_root of it, with the index its
//  validation recorded): proxyd reads the model and the key in one validation of the body.
int ocf_prefix_key_json (ocf_json_span_t root, ocf_prefix_kind_t kind, size_t block_size, size_t max_blocks,
                         ocf_prefix_key_t *key, char *error, size_t error_size);

//  The whole prompt (every message, not only up to the first user's), as a backend's prefix
//  cache sees it: chain[i] gets the hash of blocks 0..i for the first max_blocks full blocks;
//  whole->blocks is their count and whole->anchor_bytes the normalised bytes read (the blocks
//  and what follows them, up to the end or the last block). For ocf-test-backend's simulated
//  cache, so that it counts hits as proxyd keys requests. Returns as ocf_prefix_key.
int ocf_prefix_chain (const char *body, size_t len, ocf_prefix_kind_t kind, size_t block_size, uint64_t *chain,
                      size_t max_blocks, ocf_prefix_key_t *whole, char *error, size_t error_size);

#endif

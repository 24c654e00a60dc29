/*  Fuzz target: the prefix key proxyd derives from a request body under policy = prefix
    (proxyd/ocf_prefix.c), for chat and completions, at a small and the default block size,
    and the whole prompt's chain (ocf-test-backend's). A refusal must say why, and the chain is
    refused exactly when the key is; a key must be the same when derived again, and within its
    bounds, and the same from the index of proxyd's model lookup (ocf_json_find_key); the chain
    covers at least the key's full blocks.  */
#include "ocf_json.h"
#include "ocf_prefix.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
s_check (const char *text, size_t size, ocf_prefix_kind_t kind, size_t block_size, size_t max_blocks)
{
    ocf_prefix_key_t key, again;
    char error[256] = "";
    int rc = ocf_prefix_key (text, size, kind, block_size, max_blocks, &key, error, sizeof error);
    if (rc != 0 && (!*error || key.anchor))
        abort ();
    if (rc != 0) {
        uint64_t chain[16];
        ocf_prefix_key_t whole;
        if (ocf_prefix_chain (text, size, kind, block_size, chain, max_blocks, &whole, error, sizeof error) != -1)
            abort ();
        return;
    }
    if (key.blocks > max_blocks || key.anchor_bytes > max_blocks * block_size || key.anchor_bytes / block_size != key.blocks)
        abort ();
    if (ocf_prefix_key (text, size, kind, block_size, max_blocks, &again, error, sizeof error) != 0
    ||  memcmp (&key, &again, sizeof key) != 0)
        abort ();
    ocf_json_index_t index = { 0 };
    char model[64];
    if (ocf_json_find_key (text, size, "model", model, sizeof model, &index, error, sizeof error) == OCF_JSON_KEY_INVALID
    ||  ocf_prefix_key_json (ocf_json_root (text, size, &index), kind, block_size, max_blocks, &again, error,
                             sizeof error) != 0
    ||  memcmp (&key, &again, sizeof key) != 0)
        abort ();
    ocf_json_index_clear (&index);
    uint64_t chain[16];
    ocf_prefix_key_t whole;
    if (ocf_prefix_chain (text, size, kind, block_size, chain, max_blocks, &whole, error, sizeof error) != 0
    ||  whole.blocks < key.blocks || whole.blocks > max_blocks)
        abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *text = (const char *) data;
    s_check (text, size, OCF_PREFIX_CHAT, 16, 4);
    s_check (text, size, OCF_PREFIX_CHAT, 256, 16);
    s_check (text, size, OCF_PREFIX_COMPLETION, 16, 4);
    s_check (text, size, OCF_PREFIX_COMPLETION, 256, 16);
    return 0;
}

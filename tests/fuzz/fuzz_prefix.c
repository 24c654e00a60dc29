/*  Fuzz target: the prefix key proxyd derives from a request body under policy = prefix
    (proxyd/ocf_prefix.c), for chat and completions, at a small and the default block size.
    A refusal must say why; a key must be the same when derived again, and within its bounds.  */
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
    if (rc != 0)
        return;
    if (key.blocks > max_blocks || key.anchor_bytes > max_blocks * block_size || key.anchor_bytes / block_size != key.blocks)
        abort ();
    if (ocf_prefix_key (text, size, kind, block_size, max_blocks, &again, error, sizeof error) != 0
    ||  memcmp (&key, &again, sizeof key) != 0)
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

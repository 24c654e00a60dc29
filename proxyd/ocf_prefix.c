/*  ocf_prefix: prefix keys of inference requests.  */
#include "ocf_prefix.h"
#include "ocf_hash.h"
#include "ocf_json.h"

#include <stdio.h>
#include <string.h>

#define CHAIN_SEED 0x6f63662d70726566ULL   //  "ocf-pref": block 0 chains from it

//  The normalised text, hashed block by block as it is produced; nothing past the last
//  block of the anchor is kept or hashed. A block that lies whole in the body (plain text of a
//  long string) is hashed where it lies; only the text around escapes, separators and
//  the ends of strings is copied into block.
typedef struct {
    unsigned char block[OCF_PREFIX_BLOCK_MAX];
    size_t size, fill, blocks, max_blocks, total;
    uint64_t chain;
    bool full;                   //  max_blocks hashed: the anchor cannot grow
    bool whole;                  //  the whole prompt, not the anchor
    uint64_t *chain_out;         //  each block's chain hash, when wanted
} hasher_t;

static void
s_block (hasher_t *h, const unsigned char *bytes)
{
    h->chain = ocf_hash64_wide (bytes, h->size, h->chain);
    if (h->chain_out)
        h->chain_out[h->blocks] = h->chain;
    h->full = ++h->blocks == h->max_blocks;
}

static void
s_feed (hasher_t *h, const void *data, size_t len)
{
    const unsigned char *bytes = data;
    while (len && !h->full) {
        if (h->fill == 0 && len >= h->size) {
            s_block (h, bytes);
            h->total += h->size;
            bytes += h->size;
            len -= h->size;
            continue;
        }
        size_t take = h->size - h->fill < len ? h->size - h->fill : len;
        memcpy (h->block + h->fill, bytes, take);
        h->fill += take;
        h->total += take;
        bytes += take;
        len -= take;
        if (h->fill == h->size) {
            s_block (h, h->block);
            h->fill = 0;
        }
    }
}

//  One byte of structure (a bracket, a separator): most of them, one store.
static inline void
s_byte (hasher_t *h, unsigned char byte)
{
    if (h->fill + 1 < h->size && !h->full) {
        h->block[h->fill++] = byte;
        h->total++;
    }
    else
        s_feed (h, &byte, 1);
}

//  The chain so far, the partial block included; never 0, which means "no key".
static uint64_t
s_anchor (const hasher_t *h)
{
    if (h->total == 0)
        return 0;
    uint64_t anchor = h->fill ? ocf_hash64_wide (h->block, h->fill, h->chain) : h->chain;
    return anchor ? anchor : 1;
}

static int
s_hex (char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static unsigned
s_u4 (const char *p)
{
    return (unsigned) (s_hex (p[0]) << 12 | s_hex (p[1]) << 8 | s_hex (p[2]) << 4 | s_hex (p[3]));
}

//  A validated string span, decoded (the validator refused unpaired surrogates). Runs of plain
//  bytes go to the hasher whole.
static void
s_string (hasher_t *h, ocf_json_span_t string)
{
    const char *p = string.start + 1, *end = string.start + string.len - 1;
    while (p < end && !h->full) {
        const char *escape = memchr (p, '\\', (size_t) (end - p));
        s_feed (h, p, (size_t) ((escape ? escape : end) - p));
        if (!escape)
            break;
        p = escape;
        char c = p[1];
        p += 2;
        unsigned char out[4];
        size_t n = 1;
        switch (c) {
            case 'b': out[0] = '\b'; break;
            case 'f': out[0] = '\f'; break;
            case 'n': out[0] = '\n'; break;
            case 'r': out[0] = '\r'; break;
            case 't': out[0] = '\t'; break;
            case 'u': {
                unsigned code = s_u4 (p);
                p += 4;
                if (code >= 0xD800 && code < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                    unsigned low = s_u4 (p + 2);
                    if (low >= 0xDC00 && low < 0xE000) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                        p += 6;
                    }
                }
                if (code < 0x80)
                    out[0] = (unsigned char) code;
                else if (code < 0x800) {
                    out[0] = (unsigned char) (0xC0 | code >> 6);
                    out[1] = (unsigned char) (0x80 | (code & 0x3F));
                    n = 2;
                }
                else if (code < 0x10000) {
                    out[0] = (unsigned char) (0xE0 | code >> 12);
                    out[1] = (unsigned char) (0x80 | (code >> 6 & 0x3F));
                    out[2] = (unsigned char) (0x80 | (code & 0x3F));
                    n = 3;
                }
                else {
                    out[0] = (unsigned char) (0xF0 | code >> 18);
                    out[1] = (unsigned char) (0x80 | (code >> 12 & 0x3F));
                    out[2] = (unsigned char) (0x80 | (code >> 6 & 0x3F));
                    out[3] = (unsigned char) (0x80 | (code & 0x3F));
                    n = 4;
                }
                break;
            }
            default: out[0] = (unsigned char) c; break;      //  " \ /
        }
        s_feed (h, out, n);
    }
}

//  Any value, compact: strings decoded, structure kept, whitespace dropped.
static void
s_value (hasher_t *h, ocf_json_span_t value)
{
    if (h->full)
        return;
    ocf_json_type_t type = ocf_json_type (value);
    if (type == OCF_JSON_STRING)
        s_string (h, value);
    else if (type == OCF_JSON_OBJECT) {
        ocf_json_iter_t iter = ocf_json_iter (value);
        ocf_json_span_t key, member;
        s_byte (h, '{');
        while (!h->full && ocf_json_object_next (&iter, &key, &member)) {
            s_string (h, key);
            s_byte (h, ':');
            s_value (h, member);
            s_byte (h, ',');
        }
        s_byte (h, '}');
    }
    else if (type == OCF_JSON_ARRAY) {
        ocf_json_iter_t iter = ocf_json_iter (value);
        ocf_json_span_t element;
        s_byte (h, '[');
        while (!h->full && ocf_json_array_next (&iter, &element)) {
            s_value (h, element);
            s_byte (h, ',');
        }
        s_byte (h, ']');
    }
    else
        s_feed (h, value.start, value.len);
}

//  The members of a message the backend's template renders, in a fixed order whatever order
//  the client wrote them in (the first member of a name counts, as ocf_json_member finds it;
//  found in one walk of the message, not one per name). Returns whether the message is a user's.
static bool
s_message (hasher_t *h, ocf_json_span_t message)
{
    static const char *names[] = { "role", "name", "content", "tool_calls", "tool_call_id" };
    enum { NAMES = sizeof names / sizeof names[0] };
    ocf_json_span_t values[NAMES] = { { 0 } };
    ocf_json_iter_t iter = ocf_json_iter (message);
    ocf_json_span_t name, value;
    while (ocf_json_object_next (&iter, &name, &value))
        for (size_t i = 0; i < NAMES; i++)
            if (!values[i].len && ocf_json_string_is (name, names[i])) {
                values[i] = value;
                break;
            }
    s_string (h, values[0]);
    for (size_t i = 1; i < NAMES; i++) {
        s_byte (h, 0x1f);
        if (values[i].len && ocf_json_type (values[i]) != OCF_JSON_NULL)
            s_value (h, values[i]);
    }
    s_byte (h, 0x1e);
    return ocf_json_string_is (values[0], "user");
}

static int
s_fail (char *error, size_t error_size, const char *message)
{
    snprintf (error, error_size, "%s", message);
    return -1;
}

static int
s_chat (hasher_t *h, ocf_json_span_t root, ocf_prefix_key_t *key, char *error, size_t error_size)
{
    ocf_json_span_t tools = ocf_json_member (root, "tools");
    if (tools.len && ocf_json_type (tools) != OCF_JSON_ARRAY && ocf_json_type (tools) != OCF_JSON_NULL)
        return s_fail (error, error_size, "\"tools\" must be an array");
    ocf_json_span_t messages = ocf_json_member (root, "messages");
    if (!messages.len || ocf_json_type (messages) != OCF_JSON_ARRAY)
        return s_fail (error, error_size, "\"messages\" must be an array");
    //  Checked whole first: whether a body is refused must not depend on where the anchor ends.
    ocf_json_iter_t iter = ocf_json_iter (messages);
    ocf_json_span_t message;
    while (ocf_json_array_next (&iter, &message)) {
        if (ocf_json_type (message) != OCF_JSON_OBJECT)
            return s_fail (error, error_size, "each of \"messages\" must be an object");
        if (ocf_json_type (ocf_json_member (message, "role")) != OCF_JSON_STRING)
            return s_fail (error, error_size, "each of \"messages\" must have a string \"role\"");
    }
    if (tools.len && ocf_json_type (tools) == OCF_JSON_ARRAY && ocf_json_count (tools)) {
        s_feed (h, "tools\x1e", 6);
        s_value (h, tools);
        s_byte (h, 0x1e);
    }
    iter = ocf_json_iter (messages);
    while (!h->full && ocf_json_array_next (&iter, &message))
        if (s_message (h, message) && !h->whole)
            break;
    key->anchor = s_anchor (h);
    return 0;
}

static int
s_completion (hasher_t *h, ocf_json_span_t root, ocf_prefix_key_t *key, char *error, size_t error_size)
{
    ocf_json_span_t prompt = ocf_json_member (root, "prompt");
    if (!prompt.len)
        return 0;
    ocf_json_type_t type = ocf_json_type (prompt);
    if (type != OCF_JSON_STRING && type != OCF_JSON_ARRAY)
        return s_fail (error, error_size, "\"prompt\" must be a string or an array");
    s_value (h, prompt);
    key->anchor = s_anchor (h);
    return 0;
}

static int
s_derive (ocf_json_span_t root, ocf_prefix_kind_t kind, size_t block_size, size_t max_blocks, uint64_t *chain,
          ocf_prefix_key_t *key, char *error, size_t error_size)
{
    *key = (ocf_prefix_key_t) { 0 };
    if (block_size < 1 || block_size > OCF_PREFIX_BLOCK_MAX || max_blocks < 1)
        return s_fail (error, error_size, "block size or block count out of range");
    if (ocf_json_type (root) != OCF_JSON_OBJECT)
        return s_fail (error, error_size, "the body is not a JSON object");
    hasher_t h;
    h.size = block_size;
    h.max_blocks = max_blocks;
    h.fill = h.blocks = h.total = 0;
    h.chain = CHAIN_SEED;
    h.full = false;
    h.whole = chain != NULL;
    h.chain_out = chain;
    int rc = kind == OCF_PREFIX_CHAT ? s_chat (&h, root, key, error, error_size)
                                     : s_completion (&h, root, key, error, error_size);
    if (rc == 0 && key->anchor) {
        key->anchor_bytes = h.total;
        key->blocks = h.blocks;
    }
    return rc;
}

//  Validates the body with an index (the walks step over containers by it), then derives.
static int
s_derive_body (const char *body, size_t len, ocf_prefix_kind_t kind, size_t block_size, size_t max_blocks,
               uint64_t *chain, ocf_prefix_key_t *key, char *error, size_t error_size)
{
    *key = (ocf_prefix_key_t) { 0 };
    ocf_json_index_t index = { 0 };
    if (ocf_json_validate (body, len, &index, error, error_size) != 0)
        return -1;
    int rc = s_derive (ocf_json_root (body, len, &index), kind, block_size, max_blocks, chain, key, error, error_size);
    ocf_json_index_clear (&index);
    return rc;
}

int
ocf_prefix_key (const char *body, size_t len, ocf_prefix_kind_t kind, size_t block_size, size_t max_blocks,
                ocf_prefix_key_t *key, char *error, size_t error_size)
{
    return s_derive_body (body, len, kind, block_size, max_blocks, NULL, key, error, error_size);
}

int
ocf_prefix_key_json (ocf_json_span_t root, ocf_prefix_kind_t kind, size_t block_size, size_t max_blocks,
                     ocf_prefix_key_t *key, char *error, size_t error_size)
{
    return s_derive (root, kind, block_size, max_blocks, NULL, key, error, error_size);
}

int
ocf_prefix_chain (const char *body, size_t len, ocf_prefix_kind_t kind, size_t block_size, uint64_t *chain,
                  size_t max_blocks, ocf_prefix_key_t *whole, char *error, size_t error_size)
{
    return s_derive_body (body, len, kind, block_size, max_blocks, chain, whole, error, error_size);
}

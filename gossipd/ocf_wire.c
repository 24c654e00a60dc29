/*  ocf_wire: gossip message codec.  */
#include "ocf_wire.h"
#include "ocf_alloc.h"
#include "ocf_hash.h"
#include "ocf_identity.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const char *s_type_names[] = {
    [OCF_WIRE_HEARTBEAT] = "HEARTBEAT", [OCF_WIRE_PING] = "PING", [OCF_WIRE_PING_REQ] = "PING_REQ",
    [OCF_WIRE_ACK] = "ACK", [OCF_WIRE_RUMOUR] = "RUMOUR", [OCF_WIRE_IHAVE] = "IHAVE", [OCF_WIRE_WANT] = "WANT",
    [OCF_WIRE_AE_SYN] = "AE_SYN", [OCF_WIRE_AE_GROUPS] = "AE_GROUPS", [OCF_WIRE_AE_BUCKETS] = "AE_BUCKETS",
    [OCF_WIRE_AE_DIGESTS] = "AE_DIGESTS", [OCF_WIRE_AE_DELTA] = "AE_DELTA", [OCF_WIRE_AE_ITEMS] = "AE_ITEMS",
    [OCF_WIRE_SNAP_REQ] = "SNAP_REQ", [OCF_WIRE_SNAP_CHUNK] = "SNAP_CHUNK", [OCF_WIRE_SNAP_BUSY] = "SNAP_BUSY",
};

const char *
ocf_wire_type_name (ocf_wire_type_t type)
{
    return type >= 1 && type <= OCF_WIRE_TYPE_MAX ? s_type_names[type] : "unknown";
}

//  --------------------------------------------------------------------------
//  Writing

static void
s_put (ocf_wire_buf_t *buf, const void *data, size_t size)
{
    if (buf->overflow || buf->len + size > buf->max) {
        buf->overflow = true;
        return;
    }
    if (buf->len + size > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 256;
        while (cap < buf->len + size)
            cap *= 2;
        buf->data = ocf_realloc (buf->data, cap);
        buf->cap = cap;
    }
    memcpy (buf->data + buf->len, data, size);
    buf->len += size;
}

static void
s_put_u8 (ocf_wire_buf_t *buf, uint8_t value)
{
    s_put (buf, &value, 1);
}

static void
s_put_varint (ocf_wire_buf_t *buf, uint64_t value)
{
    uint8_t bytes[10];
    size_t len = 0;
    do {
        bytes[len] = value & 0x7f;
        value >>= 7;
        if (value)
            bytes[len] |= 0x80;
        len++;
    } while (value);
    s_put (buf, bytes, len);
}

static size_t
s_varint_size (uint64_t value)
{
    size_t len = 1;
    while (value >>= 7)
        len++;
    return len;
}

static void
s_put_u64 (ocf_wire_buf_t *buf, uint64_t value)
{
    uint8_t bytes[8];
    for (int i = 0; i < 8; i++)
        bytes[i] = (uint8_t) (value >> (8 * i));
    s_put (buf, bytes, 8);
}

static void
s_put_id (ocf_wire_buf_t *buf, const char *id)
{
    s_put (buf, id, OCF_ID_SIZE - 1);
}

static void
s_put_items (ocf_wire_buf_t *buf, const ocf_item_t *items, size_t count)
{
    s_put_varint (buf, count);
    for (size_t i = 0; i < count; i++) {
        s_put_u8 (buf, items[i].kind);
        s_put_id (buf, items[i].id);
        s_put_varint (buf, items[i].size);
        s_put (buf, items[i].data, items[i].size);
    }
}

size_t
ocf_wire_item_size (const ocf_item_t *item)
{
    return 1 + (OCF_ID_SIZE - 1) + s_varint_size (item->size) + item->size;
}

ocf_item_t
ocf_wire_item_copy (const ocf_item_t *item)
{
    ocf_item_t copy = *item;
    uint8_t *data = ocf_malloc (item->size);
    memcpy (data, item->data, item->size);
    copy.data = data;
    return copy;
}

size_t
ocf_wire_digest_size (void)
{
    return (OCF_ID_SIZE - 1) + 5 * 10 + 1 + 8;
}

void
ocf_wire_buf_free (ocf_wire_buf_t *buf)
{
    free (buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
    buf->overflow = false;
}

//  --------------------------------------------------------------------------
//  Reading: every read checks what is left and turns a short frame into an error once.

typedef struct {
    const uint8_t *data;
    size_t left;
    char *error;
    size_t error_size;
    bool failed;
} reader_t;

static bool __attribute__ ((format (printf, 2, 3)))
s_fail (reader_t *reader, const char *format, ...)
{
    if (!reader->failed) {
        va_list args;
        va_start (args, format);
        vsnprintf (reader->error, reader->error_size, format, args);
        va_end (args);
    }
    reader->failed = true;
    reader->left = 0;
    return false;
}

static bool
s_take (reader_t *reader, void *out, size_t size, const char *what)
{
    if (reader->failed)
        return false;
    if (reader->left < size)
        return s_fail (reader, "truncated %s (%zu bytes needed, %zu left)", what, size, reader->left);
    if (out)
        memcpy (out, reader->data, size);
    reader->data += size;
    reader->left -= size;
    return true;
}

static uint8_t
s_get_u8 (reader_t *reader, const char *what)
{
    uint8_t value = 0;
    s_take (reader, &value, 1, what);
    return value;
}

static uint64_t
s_get_varint (reader_t *reader, const char *what)
{
    uint64_t value = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        uint8_t byte = 0;
        if (!s_take (reader, &byte, 1, what))
            return 0;
        if (shift == 63 && byte > 1) {
            s_fail (reader, "%s: varint overflows 64 bits", what);
            return 0;
        }
        value |= (uint64_t) (byte & 0x7f) << shift;
        if (!(byte & 0x80))
            return value;
    }
    s_fail (reader, "%s: varint longer than 10 bytes", what);
    return 0;
}

static uint64_t
s_get_u64 (reader_t *reader, const char *what)
{
    uint8_t bytes[8] = { 0 };    //  s_take fills it or fails; GCC -O3 cannot tell
    if (!s_take (reader, bytes, 8, what))
        return 0;
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--)
        value = (value << 8) | bytes[i];
    return value;
}

static uint32_t
s_get_nonce (reader_t *reader)
{
    uint64_t value = s_get_varint (reader, "nonce");
    if (value > UINT32_MAX)
        s_fail (reader, "nonce above 32 bits");
    return (uint32_t) value;
}

static bool
s_get_id (reader_t *reader, char *id, const char *what)
{
    if (!s_take (reader, id, OCF_ID_SIZE - 1, what))
        return false;
    id[OCF_ID_SIZE - 1] = '\0';
    if (!ocf_identity_id_valid (id))
        return s_fail (reader, "%s is not a node id (52 base32 characters)", what);
    return true;
}

//  A count of elements of at least min_size bytes each: never more than the frame can hold.
static size_t
s_get_count (reader_t *reader, size_t min_size, size_t max, const char *what)
{
    uint64_t count = s_get_varint (reader, what);
    if (reader->failed)
        return 0;
    if (count > max || count > reader->left / min_size) {
        s_fail (reader, "%s: %llu elements cannot fit in the %zu bytes left", what, (unsigned long long) count, reader->left);
        return 0;
    }
    return (size_t) count;
}

int
ocf_wire_member_decode (const uint8_t *data, size_t size, ocf_wire_member_t *member)
{
    char error[128];
    reader_t reader = { data, size, error, sizeof error, false };
    memset (member, 0, sizeof *member);
    member->generation = s_get_varint (&reader, "generation");
    member->incarnation = s_get_varint (&reader, "incarnation");
    uint8_t status = s_get_u8 (&reader, "status");
    uint8_t accuser_len = s_get_u8 (&reader, "accuser");
    if (accuser_len == OCF_ID_SIZE - 1)
        s_get_id (&reader, member->accuser, "accuser");
    else
    if (accuser_len != 0)
        s_fail (&reader, "accuser");
    if (reader.failed || reader.left || member->generation == 0 || status > OCF_STATUS_LEFT)
        return -1;
    member->status = status;
    return 0;
}

size_t
ocf_wire_member_encode (const ocf_wire_member_t *member, uint8_t *buffer)
{
    ocf_wire_buf_t buf = { .max = OCF_WIRE_PAYLOAD_MAX };
    s_put_varint (&buf, member->generation);
    s_put_varint (&buf, member->incarnation);
    s_put_u8 (&buf, (uint8_t) member->status);
    bool accused = member->accuser[0] != '\0';
    s_put_u8 (&buf, accused ? OCF_ID_SIZE - 1 : 0);
    if (accused)
        s_put_id (&buf, member->accuser);
    size_t len = buf.len;
    memcpy (buffer, buf.data, len);
    ocf_wire_buf_free (&buf);
    return len;
}

int
ocf_wire_tombstone_decode (const uint8_t *data, size_t size, ocf_wire_tombstone_t *tombstone)
{
    bool has_sig;
    uint8_t sig[OCF_SIGNATURE_BYTES];
    return ocf_wire_tombstone_decode_signed (data, size, tombstone, &has_sig, sig);
}

int
ocf_wire_tombstone_decode_signed (const uint8_t *data, size_t size, ocf_wire_tombstone_t *tombstone, bool *has_sig,
                                  uint8_t sig[OCF_SIGNATURE_BYTES])
{
    char error[128];
    reader_t reader = { data, size, error, sizeof error, false };
    memset (tombstone, 0, sizeof *tombstone);
    tombstone->generation = s_get_varint (&reader, "generation");
    uint8_t reason = s_get_u8 (&reader, "reason");
    uint64_t declared_at = s_get_varint (&reader, "declared_at");
    *has_sig = !reader.failed && reader.left == OCF_SIGNATURE_BYTES;
    if (*has_sig)
        s_take (&reader, sig, OCF_SIGNATURE_BYTES, "signature");
    if (reader.failed || reader.left || tombstone->generation == 0
    ||  (reason != OCF_REASON_REAPED && reason != OCF_REASON_LEFT) || declared_at > INT64_MAX)
        return -1;
    tombstone->reason = reason;
    tombstone->declared_at = (int64_t) declared_at;
    return 0;
}

size_t
ocf_wire_tombstone_encode_signed (const ocf_wire_tombstone_t *tombstone, const uint8_t *sig, uint8_t *buffer)
{
    ocf_wire_buf_t buf = { .max = OCF_WIRE_PAYLOAD_MAX };
    s_put_varint (&buf, tombstone->generation);
    s_put_u8 (&buf, (uint8_t) tombstone->reason);
    s_put_varint (&buf, (uint64_t) tombstone->declared_at);
    if (sig)
        s_put (&buf, sig, OCF_SIGNATURE_BYTES);
    size_t len = buf.len;
    memcpy (buffer, buf.data, len);
    ocf_wire_buf_free (&buf);
    return len;
}

uint64_t
ocf_wire_item_key (const ocf_item_t *item)
{
    uint64_t h = ocf_hash64 (item->id, strlen (item->id), item->kind);
    //  A verdict is the state it declares, whoever declared it: the observers of a node that
    //  declare it at once send one rumour, not one each down the whole tree.
    ocf_wire_member_t member;
    if (item->kind == OCF_ITEM_MEMBER && ocf_wire_member_decode (item->data, item->size, &member) == 0
    &&  member.accuser[0]) {
        uint8_t state[OCF_WIRE_PAYLOAD_MAX];
        member.accuser[0] = '\0';
        return ocf_hash_u64 (h, ocf_hash64 (state, ocf_wire_member_encode (&member, state), 0x6974656d));
    }
    return ocf_hash_u64 (h, ocf_hash64 (item->data, item->size, 0x6974656d));
}

static void
s_get_items (reader_t *reader, ocf_wire_msg_t *msg)
{
    size_t count = s_get_count (reader, 1 + (OCF_ID_SIZE - 1) + 1, SIZE_MAX, "item count");
    if (!count)
        return;
    msg->items = ocf_calloc (count, sizeof *msg->items);
    for (size_t i = 0; i < count && !reader->failed; i++) {
        ocf_item_t *item = &msg->items[i];
        item->kind = s_get_u8 (reader, "item kind");
        s_get_id (reader, item->id, "item id");
        uint64_t size = s_get_varint (reader, "item size");
        if (reader->failed)
            break;
        if (size > reader->left) {
            s_fail (reader, "item %zu: %llu bytes declared, %zu left", i, (unsigned long long) size, reader->left);
            break;
        }
        item->data = reader->data;
        item->size = (uint32_t) size;
        s_take (reader, NULL, (size_t) size, "item");
        //  Membership and tombstones are ours to check here; rows belong to the table.
        ocf_wire_member_t member;
        ocf_wire_tombstone_t tombstone;
        if (item->kind == OCF_ITEM_ROW)
            ;
        else
        if (item->kind == OCF_ITEM_MEMBER) {
            if (ocf_wire_member_decode (item->data, item->size, &member) != 0)
                s_fail (reader, "item %zu: malformed membership", i);
        }
        else
        if (item->kind == OCF_ITEM_TOMBSTONE) {
            if (ocf_wire_tombstone_decode (item->data, item->size, &tombstone) != 0)
                s_fail (reader, "item %zu: malformed tombstone", i);
        }
        else
            s_fail (reader, "item %zu: unknown kind %u", i, item->kind);
        msg->item_count = i + 1;
    }
}

static void
s_get_keys (reader_t *reader, ocf_wire_msg_t *msg)
{
    msg->key_count = s_get_count (reader, 8, SIZE_MAX, "key count");
    if (!msg->key_count)
        return;
    msg->keys = ocf_calloc (msg->key_count, sizeof *msg->keys);
    for (size_t i = 0; i < msg->key_count; i++)
        msg->keys[i] = s_get_u64 (reader, "key");
}

static void
s_get_digests (reader_t *reader, ocf_wire_msg_t *msg)
{
    msg->bucket_count = s_get_count (reader, 1, 256, "bucket count");
    for (size_t i = 0; i < msg->bucket_count; i++) {
        msg->buckets[i] = s_get_u8 (reader, "bucket");
        if (i && msg->buckets[i] <= msg->buckets[i - 1])
            s_fail (reader, "buckets must be listed in increasing order");
    }
    msg->digest_count = s_get_count (reader, (OCF_ID_SIZE - 1) + 5 + 1 + 8, SIZE_MAX, "digest count");
    if (!msg->digest_count)
        return;
    msg->digests = ocf_calloc (msg->digest_count, sizeof *msg->digests);
    for (size_t i = 0; i < msg->digest_count && !reader->failed; i++) {
        ocf_digest_t *digest = &msg->digests[i];
        s_get_id (reader, digest->id, "digest id");
        digest->generation = s_get_varint (reader, "generation");
        digest->version = s_get_varint (reader, "version");
        digest->member_generation = s_get_varint (reader, "member generation");
        digest->incarnation = s_get_varint (reader, "incarnation");
        uint8_t status = s_get_u8 (reader, "status");
        if (status != 255 && status > OCF_STATUS_LEFT)
            s_fail (reader, "digest %zu: status %u", i, status);
        digest->status = status == 255 ? -1 : status;
        digest->tomb_generation = s_get_varint (reader, "tombstone generation");
        digest->hash = s_get_u64 (reader, "hash");
    }
}

static void
s_get_ids (reader_t *reader, ocf_wire_msg_t *msg)
{
    msg->id_count = s_get_count (reader, OCF_ID_SIZE - 1, SIZE_MAX, "id count");
    if (!msg->id_count)
        return;
    msg->ids = ocf_calloc (msg->id_count, sizeof *msg->ids);
    for (size_t i = 0; i < msg->id_count; i++)
        s_get_id (reader, msg->ids[i], "wanted id");
}

static void
s_get_peers (reader_t *reader, ocf_wire_msg_t *msg)
{
    msg->peer_count = s_get_count (reader, (OCF_ID_SIZE - 1) + 1, OCF_WIRE_MAX_PEERS, "peer count");
    if (!msg->peer_count)
        return;
    msg->peers = ocf_calloc (msg->peer_count, sizeof *msg->peers);
    for (size_t i = 0; i < msg->peer_count && !reader->failed; i++) {
        s_get_id (reader, msg->peers[i].id, "peer id");
        uint64_t len = s_get_varint (reader, "endpoint length");
        if (len > OCF_WIRE_ENDPOINT_MAX) {
            s_fail (reader, "endpoint of %llu bytes", (unsigned long long) len);
            break;
        }
        s_take (reader, msg->peers[i].endpoint, (size_t) len, "endpoint");
        msg->peers[i].endpoint[len] = '\0';
        for (size_t c = 0; c < len; c++)
            if (msg->peers[i].endpoint[c] <= ' ' || msg->peers[i].endpoint[c] > '~')
                s_fail (reader, "endpoint has a non-printable character");
    }
}

//  SNAP_CHUNK: the items are deflated; their inflated size is declared and bounded.
static void
s_get_compressed_items (reader_t *reader, ocf_wire_msg_t *msg, size_t max_frame)
{
    uint64_t raw_size = s_get_varint (reader, "inflated size");
    if (reader->failed)
        return;
    uint64_t limit = (uint64_t) max_frame * 16 < OCF_WIRE_MAX_INFLATED ? (uint64_t) max_frame * 16 : OCF_WIRE_MAX_INFLATED;
    if (raw_size == 0 || raw_size > limit) {
        s_fail (reader, "snapshot chunk declares %llu inflated bytes (limit %llu)", (unsigned long long) raw_size,
                (unsigned long long) limit);
        return;
    }
    msg->inflated = ocf_malloc ((size_t) raw_size);
    uLongf got = (uLongf) raw_size;
    uLong used = (uLong) reader->left;
    int rc = uncompress2 (msg->inflated, &got, reader->data, &used);
    if (rc != Z_OK || got != raw_size || used != reader->left) {
        s_fail (reader, "snapshot chunk does not inflate to exactly its declared size (zlib %d)", rc);
        return;
    }
    reader->left = 0;
    reader_t inner = { msg->inflated, (size_t) raw_size, reader->error, reader->error_size, false };
    s_get_items (&inner, msg);
    if (!inner.failed && inner.left)
        s_fail (&inner, "%zu bytes after the snapshot items", inner.left);
    if (inner.failed)
        reader->failed = true;
}

bool
ocf_wire_timely (const uint8_t *data, size_t size)
{
    return size >= 2 && data[0] == OCF_WIRE_VERSION
        && (data[1] == OCF_WIRE_HEARTBEAT || data[1] == OCF_WIRE_PING || data[1] == OCF_WIRE_PING_REQ
            || data[1] == OCF_WIRE_ACK);
}

int
ocf_wire_decode (ocf_wire_msg_t *msg, const uint8_t *data, size_t size, size_t max_frame, char *error, size_t error_size)
{
    memset (msg, 0, sizeof *msg);
    reader_t reader = { data, size, error, error_size, false };
    if (size > max_frame) {
        snprintf (error, error_size, "frame of %zu bytes exceeds the limit of %zu", size, max_frame);
        return -1;
    }
    uint8_t version = s_get_u8 (&reader, "version");
    uint8_t type = s_get_u8 (&reader, "type");
    if (reader.failed)
        return -1;
    if (version != OCF_WIRE_VERSION) {
        snprintf (error, error_size, "protocol version %u is not supported (this side speaks %d)", version, OCF_WIRE_VERSION);
        return -1;
    }
    msg->type = type;
    switch (type) {
        case OCF_WIRE_HEARTBEAT:
            msg->flags = s_get_u8 (&reader, "flags");
            msg->generation = s_get_varint (&reader, "generation");
            msg->root = s_get_u64 (&reader, "root");
            break;
        case OCF_WIRE_PING:
            msg->nonce = s_get_nonce (&reader);
            break;
        case OCF_WIRE_PING_REQ:
            msg->nonce = s_get_nonce (&reader);
            s_get_id (&reader, msg->target, "target");
            break;
        case OCF_WIRE_ACK:
            msg->nonce = s_get_nonce (&reader);
            msg->flags = s_get_u8 (&reader, "flags");
            break;
        case OCF_WIRE_RUMOUR:
            msg->flags = s_get_u8 (&reader, "flags");
            if (msg->flags & OCF_WIRE_RANGE)
                s_get_id (&reader, msg->target, "range end");
            s_get_items (&reader, msg);
            break;
        case OCF_WIRE_IHAVE:
        case OCF_WIRE_WANT:
            s_get_keys (&reader, msg);
            break;
        case OCF_WIRE_AE_SYN:
            msg->nonce = s_get_nonce (&reader);
            msg->root = s_get_u64 (&reader, "root");
            msg->entries = s_get_varint (&reader, "entries");
            break;
        case OCF_WIRE_AE_GROUPS:
            msg->nonce = s_get_nonce (&reader);
            msg->root = s_get_u64 (&reader, "root");
            for (int g = 0; g < OCF_WIRE_GROUPS; g++)
                msg->hashes[g] = s_get_u64 (&reader, "group hash");
            break;
        case OCF_WIRE_AE_BUCKETS: {
            msg->nonce = s_get_nonce (&reader);
            uint8_t mask[2] = { 0, 0 };       //  a truncated frame leaves it untouched
            s_take (&reader, mask, 2, "group mask");
            msg->mask = (uint16_t) (mask[0] | mask[1] << 8);
            int hashes = __builtin_popcount (msg->mask) * OCF_WIRE_GROUPS;
            for (int h = 0; h < hashes; h++)
                msg->hashes[h] = s_get_u64 (&reader, "bucket hash");
            break;
        }
        case OCF_WIRE_AE_DIGESTS:
            msg->nonce = s_get_nonce (&reader);
            msg->flags = s_get_u8 (&reader, "flags");
            s_get_digests (&reader, msg);
            break;
        case OCF_WIRE_AE_DELTA:
            msg->nonce = s_get_nonce (&reader);
            msg->flags = s_get_u8 (&reader, "flags");
            s_get_items (&reader, msg);
            s_get_ids (&reader, msg);
            break;
        case OCF_WIRE_AE_ITEMS:
            msg->nonce = s_get_nonce (&reader);
            s_get_items (&reader, msg);
            break;
        case OCF_WIRE_SNAP_REQ:
            msg->flags = s_get_u8 (&reader, "flags");
            if (msg->flags & OCF_WIRE_HAS_AFTER)
                s_get_id (&reader, msg->target, "after");
            break;
        case OCF_WIRE_SNAP_CHUNK:
            msg->flags = s_get_u8 (&reader, "flags");
            if (msg->flags & OCF_WIRE_HAS_AFTER)
                s_get_id (&reader, msg->target, "after");
            if (msg->flags & OCF_WIRE_HAS_NEXT)
                s_get_id (&reader, msg->next, "next");
            msg->entries = s_get_varint (&reader, "entries");
            msg->root = s_get_u64 (&reader, "root");
            s_get_compressed_items (&reader, msg, max_frame);
            break;
        case OCF_WIRE_SNAP_BUSY:
            s_get_peers (&reader, msg);
            break;
        default:
            snprintf (error, error_size, "unknown message type %u", type);
            return -1;
    }
    if (!reader.failed && reader.left)
        s_fail (&reader, "%zu unexpected bytes after a %s", reader.left, ocf_wire_type_name (type));
    if (reader.failed) {
        ocf_wire_clear (msg);
        return -1;
    }
    return 0;
}

void
ocf_wire_clear (ocf_wire_msg_t *msg)
{
    free (msg->items);
    free (msg->keys);
    free (msg->digests);
    free (msg->ids);
    free (msg->peers);
    free (msg->inflated);
    memset (msg, 0, sizeof *msg);
}

//  --------------------------------------------------------------------------

static void
s_put_compressed_items (ocf_wire_buf_t *out, const ocf_wire_msg_t *msg)
{
    ocf_wire_buf_t raw = { .max = OCF_WIRE_MAX_INFLATED };
    s_put_items (&raw, msg->items, msg->item_count);
    if (raw.overflow) {
        out->overflow = true;
        ocf_wire_buf_free (&raw);
        return;
    }
    uLongf bound = compressBound ((uLong) raw.len);
    uint8_t *packed = ocf_malloc (bound);
    if (compress2 (packed, &bound, raw.data, (uLong) raw.len, Z_DEFAULT_COMPRESSION) != Z_OK)
        out->overflow = true;
    else {
        s_put_varint (out, raw.len);
        s_put (out, packed, bound);
    }
    free (packed);
    ocf_wire_buf_free (&raw);
}

int
ocf_wire_encode (const ocf_wire_msg_t *msg, ocf_wire_buf_t *out)
{
    out->len = 0;
    out->overflow = false;
    s_put_u8 (out, OCF_WIRE_VERSION);
    s_put_u8 (out, (uint8_t) msg->type);
    switch (msg->type) {
        case OCF_WIRE_HEARTBEAT:
            s_put_u8 (out, msg->flags);
            s_put_varint (out, msg->generation);
            s_put_u64 (out, msg->root);
            break;
        case OCF_WIRE_PING:
            s_put_varint (out, msg->nonce);
            break;
        case OCF_WIRE_PING_REQ:
            s_put_varint (out, msg->nonce);
            s_put_id (out, msg->target);
            break;
        case OCF_WIRE_ACK:
            s_put_varint (out, msg->nonce);
            s_put_u8 (out, msg->flags);
            break;
        case OCF_WIRE_RUMOUR:
            s_put_u8 (out, msg->flags);
            if (msg->flags & OCF_WIRE_RANGE)
                s_put_id (out, msg->target);
            s_put_items (out, msg->items, msg->item_count);
            break;
        case OCF_WIRE_IHAVE:
        case OCF_WIRE_WANT:
            s_put_varint (out, msg->key_count);
            for (size_t i = 0; i < msg->key_count; i++)
                s_put_u64 (out, msg->keys[i]);
            break;
        case OCF_WIRE_AE_SYN:
            s_put_varint (out, msg->nonce);
            s_put_u64 (out, msg->root);
            s_put_varint (out, msg->entries);
            break;
        case OCF_WIRE_AE_GROUPS:
            s_put_varint (out, msg->nonce);
            s_put_u64 (out, msg->root);
            for (int g = 0; g < OCF_WIRE_GROUPS; g++)
                s_put_u64 (out, msg->hashes[g]);
            break;
        case OCF_WIRE_AE_BUCKETS: {
            s_put_varint (out, msg->nonce);
            uint8_t mask[2] = { (uint8_t) msg->mask, (uint8_t) (msg->mask >> 8) };
            s_put (out, mask, 2);
            int hashes = __builtin_popcount (msg->mask) * OCF_WIRE_GROUPS;
            for (int h = 0; h < hashes; h++)
                s_put_u64 (out, msg->hashes[h]);
            break;
        }
        case OCF_WIRE_AE_DIGESTS:
            s_put_varint (out, msg->nonce);
            s_put_u8 (out, msg->flags);
            s_put_varint (out, msg->bucket_count);
            s_put (out, msg->buckets, msg->bucket_count);
            s_put_varint (out, msg->digest_count);
            for (size_t i = 0; i < msg->digest_count; i++) {
                const ocf_digest_t *digest = &msg->digests[i];
                s_put_id (out, digest->id);
                s_put_varint (out, digest->generation);
                s_put_varint (out, digest->version);
                s_put_varint (out, digest->member_generation);
                s_put_varint (out, digest->incarnation);
                s_put_u8 (out, digest->status < 0 ? 255 : (uint8_t) digest->status);
                s_put_varint (out, digest->tomb_generation);
                s_put_u64 (out, digest->hash);
            }
            break;
        case OCF_WIRE_AE_DELTA:
            s_put_varint (out, msg->nonce);
            s_put_u8 (out, msg->flags);
            s_put_items (out, msg->items, msg->item_count);
            s_put_varint (out, msg->id_count);
            for (size_t i = 0; i < msg->id_count; i++)
                s_put_id (out, msg->ids[i]);
            break;
        case OCF_WIRE_AE_ITEMS:
            s_put_varint (out, msg->nonce);
            s_put_items (out, msg->items, msg->item_count);
            break;
        case OCF_WIRE_SNAP_REQ:
            s_put_u8 (out, msg->flags);
            if (msg->flags & OCF_WIRE_HAS_AFTER)
                s_put_id (out, msg->target);
            break;
        case OCF_WIRE_SNAP_CHUNK:
            s_put_u8 (out, msg->flags);
            if (msg->flags & OCF_WIRE_HAS_AFTER)
                s_put_id (out, msg->target);
            if (msg->flags & OCF_WIRE_HAS_NEXT)
                s_put_id (out, msg->next);
            s_put_varint (out, msg->entries);
            s_put_u64 (out, msg->root);
            s_put_compressed_items (out, msg);
            break;
        case OCF_WIRE_SNAP_BUSY:
            s_put_varint (out, msg->peer_count);
            for (size_t i = 0; i < msg->peer_count; i++) {
                size_t len = strnlen (msg->peers[i].endpoint, OCF_WIRE_ENDPOINT_MAX);
                s_put_id (out, msg->peers[i].id);
                s_put_varint (out, len);
                s_put (out, msg->peers[i].endpoint, len);
            }
            break;
    }
    return out->overflow ? -1 : 0;
}

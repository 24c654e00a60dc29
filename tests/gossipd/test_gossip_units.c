/*  The protocol core's building blocks on their own: the wire codec (every message type
    round-trips; every truncation, bad count, bad version and decompression bomb is refused),
    the phi accrual detector, the recent-rumour store (against a naive model, under random
    operations), the membership view, the outbox; and the core itself fed by hand where a
    behaviour is about single messages (a burst held for one send, a probe not sent, a swept
    member's second timeout on a host that ran late).  */
#include "ocf_gossip.h"
#include "ocf_members.h"
#include "ocf_outbox.h"
#include "ocf_phi.h"
#include "ocf_recent.h"
#include "ocf_rtt.h"
#include "ocf_wire.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FRAME (1u << 20)

static const char *s_ids[] = {
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaq", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaba",
    "aaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dypq", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzq",
};

static ocf_wire_buf_t
s_encode (const ocf_wire_msg_t *msg)
{
    ocf_wire_buf_t buf = { .max = MAX_FRAME };
    cr_assert_eq (ocf_wire_encode (msg, &buf), 0, "%s does not encode", ocf_wire_type_name (msg->type));
    return buf;
}

//  Every message type with every field set.
static size_t
s_samples (ocf_wire_msg_t *samples)
{
    static uint8_t member[OCF_WIRE_PAYLOAD_MAX], tombstone[OCF_WIRE_PAYLOAD_MAX];
    static ocf_item_t items[3];
    static uint64_t keys[] = { 1, 0xffffffffffffffffULL, 42 };
    static ocf_digest_t digests[2];
    static char ids[2][OCF_ID_SIZE];
    static ocf_wire_peer_t peers[2];
    ocf_wire_member_t m = { 7, 3, OCF_STATUS_SUSPECT, { 0 } };
    strcpy (m.accuser, s_ids[1]);
    ocf_wire_tombstone_t t = { 9, OCF_REASON_LEFT, 1795000000123 };
    items[0] = (ocf_item_t) { .kind = OCF_ITEM_ROW, .data = (const uint8_t *) "{\"id\":\"x\"}", .size = 10 };
    items[1] = (ocf_item_t) { .kind = OCF_ITEM_MEMBER, .data = member, .size = (uint32_t) ocf_wire_member_encode (&m, member) };
    items[2] = (ocf_item_t) { .kind = OCF_ITEM_TOMBSTONE, .data = tombstone,
                              .size = (uint32_t) ocf_wire_tombstone_encode_signed (&t, NULL, tombstone) };
    for (int i = 0; i < 3; i++)
        strcpy (items[i].id, s_ids[i]);
    digests[0] = (ocf_digest_t) { .generation = 5, .version = 6, .member_generation = 5, .incarnation = 1,
                                  .status = OCF_STATUS_DEAD, .tomb_generation = 0, .hash = 0x1234 };
    digests[1] = (ocf_digest_t) { .status = -1, .tomb_generation = 4, .hash = ~0ULL };
    strcpy (digests[0].id, s_ids[2]);
    strcpy (digests[1].id, s_ids[3]);
    strcpy (ids[0], s_ids[0]);
    strcpy (ids[1], s_ids[3]);
    strcpy (peers[0].id, s_ids[1]);
    strcpy (peers[0].endpoint, "tcp://10.0.0.5:7946");
    strcpy (peers[1].id, s_ids[2]);
    size_t n = 0;
    samples[n++] = (ocf_wire_msg_t) { .type = OCF_WIRE_HEARTBEAT, .flags = OCF_WIRE_BYE, .generation = 1795000000, .root = 77 };
    samples[n++] = (ocf_wire_msg_t) { .type = OCF_WIRE_PING, .nonce = 0xfffffffe };
    samples[n] = (ocf_wire_msg_t) { .type = OCF_WIRE_PING_REQ, .nonce = 5 };
    strcpy (samples[n++].target, s_ids[2]);
    samples[n++] = (ocf_wire_msg_t) { .type = OCF_WIRE_ACK, .nonce = 5, .flags = OCF_WIRE_NACK | OCF_WIRE_UNWATCHED };
    samples[n] = (ocf_wire_msg_t) { .type = OCF_WIRE_RUMOUR, .flags = OCF_WIRE_RANGE, .items = items, .item_count = 3 };
    strcpy (samples[n++].target, s_ids[3]);
    samples[n++] = (ocf_wire_msg_t) { .type = OCF_WIRE_IHAVE, .keys = keys, .key_count = 3 };
    samples[n++] = (ocf_wire_msg_t) { .type = OCF_WIRE_WANT, .keys = keys, .key_count = 1 };
    samples[n++] = (ocf_wire_msg_t) { .type = OCF_WIRE_AE_SYN, .nonce = 9, .root = 1, .entries = 10000 };
    samples[n] = (ocf_wire_msg_t) { .type = OCF_WIRE_AE_GROUPS, .nonce = 9, .root = 2 };
    for (int g = 0; g < OCF_WIRE_GROUPS; g++)
        samples[n].hashes[g] = (uint64_t) g * 0x0101010101010101ULL;
    n++;
    samples[n] = (ocf_wire_msg_t) { .type = OCF_WIRE_AE_BUCKETS, .nonce = 9, .mask = 0x8001 };
    for (int h = 0; h < 2 * OCF_WIRE_GROUPS; h++)
        samples[n].hashes[h] = (uint64_t) h + 1;
    n++;
    samples[n] = (ocf_wire_msg_t) { .type = OCF_WIRE_AE_DIGESTS, .nonce = 9, .flags = OCF_WIRE_TRUNCATED,
                                    .digests = digests, .digest_count = 2, .bucket_count = 3 };
    samples[n].buckets[0] = 0;
    samples[n].buckets[1] = 17;
    samples[n++].buckets[2] = 255;
    samples[n++] = (ocf_wire_msg_t) { .type = OCF_WIRE_AE_DELTA, .nonce = 9, .items = items, .item_count = 2, .ids = ids,
                                      .id_count = 2 };
    samples[n++] = (ocf_wire_msg_t) { .type = OCF_WIRE_AE_ITEMS, .nonce = 9, .items = items + 1, .item_count = 2 };
    samples[n] = (ocf_wire_msg_t) { .type = OCF_WIRE_SNAP_REQ, .flags = OCF_WIRE_HAS_AFTER };
    strcpy (samples[n++].target, s_ids[0]);
    samples[n] = (ocf_wire_msg_t) { .type = OCF_WIRE_SNAP_CHUNK, .flags = OCF_WIRE_HAS_AFTER | OCF_WIRE_HAS_NEXT,
                                    .entries = 3, .root = 5, .items = items, .item_count = 3 };
    strcpy (samples[n].target, s_ids[0]);
    strcpy (samples[n++].next, s_ids[2]);
    samples[n++] = (ocf_wire_msg_t) { .type = OCF_WIRE_SNAP_BUSY, .peers = peers, .peer_count = 2 };
    return n;
}

//  memcmp, but fine with the NULL arrays of empty messages.
static bool
s_same (const void *a, const void *b, size_t size)
{
    return size == 0 || memcmp (a, b, size) == 0;
}

static void
s_assert_items_equal (const ocf_item_t *a, const ocf_item_t *b, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        cr_assert_eq (a[i].kind, b[i].kind);
        cr_assert_str_eq (a[i].id, b[i].id);
        cr_assert_eq (a[i].size, b[i].size);
        cr_assert (s_same (a[i].data, b[i].data, a[i].size));
    }
}

Test (gossip_wire, every_message_round_trips)
{
    ocf_wire_msg_t samples[32];
    size_t count = s_samples (samples);
    cr_assert_eq (count, OCF_WIRE_TYPE_MAX, "a message type has no sample");
    for (size_t s = 0; s < count; s++) {
        const ocf_wire_msg_t *sent = &samples[s];
        ocf_wire_buf_t buf = s_encode (sent);
        ocf_wire_msg_t got;
        char error[256];
        cr_assert_eq (ocf_wire_decode (&got, buf.data, buf.len, MAX_FRAME, error, sizeof error), 0, "%s: %s",
                      ocf_wire_type_name (sent->type), error);
        cr_assert_eq (got.type, sent->type);
        cr_assert_eq (got.flags, sent->flags);
        cr_assert_eq (got.nonce, sent->nonce);
        cr_assert_eq (got.generation, sent->generation);
        cr_assert_eq (got.root, sent->root);
        cr_assert_eq (got.entries, sent->entries);
        cr_assert_str_eq (got.target, sent->target);
        cr_assert_str_eq (got.next, sent->next);
        cr_assert_eq (got.mask, sent->mask);
        cr_assert_eq (memcmp (got.hashes, sent->hashes, sizeof got.hashes), 0);
        cr_assert_eq (got.bucket_count, sent->bucket_count);
        cr_assert (s_same (got.buckets, sent->buckets, sent->bucket_count));
        cr_assert_eq (got.item_count, sent->item_count);
        s_assert_items_equal (got.items, sent->items, got.item_count);
        cr_assert_eq (got.key_count, sent->key_count);
        cr_assert (s_same (got.keys, sent->keys, sent->key_count * 8));
        cr_assert_eq (got.digest_count, sent->digest_count);
        for (size_t d = 0; d < got.digest_count; d++)
            cr_assert_eq (memcmp (&got.digests[d], &sent->digests[d], sizeof got.digests[d]), 0);
        cr_assert_eq (got.id_count, sent->id_count);
        cr_assert (s_same (got.ids, sent->ids, sent->id_count * OCF_ID_SIZE));
        cr_assert_eq (got.peer_count, sent->peer_count);
        for (size_t p = 0; p < got.peer_count; p++) {
            cr_assert_str_eq (got.peers[p].id, sent->peers[p].id);
            cr_assert_str_eq (got.peers[p].endpoint, sent->peers[p].endpoint);
        }
        ocf_wire_clear (&got);
        ocf_wire_buf_free (&buf);
    }
}

Test (gossip_wire, every_truncation_and_extension_is_refused)
{
    ocf_wire_msg_t samples[32];
    size_t count = s_samples (samples);
    for (size_t s = 0; s < count; s++) {
        ocf_wire_buf_t buf = s_encode (&samples[s]);
        ocf_wire_msg_t got;
        char error[256];
        for (size_t len = 0; len < buf.len; len++) {
            //  A snapshot chunk's deflate stream may end early in a way zlib still accepts
            //  partially; what matters is that no shorter frame ever decodes.
            cr_assert_neq (ocf_wire_decode (&got, buf.data, len, MAX_FRAME, error, sizeof error), 0,
                           "%s cut to %zu of %zu bytes decoded", ocf_wire_type_name (samples[s].type), len, buf.len);
        }
        uint8_t *longer = malloc (buf.len + 1);
        memcpy (longer, buf.data, buf.len);
        longer[buf.len] = 0;
        cr_assert_neq (ocf_wire_decode (&got, longer, buf.len + 1, MAX_FRAME, error, sizeof error), 0,
                       "%s with a byte too many decoded", ocf_wire_type_name (samples[s].type));
        free (longer);
        ocf_wire_buf_free (&buf);
    }
}

Test (gossip_wire, hostile_frames_are_refused_with_a_reason)
{
    ocf_wire_msg_t got;
    char error[256];
    uint8_t version[] = { 2, OCF_WIRE_PING, 1 };
    cr_assert_neq (ocf_wire_decode (&got, version, sizeof version, MAX_FRAME, error, sizeof error), 0);
    cr_assert (strstr (error, "version 2"), "%s", error);
    uint8_t type[] = { 1, 99 };
    cr_assert_neq (ocf_wire_decode (&got, type, sizeof type, MAX_FRAME, error, sizeof error), 0);
    cr_assert (strstr (error, "unknown message type"), "%s", error);
    //  A count of 2^60 keys in a 12-byte frame: refused before anything is allocated.
    uint8_t count[] = { 1, OCF_WIRE_IHAVE, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 0 };
    cr_assert_neq (ocf_wire_decode (&got, count, sizeof count, MAX_FRAME, error, sizeof error), 0);
    cr_assert (strstr (error, "cannot fit"), "%s", error);
    uint8_t overlong[] = { 1, OCF_WIRE_PING, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 };
    cr_assert_neq (ocf_wire_decode (&got, overlong, sizeof overlong, MAX_FRAME, error, sizeof error), 0);
    //  A frame above the limit is refused whatever it holds.
    cr_assert_neq (ocf_wire_decode (&got, version, sizeof version, 2, error, sizeof error), 0);
    cr_assert (strstr (error, "exceeds"), "%s", error);
    //  An id that is not base32.
    uint8_t bad_id[3 + OCF_NODE_ID_LEN] = { 1, OCF_WIRE_PING_REQ, 5 };
    memset (bad_id + 3, '/', OCF_NODE_ID_LEN);
    cr_assert_neq (ocf_wire_decode (&got, bad_id, sizeof bad_id, MAX_FRAME, error, sizeof error), 0);
    cr_assert (strstr (error, "not a node id"), "%s", error);
}

Test (gossip_wire, a_decompression_bomb_is_refused)
{
    //  A chunk whose items inflate far beyond what a frame of this size may declare.
    size_t raw_size = 64u << 20;
    uint8_t *zeros = calloc (1, raw_size);
    ocf_item_t item = { .kind = OCF_ITEM_ROW, .data = zeros, .size = (uint32_t) (raw_size - 64) };
    strcpy (item.id, s_ids[0]);
    ocf_wire_msg_t chunk = { .type = OCF_WIRE_SNAP_CHUNK, .items = &item, .item_count = 1 };
    ocf_wire_buf_t buf = { .max = MAX_FRAME };
    cr_assert_eq (ocf_wire_encode (&chunk, &buf), 0);
    cr_assert_lt (buf.len, MAX_FRAME / 4, "64 MiB of zeros deflate to %zu bytes", buf.len);
    ocf_wire_msg_t got;
    char error[256];
    cr_assert_neq (ocf_wire_decode (&got, buf.data, buf.len, MAX_FRAME / 8, error, sizeof error), 0);
    cr_assert (strstr (error, "inflated bytes"), "%s", error);
    ocf_wire_buf_free (&buf);
    free (zeros);
}

Test (gossip_wire, a_leave_carries_its_signature_and_nothing_else_fits)
{
    ocf_wire_tombstone_t leave = { 9, OCF_REASON_LEFT, 1795000000123 }, got;
    uint8_t sig[OCF_SIGNATURE_BYTES], back[OCF_SIGNATURE_BYTES], payload[OCF_WIRE_PAYLOAD_MAX];
    for (size_t i = 0; i < sizeof sig; i++)
        sig[i] = (uint8_t) (i * 3 + 1);
    size_t size = ocf_wire_tombstone_encode_signed (&leave, sig, payload);
    bool has_sig = false;
    cr_assert_eq (ocf_wire_tombstone_decode_signed (payload, size, &got, &has_sig, back), 0);
    cr_assert (has_sig);
    cr_assert_eq (memcmp (sig, back, sizeof sig), 0);
    cr_assert (got.generation == 9 && got.reason == OCF_REASON_LEFT && got.declared_at == 1795000000123);
    //  Unsigned (a reap), it decodes as such; a cut or lengthened signature does not decode.
    size_t bare = ocf_wire_tombstone_encode_signed (&leave, NULL, payload);
    cr_assert_eq (ocf_wire_tombstone_decode_signed (payload, bare, &got, &has_sig, back), 0);
    cr_assert_not (has_sig);
    ocf_wire_tombstone_encode_signed (&leave, sig, payload);
    cr_assert_neq (ocf_wire_tombstone_decode_signed (payload, size - 1, &got, &has_sig, back), 0);
    payload[size] = 0;
    cr_assert_neq (ocf_wire_tombstone_decode_signed (payload, size + 1, &got, &has_sig, back), 0);
}

Test (gossip_wire, item_keys_tell_contents_apart_and_verdicts_by_state)
{
    ocf_item_t a = { .kind = OCF_ITEM_ROW, .data = (const uint8_t *) "{\"v\":1}", .size = 7 };
    ocf_item_t b = a;
    strcpy (a.id, s_ids[0]);
    strcpy (b.id, s_ids[0]);
    cr_assert_eq (ocf_wire_item_key (&a), ocf_wire_item_key (&b));
    b.data = (const uint8_t *) "{\"v\":2}";
    cr_assert_neq (ocf_wire_item_key (&a), ocf_wire_item_key (&b));
    b = a;
    strcpy (b.id, s_ids[1]);
    cr_assert_neq (ocf_wire_item_key (&a), ocf_wire_item_key (&b));
    b = a;
    b.kind = OCF_ITEM_MEMBER;
    cr_assert_neq (ocf_wire_item_key (&a), ocf_wire_item_key (&b));
    //  A membership is keyed by its state: two observers' verdicts of it are one rumour.
    uint8_t payloads[3][OCF_WIRE_PAYLOAD_MAX];
    ocf_wire_member_t verdicts[3] = { { 7, 2, OCF_STATUS_SUSPECT, { 0 } }, { 7, 2, OCF_STATUS_SUSPECT, { 0 } },
                                      { 7, 2, OCF_STATUS_DEAD, { 0 } } };
    strcpy (verdicts[0].accuser, s_ids[1]);
    strcpy (verdicts[1].accuser, s_ids[2]);
    strcpy (verdicts[2].accuser, s_ids[1]);
    ocf_item_t items[3];
    for (int i = 0; i < 3; i++) {
        items[i] = (ocf_item_t) { .kind = OCF_ITEM_MEMBER, .data = payloads[i],
                                  .size = (uint32_t) ocf_wire_member_encode (&verdicts[i], payloads[i]) };
        strcpy (items[i].id, s_ids[0]);
    }
    cr_assert_neq (items[0].size, 0);
    cr_assert (memcmp (payloads[0], payloads[1], items[0].size) != 0, "the accusers differ on the wire");
    cr_assert_eq (ocf_wire_item_key (&items[0]), ocf_wire_item_key (&items[1]));
    cr_assert_neq (ocf_wire_item_key (&items[0]), ocf_wire_item_key (&items[2]));
}

//  --------------------------------------------------------------------------

Test (gossip_phi, grows_with_silence_and_crosses_at_the_deadline)
{
    ocf_phi_t phi;
    ocf_phi_init (&phi, 1000);
    ocf_phi_params_t params = { 100, 500, 1 };
    cr_assert_eq (ocf_phi_value (&phi, 5000, &params), 0, "phi before any heartbeat");
    for (int i = 0; i <= 20; i++)
        ocf_phi_heartbeat (&phi, 1000 * i + (i % 3) * 20);
    int64_t last = phi.last;
    double previous = -1;
    for (int64_t gap = 0; gap <= 4000; gap += 100) {
        double value = ocf_phi_value (&phi, last + gap, &params);
        cr_assert_geq (value, previous, "phi fell from %f to %f as silence grew", previous, value);
        previous = value;
    }
    int64_t deadline = ocf_phi_deadline (&phi, 8, &params);
    cr_assert_lt (ocf_phi_value (&phi, last + deadline - 5, &params), 8);
    cr_assert_geq (ocf_phi_value (&phi, last + deadline + 5, &params), 8);
    //  About mean + pause + 5.2 sigma for threshold 8.
    cr_assert (deadline > 1500 && deadline < 2300, "deadline %lld ms", (long long) deadline);
    //  Local health stretches it.
    ocf_phi_params_t slow = { 100, 500, 3 };
    cr_assert_gt (ocf_phi_deadline (&phi, 8, &slow), 2 * deadline);
    //  Time this process did not run is not held against the node.
    ocf_phi_forgive (&phi, 10000);
    cr_assert_lt (ocf_phi_value (&phi, last + 10000, &params), 1);
}

Test (gossip_phi, adapts_to_jitter)
{
    ocf_phi_t steady, jittery;
    ocf_phi_init (&steady, 1000);
    ocf_phi_init (&jittery, 1000);
    int64_t t1 = 0, t2 = 0;
    for (int i = 0; i < 100; i++) {
        ocf_phi_heartbeat (&steady, t1 += 1000);
        ocf_phi_heartbeat (&jittery, t2 += 700 + (i % 2) * 600);
    }
    ocf_phi_params_t params = { 10, 0, 1 };
    cr_assert_gt (ocf_phi_deadline (&jittery, 8, &params), ocf_phi_deadline (&steady, 8, &params));
}

//  --------------------------------------------------------------------------

static ocf_item_t
s_item (unsigned n, uint8_t *storage, size_t size)
{
    ocf_item_t item = { .kind = OCF_ITEM_ROW, .data = storage, .size = (uint32_t) size };
    memset (storage, (int) n, size);
    snprintf (item.id, sizeof item.id, "%040u", n);
    return item;
}

Test (gossip_recent, finds_evicts_and_expires_like_a_model)
{
    //  Random adds and expiries against a plain array of what must be there.
    ocf_recent_t *recent = ocf_recent_new (64, 4096, 1000);
    struct { uint64_t key; int64_t at; size_t size; } model[2000];
    size_t head = 0, tail = 0, bytes = 0;
    uint8_t storage[200];
    uint64_t state = 1;
    int64_t now = 0;
    for (unsigned n = 0; n < 2000; n++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        now += (int64_t) (state >> 60);                    //  0-15 ms
        size_t size = 1 + (size_t) ((state >> 32) % 150);
        ocf_item_t item = s_item (n, storage, size);
        uint64_t key = ocf_wire_item_key (&item);
        ocf_recent_expire (recent, now);
        while (head < tail && model[head].at + 1000 <= now)
            bytes -= model[head++].size;
        while (head < tail && (tail - head == 64 || bytes + size > 4096))
            bytes -= model[head++].size;
        ocf_recent_add (recent, key, &item, now, 3);
        model[tail].key = key;
        model[tail].at = now;
        model[tail++].size = size;
        bytes += size;
        cr_assert_eq (ocf_recent_size (recent), tail - head);
        cr_assert_eq (ocf_recent_bytes (recent), bytes);
        for (size_t m = head; m < tail; m++)
            cr_assert (ocf_recent_find (recent, model[m].key), "rumour %zu lost", m);
        if (head > 0)
            cr_assert_null (ocf_recent_find (recent, model[head - 1].key), "an evicted rumour is still found");
    }
    ocf_recent_destroy (&recent);
}

Test (gossip_recent, adverts_are_counted_down)
{
    ocf_recent_t *recent = ocf_recent_new (16, 1 << 20, 60000);
    uint8_t storage[8];
    ocf_item_t first = s_item (1, storage, 8);
    ocf_recent_add (recent, 11, &first, 0, 4);
    ocf_item_t second = s_item (2, storage, 8);
    ocf_rumour_t *rumour = ocf_recent_add (recent, 22, &second, 0, 2);
    cr_assert_eq (memcmp (rumour->item.data, storage, 8), 0, "the store keeps its own copy");
    uint64_t keys[8];
    uint32_t sends = 3;
    cr_assert_eq (ocf_recent_take_adverts (recent, keys, 8, &sends), 2);
    cr_assert_eq (keys[0], 22, "newest first");
    cr_assert_eq (sends, 3);
    sends = 3;
    cr_assert_eq (ocf_recent_take_adverts (recent, keys, 8, &sends), 1);
    cr_assert_eq (keys[0], 11);
    cr_assert_eq (sends, 1, "no more sends than the last key still owes");
    sends = 3;
    cr_assert_eq (ocf_recent_take_adverts (recent, keys, 8, &sends), 0);
    ocf_recent_destroy (&recent);
}

//  --------------------------------------------------------------------------

Test (gossip_recent, catch_up_gives_the_marked_rumours_since_a_time)
{
    ocf_recent_t *recent = ocf_recent_new (16, 1 << 20, 60000);
    uint8_t storage[8];
    for (unsigned i = 1; i <= 5; i++) {
        ocf_item_t item = s_item (i, storage, 8);
        ocf_rumour_t *rumour = ocf_recent_add (recent, i, &item, 1000 * i, 0);
        rumour->catch_up = i != 4;
    }
    const ocf_rumour_t *found[8];
    cr_assert_eq (ocf_recent_catch_up (recent, 2000, found, 8), 3, "seen at 2000 or later, marked: 5, 3, 2");
    cr_assert (found[0]->key == 5 && found[1]->key == 3 && found[2]->key == 2, "newest first");
    cr_assert_eq (ocf_recent_catch_up (recent, 2000, found, 2), 2, "at most max");
    cr_assert_eq (ocf_recent_catch_up (recent, 6000, found, 8), 0);
    ocf_recent_destroy (&recent);
}

Test (gossip_rtt, least_of_recent_samples_and_reports_changes_beyond_the_threshold)
{
    ocf_rtt_t *rtt = ocf_rtt_new ();
    ocf_rtt_report_t reports[4];
    cr_assert_eq (ocf_rtt_get (rtt, "p1"), -1);
    cr_assert_eq (ocf_rtt_sampled_at (rtt, "p1"), INT64_MIN);
    //  Only the ping in flight is answered: another nonce or peer is a probe's ACK.
    ocf_rtt_sent (rtt, "p1", 7, 1000);
    cr_assert_not (ocf_rtt_answered (rtt, "p1", 8, 1010));
    cr_assert_not (ocf_rtt_answered (rtt, "p2", 7, 1010));
    cr_assert (ocf_rtt_answered (rtt, "p1", 7, 1040));
    cr_assert_not (ocf_rtt_answered (rtt, "p1", 7, 1041), "answered once");
    cr_assert_float_eq (ocf_rtt_get (rtt, "p1"), 40, 1e-9);
    cr_assert_eq (ocf_rtt_sampled_at (rtt, "p1"), 1040);
    cr_assert_eq (ocf_rtt_report (rtt, reports, 4), 1);
    cr_assert_str_eq (reports[0].id, "p1");
    cr_assert_float_eq (reports[0].rtt_ms, 40, 1e-9);
    //  Samples stretched by waits for a CPU (63, 90 ms) do not move it: the least is 40.
    uint32_t nonce = 9;
    int64_t now = 2000;
    const int stretched[] = { 63, 90, 41, 55 };
    for (size_t index = 0; index < 4; index++, nonce++, now += 1000) {
        ocf_rtt_sent (rtt, "p1", nonce, now);
        cr_assert (ocf_rtt_answered (rtt, "p1", nonce, now + stretched[index]));
    }
    cr_assert_float_eq (ocf_rtt_get (rtt, "p1"), 40, 1e-9);
    cr_assert_eq (ocf_rtt_report (rtt, reports, 4), 0);
    //  A path that became slower shows once a window of samples saw it: the fifth at 92 ms
    //  leaves 41 the least, and so on until every sample is the new path's.
    for (int index = 0; index < 5; index++, nonce++, now += 1000) {
        ocf_rtt_sent (rtt, "p1", nonce, now);
        cr_assert (ocf_rtt_answered (rtt, "p1", nonce, now + 92 + index));
    }
    cr_assert_float_eq (ocf_rtt_get (rtt, "p1"), 92, 1e-9);
    cr_assert_eq (ocf_rtt_report (rtt, reports, 4), 1);
    cr_assert_float_eq (reports[0].rtt_ms, 92, 1e-9);
    //  A faster one at its first sample.
    ocf_rtt_sent (rtt, "p1", nonce, now);
    cr_assert (ocf_rtt_answered (rtt, "p1", nonce, now + 12));
    cr_assert_float_eq (ocf_rtt_get (rtt, "p1"), 12, 1e-9);
    cr_assert_eq (ocf_rtt_report (rtt, reports, 4), 1);
    //  Below 1 ms the threshold is 1 ms, not 10 %: LAN jitter at a millisecond clock stays quiet.
    ocf_rtt_sent (rtt, "p2", 1, 0);
    cr_assert (ocf_rtt_answered (rtt, "p2", 1, 0));
    cr_assert_eq (ocf_rtt_report (rtt, reports, 4), 1);
    ocf_rtt_sent (rtt, "p2", 2, 0);
    cr_assert (ocf_rtt_answered (rtt, "p2", 2, 1));
    cr_assert_eq (ocf_rtt_report (rtt, reports, 4), 0);
    ocf_rtt_forget (rtt, "p2");
    cr_assert_eq (ocf_rtt_get (rtt, "p2"), -1);
    cr_assert_eq (ocf_rtt_size (rtt), 1);
    ocf_rtt_destroy (&rtt);
}

Test (gossip_members, keeps_the_ring_sorted_and_counts_the_live)
{
    ocf_members_t *view = ocf_members_new ();
    cr_assert_eq (ocf_members_set (view, s_ids[3], 1, 0, OCF_STATUS_ALIVE, "tcp://a:1"), OCF_MEMBERS_ADDED | OCF_MEMBERS_STATUS | OCF_MEMBERS_ENDPOINT);
    ocf_members_set (view, s_ids[0], 1, 0, OCF_STATUS_ALIVE, NULL);
    ocf_members_set (view, s_ids[2], 1, 0, OCF_STATUS_DEAD, NULL);
    ocf_members_set (view, s_ids[1], 1, 0, OCF_STATUS_SUSPECT, NULL);
    cr_assert_eq (ocf_members_size (view), 4);
    cr_assert_eq (ocf_members_live (view), 3);
    for (size_t i = 1; i < 4; i++)
        cr_assert_lt (strcmp (ocf_members_at (view, i - 1)->id, ocf_members_at (view, i)->id), 0);
    cr_assert_eq (ocf_members_set (view, s_ids[3], 1, 0, OCF_STATUS_ALIVE, NULL), 0, "no change, endpoint kept");
    cr_assert_str_eq (ocf_members_get (view, s_ids[3])->endpoint, "tcp://a:1");
    cr_assert_eq (ocf_members_set (view, s_ids[3], 1, 1, OCF_STATUS_DEAD, NULL), OCF_MEMBERS_STATUS);
    cr_assert_eq (ocf_members_live (view), 2);
    ocf_members_t *copy = ocf_members_dup (view);
    cr_assert (ocf_members_remove (view, s_ids[0]));
    cr_assert_not (ocf_members_remove (view, s_ids[0]));
    cr_assert_eq (ocf_members_live (view), 1);
    cr_assert_eq (ocf_members_size (copy), 4, "the copy is independent");
    cr_assert_str_eq (ocf_members_get (copy, s_ids[3])->endpoint, "tcp://a:1");
    cr_assert_eq (ocf_members_lower_bound (copy, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaar"), 1);
    ocf_members_destroy (&copy);
    ocf_members_destroy (&view);
}

Test (gossip_outbox, holds_copies_by_peer_and_range_in_order_within_its_bounds)
{
    uint8_t storage[3][40];
    ocf_item_t items[3];
    for (unsigned i = 0; i < 3; i++)
        items[i] = s_item (i + 1, storage[i], sizeof storage[i]);
    ocf_outbox_t *outbox = ocf_outbox_new (2, 130);
    cr_assert (ocf_outbox_add (outbox, s_ids[1], s_ids[2], &items[0], 1));
    cr_assert (ocf_outbox_add (outbox, s_ids[1], NULL, &items[1], 1), "no range is another batch");
    cr_assert (ocf_outbox_add (outbox, s_ids[1], s_ids[2], &items[1], 1), "the same peer and range: the same batch");
    cr_assert_not (ocf_outbox_add (outbox, s_ids[1], s_ids[3], &items[2], 1), "a third batch passes the bound");
    cr_assert_not (ocf_outbox_add (outbox, s_ids[1], NULL, &items[2], 1), "so do 160 bytes");
    memset (storage, 0, sizeof storage);
    cr_assert_eq (ocf_outbox_batches (outbox), 2);
    const ocf_outbox_batch_t *ranged = ocf_outbox_batch (outbox, 0), *kept = ocf_outbox_batch (outbox, 1);
    cr_assert (ranged->ranged);
    cr_assert_str_eq (ranged->peer, s_ids[1]);
    cr_assert_str_eq (ranged->range_end, s_ids[2]);
    cr_assert_eq (ranged->count, 2);
    cr_assert_not (kept->ranged);
    cr_assert_eq (kept->count, 1);
    for (unsigned i = 0; i < 2; i++) {
        cr_assert_str_eq (ranged->items[i].id, items[i].id, "in the order added");
        cr_assert_eq (ranged->items[i].data[0], i + 1, "copies: the caller's storage was cleared");
    }
    cr_assert_null (ocf_outbox_batch (outbox, 2));
    ocf_outbox_clear (outbox);
    cr_assert_eq (ocf_outbox_batches (outbox), 0);
    cr_assert (ocf_outbox_add (outbox, s_ids[3], NULL, &items[2], 1), "cleared: room again");
    ocf_outbox_destroy (&outbox);
    cr_assert_null (outbox);
    //  A large burst, then an ordinary one: the batch gives its extra room back and is used again.
    for (unsigned i = 0; i < 3; i++)
        items[i] = s_item (i + 1, storage[i], sizeof storage[i]);
    outbox = ocf_outbox_new (2, 1 << 20);
    for (int round = 0; round < 2; round++) {
        size_t burst = round == 0 ? 500 : 3;
        for (size_t i = 0; i < burst; i++)
            cr_assert (ocf_outbox_add (outbox, s_ids[1], NULL, &items[i % 3], 1));
        cr_assert_eq (ocf_outbox_batch (outbox, 0)->count, burst);
        cr_assert_eq (ocf_outbox_batch (outbox, 0)->items[burst - 1].data[0], (burst - 1) % 3 + 1);
        ocf_outbox_clear (outbox);
    }
    ocf_outbox_destroy (&outbox);
}

//  What a core sends, decoded: the messages of one type to each of up to four peers, and
//  their items.
typedef struct {
    int type;
    const char *peers[4];
    size_t messages[4];
    size_t items[4];
} sent_t;

//  A message a core sent, decoded (the caller clears it).
static ocf_wire_msg_t
s_decode_sent (const uint8_t *data, size_t size)
{
    ocf_wire_msg_t msg;
    char error[256];
    cr_assert_eq (ocf_wire_decode (&msg, data, size, MAX_FRAME, error, sizeof error), 0, "%s", error);
    return msg;
}

static void
s_count_sent (void *arg, const char *peer, const uint8_t *data, size_t size)
{
    sent_t *sent = arg;
    ocf_wire_msg_t msg = s_decode_sent (data, size);
    for (int i = 0; i < 4; i++)
        if ((int) msg.type == sent->type && sent->peers[i] && strcmp (peer, sent->peers[i]) == 0) {
            sent->messages[i]++;
            sent->items[i] += msg.item_count;
        }
    ocf_wire_clear (&msg);
}

static void
s_merge_nothing (void *arg, const char *from, const ocf_item_t *items, size_t count)
{
}

static void
s_query_nothing (void *arg, uint64_t token, const ocf_query_t *query)
{
}

//  A core with the default config as id on view, what it sends handed to send (with arg);
//  its config into config for the test's timings.
static ocf_gossip_t *
s_core_sending (const char *id, ocf_members_t *view, void (*send) (void *, const char *, const uint8_t *, size_t),
                void *arg, ocf_gossip_config_t *config, int64_t now)
{
    ocf_gossip_env_t env = { .arg = arg, .send = send, .merge = s_merge_nothing, .query = s_query_nothing };
    ocf_gossip_config_defaults (config);
    config->max_frame = MAX_FRAME;
    return ocf_gossip_new (id, config, view, &env, 1, now);
}

//  The same, what it sends counted into sent.
static ocf_gossip_t *
s_core_new (const char *id, ocf_members_t *view, sent_t *sent, ocf_gossip_config_t *config, int64_t now)
{
    return s_core_sending (id, view, s_count_sent, sent, config, now);
}

//  The first count of s_ids, alive.
static ocf_members_t *
s_first_ids (int count)
{
    ocf_members_t *view = ocf_members_new ();
    for (int i = 0; i < count; i++)
        ocf_members_set (view, s_ids[i], 1, 0, OCF_STATUS_ALIVE, NULL);
    return view;
}

//  count members whose ids sort in index order ("aaaab...", "aaaac...", ...), alive but for
//  the one at dead (-1: none).
static ocf_members_t *
s_ring (char (*ids)[OCF_ID_SIZE], int count, int dead)
{
    ocf_members_t *view = ocf_members_new ();
    for (int i = 0; i < count; i++) {
        memset (ids[i], 'a', OCF_ID_SIZE - 1);
        ids[i][OCF_ID_SIZE - 1] = '\0';
        ids[i][4] = (char) ('b' + i);
        ocf_members_set (view, ids[i], 1, 0, i == dead ? OCF_STATUS_DEAD : OCF_STATUS_ALIVE, NULL);
    }
    return view;
}

//  When a core's probes began (the first PING of each nonce, per peer) and how long each
//  peer it suspected had been probed by then.
#define PROBED_MAX 16
typedef struct {
    const int64_t *now;
    char peers[PROBED_MAX][OCF_ID_SIZE];
    uint32_t nonces[PROBED_MAX];
    int64_t began[PROBED_MAX];
    size_t count;
    size_t suspected;
    int64_t shortest_wait, longest_wait;
} probed_t;

static size_t
s_probed_find (probed_t *probed, const char *peer)
{
    size_t i = 0;
    while (i < probed->count && strcmp (probed->peers[i], peer) != 0)
        i++;
    if (i == probed->count) {
        cr_assert_lt (probed->count, PROBED_MAX);
        snprintf (probed->peers[probed->count++], OCF_ID_SIZE, "%s", peer);
    }
    return i;
}

static void
s_note_probes (void *arg, const char *peer, const uint8_t *data, size_t size)
{
    probed_t *probed = arg;
    ocf_wire_msg_t msg = s_decode_sent (data, size);
    size_t i = s_probed_find (probed, peer);
    if (msg.type == OCF_WIRE_PING && msg.nonce != probed->nonces[i]) {
        probed->nonces[i] = msg.nonce;
        probed->began[i] = *probed->now;
    }
    ocf_wire_clear (&msg);
}

static void
s_note_suspicions (void *arg, const char *from, const ocf_item_t *items, size_t count)
{
    probed_t *probed = arg;
    for (size_t n = 0; n < count; n++) {
        ocf_wire_member_t member;
        if (from || items[n].kind != OCF_ITEM_MEMBER || ocf_wire_member_decode (items[n].data, items[n].size, &member) != 0
        ||  member.status != OCF_STATUS_SUSPECT)
            continue;
        int64_t waited = *probed->now - probed->began[s_probed_find (probed, items[n].id)];
        if (!probed->suspected || waited < probed->shortest_wait)
            probed->shortest_wait = waited;
        if (!probed->suspected || waited > probed->longest_wait)
            probed->longest_wait = waited;
        probed->suspected++;
    }
}

//  Nobody of a ring of ten answers this node: it sweeps it. late_ms: one tick comes that
//  much late right after the sweep began (0: every tick on time). Returns what it probed
//  and suspected, and how many probes it extended.
static probed_t
s_sweep_unanswered (int64_t late_ms, uint64_t *extended, ocf_gossip_config_t *config)
{
    enum { MEMBERS = 10, SELF = 8 };
    char ids[MEMBERS][OCF_ID_SIZE];
    ocf_members_t *view = s_ring (ids, MEMBERS, -1);
    int64_t now = 1000;
    probed_t probed = { .now = &now };
    ocf_gossip_env_t env = { .arg = &probed, .send = s_note_probes, .merge = s_note_suspicions, .query = s_query_nothing };
    ocf_gossip_config_defaults (config);
    config->max_frame = MAX_FRAME;
    config->rtt_interval_ms = 0;                //  its pings are no probes
    ocf_gossip_t *core = ocf_gossip_new (ids[SELF], config, view, &env, 1, now);
    while (ocf_gossip_stats (core)->probe_failures == 0 && now < 20000)
        ocf_gossip_tick (core, now += config->tick_ms);
    cr_assert_gt (ocf_gossip_stats (core)->probe_failures, 0, "no probe failed");
    ocf_gossip_tick (core, now += config->tick_ms + late_ms);
    int64_t until = now + 5 * config->heartbeat_interval_ms;
    while (now < until)
        ocf_gossip_tick (core, now += config->tick_ms);
    *extended = ocf_gossip_stats (core)->probes_extended;
    ocf_gossip_destroy (&core);
    ocf_members_destroy (&view);
    return probed;
}

//  A member a sweep probes while others fail gets a second timeout when this host ran late
//  meanwhile (a tick came more than a tick late: on a saturated machine the members of
//  this side answer late too), and only then: on time, every probe waits probe_timeout.
Test (gossip_core, a_swept_member_gets_a_second_timeout_when_this_host_ran_late)
{
    ocf_gossip_config_t config;
    uint64_t extended;
    probed_t on_time = s_sweep_unanswered (0, &extended, &config);
    int64_t timeout = config.probe_timeout_ms;
    cr_assert_gt (on_time.suspected, 3, "the sweep went beyond the watched members");
    cr_assert_eq (extended, 0, "%llu probes extended on time", (unsigned long long) extended);
    cr_assert (on_time.shortest_wait >= timeout && on_time.longest_wait <= timeout + config.tick_ms,
               "on time: suspected %lld-%lld ms after the probe began", (long long) on_time.shortest_wait,
               (long long) on_time.longest_wait);
    probed_t late = s_sweep_unanswered (3 * config.tick_ms, &extended, &config);
    cr_assert_gt (extended, 0, "no probe extended after a late tick");
    cr_assert_geq (late.longest_wait, 2 * timeout, "after a late tick: suspected at most %lld ms after the probe began",
                   (long long) late.longest_wait);
    cr_assert_leq (late.longest_wait, 2 * timeout + 4 * config.tick_ms);
}

Test (gossip_core, a_burst_of_rumours_goes_on_in_one_message_per_child)
{
    ocf_members_t *view = s_first_ids (4);
    sent_t sent = { OCF_WIRE_RUMOUR, { s_ids[0], s_ids[1], s_ids[2], s_ids[3] }, { 0 }, { 0 } };
    ocf_gossip_config_t config;
    ocf_gossip_t *core = s_core_new (s_ids[0], view, &sent, &config, 1000);
    //  Two rumours from two peers, each to be spread over the whole ring from this node:
    //  its fingers are s_ids[1] (range up to s_ids[2]) and s_ids[2] (the rest of the ring).
    uint8_t storage[2][40];
    for (unsigned i = 0; i < 2; i++) {
        ocf_item_t item = s_item (i + 1, storage[i], sizeof storage[i]);
        memcpy (item.id, s_ids[3], OCF_ID_SIZE);
        ocf_wire_msg_t rumour = { .type = OCF_WIRE_RUMOUR, .flags = OCF_WIRE_RANGE, .items = &item, .item_count = 1 };
        memcpy (rumour.target, s_ids[0], OCF_ID_SIZE);
        ocf_wire_buf_t buf = s_encode (&rumour);
        cr_assert_eq (ocf_gossip_receive (core, 1000, s_ids[i + 1], buf.data, buf.len), 0);
        ocf_wire_buf_free (&buf);
    }
    cr_assert_eq (sent.messages[1] + sent.messages[2] + sent.messages[3], 0, "held until the burst is handled");
    ocf_gossip_flush (core);
    for (int i = 1; i <= 2; i++) {
        cr_assert_eq (sent.messages[i], 1, "finger %d: one message", i);
        cr_assert_eq (sent.items[i], 2, "finger %d: both rumours", i);
    }
    cr_assert_eq (sent.messages[3], 0, "s_ids[3] is s_ids[2]'s to reach");
    ocf_gossip_flush (core);
    cr_assert_eq (sent.messages[1] + sent.messages[2], 2, "sent once");
    ocf_gossip_destroy (&core);
    ocf_members_destroy (&view);
}

//  IHAVEs a core sent: to whom (peers[0]: counted apart), how many, how many keys in all.
typedef struct {
    const char *peer;
    size_t to_peer, to_peer_keys, all;
} ihaves_t;

static void
s_count_ihaves (void *arg, const char *peer, const uint8_t *data, size_t size)
{
    ihaves_t *ihaves = arg;
    ocf_wire_msg_t msg = s_decode_sent (data, size);
    if (msg.type == OCF_WIRE_IHAVE) {
        ihaves->all++;
        if (ihaves->peer && strcmp (peer, ihaves->peer) == 0) {
            ihaves->to_peer++;
            ihaves->to_peer_keys += msg.key_count;
        }
    }
    ocf_wire_clear (&msg);
}

//  Receives a leaf RUMOUR carrying a verdict of status about id from peer.
static void
s_receive_verdict (ocf_gossip_t *core, int64_t now, const char *peer, const char *id, ocf_status_t status)
{
    ocf_wire_member_t verdict = { 1, 0, status, { 0 } };
    memcpy (verdict.accuser, peer, OCF_ID_SIZE);
    uint8_t payload[64];
    ocf_item_t item = { .kind = OCF_ITEM_MEMBER, .data = payload, .size = (uint32_t) ocf_wire_member_encode (&verdict, payload) };
    memcpy (item.id, id, OCF_ID_SIZE);
    ocf_wire_msg_t rumour = { .type = OCF_WIRE_RUMOUR, .items = &item, .item_count = 1 };
    ocf_wire_buf_t buf = s_encode (&rumour);
    cr_assert_eq (ocf_gossip_receive (core, now, peer, buf.data, buf.len), 0);
    ocf_wire_buf_free (&buf);
}

static void
s_hear_from (ocf_gossip_t *core, int64_t now, const char *peer)
{
    ocf_wire_msg_t ack = { .type = OCF_WIRE_ACK, .nonce = 1 };
    ocf_wire_buf_t buf = s_encode (&ack);
    cr_assert_eq (ocf_gossip_receive (core, now, peer, buf.data, buf.len), 0);
    ocf_wire_buf_free (&buf);
}

//  In a split every far node is suspected at once: its suspicion goes down the tree and
//  straight to those who need it, and is not advertised; its death is.
Test (gossip_core, a_suspicion_is_not_advertised_a_death_is)
{
    ocf_members_t *view = s_first_ids (4);
    ihaves_t ihaves = { 0 };
    ocf_gossip_config_t config;
    int64_t now = 1000;
    ocf_gossip_t *core = s_core_sending (s_ids[0], view, s_count_ihaves, &ihaves, &config, now);
    s_receive_verdict (core, now, s_ids[1], s_ids[3], OCF_STATUS_SUSPECT);
    for (int round = 0; round < 10; round++)
        ocf_gossip_tick (core, now += config.gossip_interval_ms);
    cr_assert_eq (ihaves.all, 0, "a suspicion was advertised in %zu IHAVE(s)", ihaves.all);
    s_receive_verdict (core, now, s_ids[1], s_ids[3], OCF_STATUS_DEAD);
    for (int round = 0; round < 10; round++)
        ocf_gossip_tick (core, now += config.gossip_interval_ms);
    cr_assert_gt (ihaves.all, 0, "a death was not advertised");
    ocf_gossip_destroy (&core);
    ocf_members_destroy (&view);
}

//  Ticks rounds gossip rounds, the members that this node watches (the three before it on
//  the ring) heartbeating every second, so that nobody is suspected.
static void
s_rounds (ocf_gossip_t *core, int64_t *now, int rounds, const ocf_gossip_config_t *config, const char (*watched)[OCF_ID_SIZE])
{
    for (int round = 0; round < rounds; round++) {
        *now += config->gossip_interval_ms;
        if (*now % config->heartbeat_interval_ms < config->gossip_interval_ms)
            for (int i = 0; i < 3; i++) {
                ocf_wire_msg_t heartbeat = { .type = OCF_WIRE_HEARTBEAT, .generation = 1 };
                ocf_wire_buf_t buf = s_encode (&heartbeat);
                cr_assert_eq (ocf_gossip_receive (core, *now, watched[i], buf.data, buf.len), 0);
                ocf_wire_buf_free (&buf);
            }
        ocf_gossip_tick (core, *now);
    }
}

//  A member of this side that nobody reached while a split's first deaths were advertised
//  is offered them when it reaches us, as long as several deaths are recent.
Test (gossip_core, a_peer_that_reaches_us_after_a_silence_is_offered_the_recent_deaths)
{
    enum { MEMBERS = 10, SELF = 0, SENDER = 5, NEWCOMER = 6 };
    char ids[MEMBERS][OCF_ID_SIZE];
    ocf_members_t *view = s_ring (ids, MEMBERS, -1);
    ihaves_t ihaves = { .peer = ids[NEWCOMER] };
    ocf_gossip_config_t config;
    int64_t now = 1000;
    ocf_gossip_t *core = s_core_sending (ids[SELF], view, s_count_ihaves, &ihaves, &config, now);
    s_rounds (core, &now, 10, &config, &ids[7]);     //  the heartbeats are nothing new by then
    //  One death: a lone crash, whose tree is whole. The newcomer is offered nothing.
    s_receive_verdict (core, now, ids[SENDER], ids[1], OCF_STATUS_DEAD);
    s_hear_from (core, now, ids[NEWCOMER]);
    s_rounds (core, &now, 1, &config, &ids[7]);
    cr_assert_eq (ocf_gossip_stats (core)->catch_ups, 0, "a lone death was offered");
    //  Several, and their adverts have run their course; the newcomer falls silent.
    s_receive_verdict (core, now, ids[SENDER], ids[2], OCF_STATUS_DEAD);
    s_receive_verdict (core, now, ids[SENDER], ids[3], OCF_STATUS_DEAD);
    s_rounds (core, &now, 30, &config, &ids[7]);
    size_t before = ihaves.to_peer, keys_before = ihaves.to_peer_keys, all_before = ihaves.all;
    //  Heard from after that silence: offered all three deaths at the next round, alone.
    s_hear_from (core, now, ids[NEWCOMER]);
    s_rounds (core, &now, 1, &config, &ids[7]);
    cr_assert_eq (ocf_gossip_stats (core)->catch_ups, 1);
    cr_assert_eq (ihaves.to_peer - before, 1, "%zu IHAVE(s) to the peer that reached us", ihaves.to_peer - before);
    cr_assert_eq (ihaves.all - all_before, 1, "an IHAVE to somebody else");
    cr_assert_eq (ihaves.to_peer_keys - keys_before, 3, "offered %zu keys", ihaves.to_peer_keys - keys_before);
    //  Not again while it keeps in touch.
    s_hear_from (core, now, ids[NEWCOMER]);
    s_rounds (core, &now, 1, &config, &ids[7]);
    cr_assert_eq (ocf_gossip_stats (core)->catch_ups, 1, "offered again while it keeps in touch");
    //  Nor to a member whose own death is among them (a healed split's far side: its
    //  refutation brings it what it lacks).
    s_hear_from (core, now, ids[2]);
    s_rounds (core, &now, 1, &config, &ids[7]);
    cr_assert_eq (ocf_gossip_stats (core)->catch_ups, 1, "offered to a member declared dead");
    //  Past CATCH_UP_MS (10 s) the deaths are old news.
    s_rounds (core, &now, 50, &config, &ids[7]);
    s_hear_from (core, now, ids[NEWCOMER]);
    s_rounds (core, &now, 1, &config, &ids[7]);
    cr_assert_eq (ocf_gossip_stats (core)->catch_ups, 1, "offered deaths older than ten seconds");
    ocf_gossip_destroy (&core);
    ocf_members_destroy (&view);
}

//  A member that turns alive again (its refutation, a healed partition) while a sweep is
//  under way is watched on its heartbeats from then on, not pinged at once as the sweep's
//  silent members are: its refutation is as fresh a sign of life as an answer, and in a heal,
//  where everybody is swamped, those pings were answered late and made false suspects.
Test (gossip_core, a_member_back_alive_during_a_sweep_is_not_probed_at_once)
{
    enum { MEMBERS = 10, SELF = 8, RETURNING = 4 };
    char ids[MEMBERS][OCF_ID_SIZE];
    ocf_members_t *view = s_ring (ids, MEMBERS, RETURNING);
    sent_t pings = { OCF_WIRE_PING, { ids[RETURNING] }, { 0 }, { 0 } };
    ocf_gossip_config_t config;
    int64_t now = 1000;
    ocf_gossip_t *core = s_core_new (ids[SELF], view, &pings, &config, now);
    //  Nobody answers: the members this node watches fail, and it sweeps the ring before it.
    while (ocf_gossip_stats (core)->suspicions == 0 && now < 20000)
        ocf_gossip_tick (core, now += config.tick_ms);
    cr_assert_gt (ocf_gossip_stats (core)->suspicions, 0, "the silent members were never suspected");
    cr_assert_eq (pings.messages[0], 0, "a dead member is not probed");
    //  The dead member refutes, within the widened window.
    ocf_members_set (view, ids[RETURNING], 1, 1, OCF_STATUS_ALIVE, NULL);
    ocf_gossip_member_changed (core, now, ids[RETURNING]);
    int64_t back = now;
    while (now < back + config.heartbeat_interval_ms)
        ocf_gossip_tick (core, now += config.tick_ms);
    cr_assert_eq (pings.messages[0], 0, "pinged %zu time(s) within a heartbeat interval of its refutation", pings.messages[0]);
    //  Then, still silent, it is probed like any member whose heartbeats stopped.
    while (pings.messages[0] == 0 && now < back + 10 * config.heartbeat_interval_ms)
        ocf_gossip_tick (core, now += config.tick_ms);
    cr_assert_gt (pings.messages[0], 0, "never probed although silent");
    ocf_gossip_destroy (&core);
    ocf_members_destroy (&view);
}

//  The runner reads the sockets before a tick only while the core waits for an answer.
Test (gossip_core, awaits_answers_only_while_a_probe_or_suspicion_stands)
{
    ocf_members_t *view = s_first_ids (3);
    sent_t nothing = { 0 };
    ocf_gossip_config_t config;
    int64_t now = 1000;
    ocf_gossip_t *core = s_core_new (s_ids[0], view, &nothing, &config, now);
    cr_assert_not (ocf_gossip_awaits_answers (core), "nothing asked yet");
    //  Its two peers stay silent: probed, then suspected, then declared dead.
    while (ocf_gossip_stats (core)->probes == 0 && now < 20000)
        ocf_gossip_tick (core, now += config.tick_ms);
    cr_assert (ocf_gossip_awaits_answers (core), "a probe is out");
    while (ocf_gossip_stats (core)->deaths_declared < 2 && now < 60000) {
        ocf_gossip_tick (core, now += config.tick_ms);
        if (ocf_gossip_stats (core)->suspicions > ocf_gossip_stats (core)->deaths_declared)
            cr_assert (ocf_gossip_awaits_answers (core), "a suspicion stands");
    }
    cr_assert_eq (ocf_gossip_stats (core)->deaths_declared, 2);
    for (int i = 1; i < 3; i++)
        ocf_members_set (view, s_ids[i], 1, 0, OCF_STATUS_DEAD, NULL);
    ocf_gossip_tick (core, now += config.tick_ms);
    cr_assert_not (ocf_gossip_awaits_answers (core), "nobody left to wait for");
    ocf_gossip_destroy (&core);
    ocf_members_destroy (&view);
}

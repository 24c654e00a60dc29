/*  ocf_wire: the gossip protocol between hosts, as bytes.
    Owns the format of every message ocf-gossipd sends to another host: one ZeroMQ frame
    (CURVE-encrypted by the transport) holding a version byte, a type byte and the fields of
    that type. Variable parts are length-prefixed (LEB128 varints) and every count and length
    is checked against what the frame can actually hold before anything is allocated, so a
    hostile frame costs at most its own size. Snapshot chunks are deflate-compressed and
    inflated here with a declared, bounded size. Pure functions: no sockets, no globals.  */
#ifndef OCF_WIRE_H
#define OCF_WIRE_H

#include "ocf_record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OCF_WIRE_VERSION 1
#define OCF_WIRE_GROUPS 16               //  the 256 buckets in 16 groups of 16
#define OCF_WIRE_MAX_PEERS 8             //  alternatives named in a SNAP_BUSY
#define OCF_WIRE_ENDPOINT_MAX 255
#define OCF_WIRE_MAX_INFLATED (64u << 20) //  largest decompressed snapshot chunk

typedef enum {
    OCF_WIRE_HEARTBEAT = 1,      //  generation, root, flags (BYE)        to an observer
    OCF_WIRE_PING,               //  nonce                                direct probe
    OCF_WIRE_PING_REQ,           //  nonce, target                        indirect probe request
    OCF_WIRE_ACK,                //  nonce, flags (NACK, UNWATCHED)       answer to PING / PING_REQ
    OCF_WIRE_RUMOUR,             //  flags (RANGE), range end, items      dissemination
    OCF_WIRE_IHAVE,              //  keys of recent rumours               lazy repair
    OCF_WIRE_WANT,               //  keys wanted                          answered with a RUMOUR
    OCF_WIRE_AE_SYN,             //  nonce, root, entries                 anti-entropy probe
    OCF_WIRE_AE_GROUPS,          //  nonce, root, 16 group hashes
    OCF_WIRE_AE_BUCKETS,         //  nonce, group mask, 16 bucket hashes per set bit
    OCF_WIRE_AE_DIGESTS,         //  nonce, flags, buckets, digests
    OCF_WIRE_AE_DELTA,           //  nonce, flags (TRUNCATED), items, wanted ids
    OCF_WIRE_AE_ITEMS,           //  nonce, items
    OCF_WIRE_SNAP_REQ,           //  after (optional)                     snapshot page request
    OCF_WIRE_SNAP_CHUNK,         //  after, next, entries, root, compressed items
    OCF_WIRE_SNAP_BUSY,          //  peers to ask instead
    OCF_WIRE_TYPE_MAX = OCF_WIRE_SNAP_BUSY
} ocf_wire_type_t;

//  Flag bits (their meaning depends on the type).
enum {
    OCF_WIRE_BYE = 1,            //  HEARTBEAT: you are no longer one of my observers
    OCF_WIRE_NACK = 1,           //  ACK: the target did not answer the helper in time (or it had no relay free)
    OCF_WIRE_UNWATCHED = 2,      //  ACK: you are not one of my observers, stop watching me
    OCF_WIRE_RANGE = 1,          //  RUMOUR: forward to the ring interval (receiver, range end)
    OCF_WIRE_TRUNCATED = 1,      //  AE_DIGESTS, AE_DELTA: more differences than one message held
    OCF_WIRE_HAS_AFTER = 1,      //  SNAP_REQ, SNAP_CHUNK: "after" is set (else: from the start)
    OCF_WIRE_HAS_NEXT = 2        //  SNAP_CHUNK: "next" is set (else: the last page)
};

//  What one table entry contributes: an owner's row, a membership, or a tombstone.
typedef enum {
    OCF_ITEM_ROW = 1,            //  payload: the row as the table speaks it (JSON in the daemon)
    OCF_ITEM_MEMBER = 2,         //  payload: ocf_wire_member_t, binary
    OCF_ITEM_TOMBSTONE = 3       //  payload: ocf_wire_tombstone_t, binary
} ocf_item_kind_t;

typedef struct {
    uint8_t kind;                //  ocf_item_kind_t
    char id[OCF_ID_SIZE];        //  the node the item is about
    const uint8_t *data;         //  payload, not owned
    uint32_t size;
} ocf_item_t;

//  A membership item, with who declared it (empty accuser: the node itself or unknown).
typedef struct {
    uint64_t generation;
    uint64_t incarnation;
    ocf_status_t status;
    char accuser[OCF_ID_SIZE];
} ocf_wire_member_t;

typedef struct {
    uint64_t generation;
    ocf_reason_t reason;
    int64_t declared_at;         //  wall-clock ms
} ocf_wire_tombstone_t;

//  One entry's versions as the table reports them for a bucket (0 for a missing part).
typedef struct {
    char id[OCF_ID_SIZE];
    uint64_t generation;         //  record
    uint64_t version;
    uint64_t member_generation;  //  membership
    uint64_t incarnation;
    int status;                  //  ocf_status_t, -1 when there is no membership
    uint64_t tomb_generation;    //  tombstone
    uint64_t hash;               //  the entry's digest hash
} ocf_digest_t;

typedef struct {
    char id[OCF_ID_SIZE];
    char endpoint[OCF_WIRE_ENDPOINT_MAX + 1];
} ocf_wire_peer_t;

//  A decoded message. Items point into the frame (or, for SNAP_CHUNK, into the inflated
//  buffer the message owns): keep the frame alive while using them, then ocf_wire_clear().
//  To encode, fill the fields of the type and call ocf_wire_encode(); arrays are borrowed.
typedef struct {
    ocf_wire_type_t type;
    uint8_t flags;
    uint32_t nonce;
    uint64_t generation;
    uint64_t root;
    uint64_t entries;
    char target[OCF_ID_SIZE];    //  PING_REQ target, RUMOUR range end, SNAP_* after
    char next[OCF_ID_SIZE];      //  SNAP_CHUNK next
    uint16_t mask;               //  AE_BUCKETS: which groups follow
    uint64_t hashes[256];        //  AE_GROUPS: 16; AE_BUCKETS: 16 per set bit of mask
    uint8_t buckets[256];        //  AE_DIGESTS: the buckets the digests cover
    size_t bucket_count;
    ocf_item_t *items;
    size_t item_count;
    uint64_t *keys;
    size_t key_count;
    ocf_digest_t *digests;
    size_t digest_count;
    char (*ids)[OCF_ID_SIZE];
    size_t id_count;
    ocf_wire_peer_t *peers;
    size_t peer_count;
    uint8_t *inflated;           //  SNAP_CHUNK: the inflated items, owned
} ocf_wire_msg_t;

//  A growing output buffer that refuses to grow past max (overflow is then set).
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max;
    bool overflow;
} ocf_wire_buf_t;

const char *ocf_wire_type_name (ocf_wire_type_t type);

//  True for a frame whose arrival time is what it says (HEARTBEAT, PING, PING_REQ, ACK): a
//  node that fell behind handles these before the rest (ocf_transport_receive).
bool ocf_wire_timely (const uint8_t *data, size_t size);

//  Decodes one frame. Returns 0, or -1 with the problem in error (the message is then
//  empty). Frames above max_frame are refused before anything else is read.
int ocf_wire_decode (ocf_wire_msg_t *msg, const uint8_t *data, size_t size, size_t max_frame,
                     char *error, size_t error_size);
void ocf_wire_clear (ocf_wire_msg_t *msg);

//  Encodes msg into out (reset first). Returns 0, or -1 when it does not fit out->max.
int ocf_wire_encode (const ocf_wire_msg_t *msg, ocf_wire_buf_t *out);
void ocf_wire_buf_free (ocf_wire_buf_t *buf);

//  Bytes an item takes inside a message, to fill messages up to a budget.
size_t ocf_wire_item_size (const ocf_item_t *item);
//  A copy of item whose payload is the caller's, to free ((void *) copy.data).
ocf_item_t ocf_wire_item_copy (const ocf_item_t *item);
//  Bytes of a digest on the wire (upper bound).
size_t ocf_wire_digest_size (void);

//  Member and tombstone payloads. encode: writes into buffer (at least
//  OCF_WIRE_PAYLOAD_MAX bytes) and returns the size. decode: 0 or -1.
#define OCF_WIRE_PAYLOAD_MAX 96
size_t ocf_wire_member_encode (const ocf_wire_member_t *member, uint8_t *buffer);
int ocf_wire_member_decode (const uint8_t *data, size_t size, ocf_wire_member_t *member);
//  A leave carries its node's signature (OCF_SIGNATURE_BYTES, the payload's last bytes):
//  the _signed forms write it when sig is not NULL, and read it when the payload has one
//  (*has_sig says).
size_t ocf_wire_tombstone_encode_signed (const ocf_wire_tombstone_t *tombstone, const uint8_t *sig, uint8_t *buffer);
int ocf_wire_tombstone_decode (const uint8_t *data, size_t size, ocf_wire_tombstone_t *tombstone);
int ocf_wire_tombstone_decode_signed (const uint8_t *data, size_t size, ocf_wire_tombstone_t *tombstone, bool *has_sig,
                                      uint8_t sig[OCF_SIGNATURE_BYTES]);

//  The identity of an item's content, for recognising a rumour seen before: a membership's
//  state (generation, incarnation, status), not who declared it.
uint64_t ocf_wire_item_key (const ocf_item_t *item);

#endif

/*  ocf_record: the node record on the wire, checked and made canonical.
    A row travels as one flat JSON object: the fields its owner writes (id, name, generation,
    version, addr, hardware, services, labels, ...) plus the membership fields others may
    change (incarnation, status, status_generation). This module validates such objects,
    splits them into the owner's part, kept as canonical JSON (compact, sorted keys) so every
    host hashes the same bytes, and the membership part; and parses tombstones and membership
    updates. Pure functions: no I/O, no global state.
    The owner's part is serialized compactly in the order its keys arrived (jansson keeps
    insertion order), so every host stores the bytes the owner wrote; its 64-bit hash breaks
    the (never expected) tie of two contents under one (generation, version).
    Signatures: the owner signs each version of its record, and its graceful-leave tombstone,
    with its node key (the id is the public key, so anyone checks them without a directory).
    A row's "sig" travels beside the owner's fields, like the membership fields, and covers
    "ocf-row-v1\0", the id, generation and version (8-byte big-endian) and the record bytes
    exactly as the owner wrote them; a tombstone's covers "ocf-tombstone-v1\0", the id,
    generation, reason (1 byte) and declared_at (8 bytes). Relays pass the bytes on untouched,
    so a row can be checked on every host it reaches.  */
#ifndef OCF_RECORD_H
#define OCF_RECORD_H

#include "ocf_identity.h"
#include "ocf_json.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OCF_ID_SIZE (OCF_NODE_ID_LEN + 1)   //  a node id (ocf_identity) + NUL

//  SWIM ordering at equal incarnation: left > dead > suspect > alive.
typedef enum {
    OCF_STATUS_ALIVE = 0,
    OCF_STATUS_SUSPECT = 1,
    OCF_STATUS_DEAD = 2,
    OCF_STATUS_LEFT = 3
} ocf_status_t;

typedef enum {
    OCF_REASON_REAPED = 1,       //  dead for longer than reap_after
    OCF_REASON_LEFT = 2          //  left gracefully
} ocf_reason_t;

typedef struct {
    uint64_t generation;
    uint64_t incarnation;
    ocf_status_t status;
} ocf_member_t;

//  What is known of an input's signature. The table checks an unchecked one only when the
//  input would change something, so that duplicates and stale copies cost no verification.
typedef enum {
    OCF_SIG_UNCHECKED = 0,
    OCF_SIG_GOOD,                //  verified, or from this host's own table.db, or signed here
    OCF_SIG_BAD                  //  missing or not the id's signature
} ocf_sig_state_t;

typedef struct {
    char id[OCF_ID_SIZE];
    char name[256];
    uint64_t generation;
    uint64_t version;
    char *record;                //  JSON of the owner's fields (malloc'd), see below
    size_t record_len;
    uint64_t content_hash;
    bool has_member;             //  the row carried membership fields
    ocf_member_t member;
    bool has_sig;
    uint8_t sig[OCF_SIGNATURE_BYTES];
    ocf_sig_state_t sig_state;
} ocf_row_in_t;

typedef struct {
    char id[OCF_ID_SIZE];
    uint64_t generation;         //  every row of this id up to this generation is gone
    ocf_reason_t reason;
    int64_t declared_at;         //  wall-clock ms; compaction happens at declared_at + retention
    bool has_sig;                //  the owner's signature: required when the reason is left
    uint8_t sig[OCF_SIGNATURE_BYTES];
    ocf_sig_state_t sig_state;
} ocf_tombstone_in_t;

typedef struct {
    char id[OCF_ID_SIZE];
    ocf_member_t member;
} ocf_member_in_t;

const char *ocf_status_name (ocf_status_t status);
int ocf_status_parse (const char *name);          //  -1 when unknown
const char *ocf_reason_name (ocf_reason_t reason);
int ocf_reason_parse (const char *name);

//  Validates a row: a span of validated JSON text (the fast path: MERGE rows are checked in
//  place and their owner's fields copied as they came), or a jansson value (serialized
//  first). On success fills out (free with ocf_row_in_clear) and returns 0; otherwise
//  returns -1 with the problem in error.
int ocf_record_parse_row_span (ocf_json_span_t row, size_t max_record, ocf_row_in_t *out, char *error, size_t error_size);
int ocf_record_parse_row (json_t *row, size_t max_record, ocf_row_in_t *out, char *error, size_t error_size);
void ocf_row_in_clear (ocf_row_in_t *row);
int ocf_record_parse_tombstone_span (ocf_json_span_t object, ocf_tombstone_in_t *out, char *error, size_t error_size);
int ocf_record_parse_tombstone (json_t *object, ocf_tombstone_in_t *out, char *error, size_t error_size);
int ocf_record_parse_member_span (ocf_json_span_t object, ocf_member_in_t *out, char *error, size_t error_size);
int ocf_record_parse_member (json_t *object, ocf_member_in_t *out, char *error, size_t error_size);
//  Checks one service object as found in a record's "services" array.
int ocf_record_check_service (json_t *service, char *error, size_t error_size);
bool ocf_record_service_name_valid (const char *name);

//  Signatures. sign fills the input's sig and marks it good; verify checks it (thread-safe);
//  sig_text writes the base64 form rows and tombstones carry.
void ocf_record_sign_row (ocf_row_in_t *row, ocf_identity_t *identity);
bool ocf_record_verify_row (const ocf_row_in_t *row);
void ocf_record_sign_tombstone (ocf_tombstone_in_t *tombstone, ocf_identity_t *identity);
bool ocf_record_verify_tombstone (const ocf_tombstone_in_t *tombstone);
void ocf_record_sig_text (const uint8_t sig[OCF_SIGNATURE_BYTES], char text[OCF_SIGNATURE_TEXT_LEN + 1]);
//  Signs a row or a tombstone given as JSON, as whoever fabricates them (tests, benchmarks,
//  tools) needs: sets its "sig" (replacing any). The JSON must be serialized compactly, as
//  jansson and ocf_msg do, to keep its bytes. Returns -1 with error set when it is invalid.
int ocf_record_sign_row_json (json_t *row, ocf_identity_t *identity, char *error, size_t error_size);
int ocf_record_sign_tombstone_json (json_t *tombstone, ocf_identity_t *identity, char *error, size_t error_size);

//  Total orders the merge takes the maximum of.
int ocf_member_compare (const ocf_member_t *a, const ocf_member_t *b);

#endif

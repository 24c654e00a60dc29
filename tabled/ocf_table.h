/*  ocf_table: the replicated node table as a CRDT, in memory, with no I/O.
    Per node id it holds up to three lattice values and merges each by taking the maximum:
      record     (generation, version, content)      written only by the node itself
      membership (generation, incarnation, status)   alive < suspect < dead < left
      tombstone  (generation, reason, declared_at)   kills every row up to its generation
    after which a record or membership at or below the tombstone's generation is dropped and
    membership never falls below (record generation, 0, alive). A record, and a tombstone
    whose reason is left, must carry its owner's signature: one that does not verify is
    refused whole ("signature"), and only inputs that would change something are verified. Every merge is therefore
    commutative, associative and idempotent, and only a higher generation re-adds an id.
    The table keeps 256 bucket hashes (XOR of per-id hashes, updated in O(1)) and a root hash
    over them, so two replicas compare in a few bytes. Local observations (last_alive,
    status_since) are kept beside the replicated state but never hashed.
    A record's text may be evicted once it is stored elsewhere (ocf-tabled keeps it in SQLite
    only): merging needs just the generation, version and content hash.
    Used by ocf-tabled and by the gossip simulator, which runs thousands of tables at once.  */
#ifndef OCF_TABLE_H
#define OCF_TABLE_H

#include "ocf_record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OCF_BUCKETS 256

typedef struct _ocf_entry_t ocf_entry_t;
struct _ocf_entry_t {
    char id[OCF_ID_SIZE];
    uint8_t bucket;
    //  record (present when has_record)
    bool has_record;
    uint64_t generation;
    uint64_t version;
    uint64_t content_hash;
    char *name;
    char *record;                //  JSON of the owner's fields; NULL once evicted
    size_t record_len;
    uint8_t sig[OCF_SIGNATURE_BYTES];            //  the owner's, over the record
    //  membership (present when has_member)
    bool has_member;
    ocf_member_t member;
    //  tombstone (present when has_tombstone)
    bool has_tombstone;
    uint64_t tomb_generation;
    ocf_reason_t tomb_reason;
    int64_t tomb_declared_at;
    bool tomb_has_sig;           //  left tombstones: the owner's signature
    uint8_t tomb_sig[OCF_SIGNATURE_BYTES];
    //  local observations, wall-clock ms, not replicated
    int64_t status_since;
    int64_t last_alive;
    bool has_rtt;
    double rtt_ms;               //  round-trip time from this host (gossipd's PINGs, least of recent samples)
    //  digest contribution and bucket chain
    uint64_t hash;
    ocf_entry_t *bucket_prev, *bucket_next;
    //  services index for provider queries, built on demand (ocf_table_index_services)
    bool services_indexed;
    struct ocf_service_index *services;
    size_t service_count;
};

typedef struct ocf_service_index {
    char *name;
    char **groups;
    size_t group_count;
    bool ready;
} ocf_service_index_t;

//  What a merge changed (a bit mask; 0 = nothing, the input was old or a duplicate).
enum {
    OCF_CHANGED_RECORD = 1,
    OCF_CHANGED_MEMBER = 2,
    OCF_CHANGED_TOMBSTONE = 4,
    OCF_CHANGED_REMOVED = 8      //  the entry is gone; the pointer is no longer valid
};

typedef struct _ocf_table_t ocf_table_t;

ocf_table_t *ocf_table_new (void);
void ocf_table_destroy (ocf_table_t **self_p);

//  Merges one row. The row's record string is copied. now: wall-clock ms for status_since.
//  Returns the change mask; *entry_p (optional) gets the entry when one remains.
int ocf_table_merge_row (ocf_table_t *self, const ocf_row_in_t *row, int64_t now, ocf_entry_t **entry_p);
int ocf_table_merge_member (ocf_table_t *self, const ocf_member_in_t *member, int64_t now, ocf_entry_t **entry_p);
int ocf_table_merge_tombstone (ocf_table_t *self, const ocf_tombstone_in_t *tombstone, int64_t now, ocf_entry_t **entry_p);
//  Whether merging the row would change the record: only then is its signature checked
//  (the caller may check it beforehand, many at once, and set its sig_state).
bool ocf_table_row_applies (ocf_table_t *self, const ocf_row_in_t *row);
//  Why the last merge changed nothing: "stale", "duplicate", "tombstoned", "quarantined" or
//  "signature".
const char *ocf_table_last_refusal (ocf_table_t *self);

ocf_entry_t *ocf_table_lookup (ocf_table_t *self, const char *id);
size_t ocf_table_size (ocf_table_t *self);        //  entries (ids)
size_t ocf_table_record_count (ocf_table_t *self);
size_t ocf_table_tombstone_count (ocf_table_t *self);

//  Digests.
uint64_t ocf_table_root (ocf_table_t *self);
//  The root over given bucket hashes: what a replica kept elsewhere (the simulator's
//  copy-on-write tables) reports, hashed as a table's.
uint64_t ocf_table_root_of (const uint64_t buckets[OCF_BUCKETS]);
uint64_t ocf_table_bucket_hash (ocf_table_t *self, unsigned bucket);
size_t ocf_table_bucket_size (ocf_table_t *self, unsigned bucket);
ocf_entry_t *ocf_table_bucket_first (ocf_table_t *self, unsigned bucket);
//  The bucket an id falls in (first byte of its hash).
unsigned ocf_table_bucket_of (const char *id);
//  Visits every entry; stop by returning false.
void ocf_table_foreach (ocf_table_t *self, bool (*visit) (ocf_entry_t *entry, void *arg), void *arg);

//  Local observation that a node is alive; not replicated.
void ocf_table_seen (ocf_table_t *self, const char *id, int64_t now);

//  Tombstones every node dead since at least reap_after (not skip_id, this node itself).
//  Calls changed(entry id, mask) for each; returns how many were reaped.
size_t ocf_table_reap (ocf_table_t *self, int64_t now, int64_t reap_after, const char *skip_id,
                       void (*changed) (const char *id, int mask, void *arg), void *arg);
//  Drops up to max tombstones declared before now - retention; their (id, generation) stay
//  quarantined for quarantine ms so a late copy of an old row cannot come back meanwhile.
size_t ocf_table_compact (ocf_table_t *self, int64_t now, int64_t retention, int64_t quarantine, size_t max,
                          void (*changed) (const char *id, int mask, void *arg), void *arg);

//  Drops the entry's record text (its metadata stays); the caller keeps it elsewhere.
void ocf_table_evict_record (ocf_entry_t *entry);
//  Builds the entry's services index from its record (parsed JSON, or NULL to parse the text
//  the entry holds). Cheap when already built; invalidated when the record changes.
void ocf_table_index_services (ocf_entry_t *entry, json_t *record);

//  Row JSON as exchanged: the owner's record text with the membership fields and the
//  signature spliced in (incarnation, status, status_generation when it differs from
//  generation, sig) and, from local (NULL: none), this host's observations of the node
//  (last_alive when non-zero, rtt_ms when known). Returns a malloc'd string.
//  ocf_row_head writes what goes before the record's first key ("{", the membership fields
//  and sig) and returns its length: the row is the head, then the record without its "{".
#define OCF_ROW_HEAD_MAX 288
size_t ocf_row_head (uint64_t generation, const ocf_member_t *member, const ocf_entry_t *local,
                     const uint8_t sig[OCF_SIGNATURE_BYTES], char head[OCF_ROW_HEAD_MAX]);
char *ocf_row_json (const char *record, size_t record_len, uint64_t generation, const ocf_member_t *member,
                    const ocf_entry_t *local, const uint8_t sig[OCF_SIGNATURE_BYTES]);
//  The same for an entry holding its record text; NULL when it has none (or it was evicted).
char *ocf_entry_row_json (const ocf_entry_t *entry, bool with_local);
//  {"id","generation","incarnation","status"} or NULL when the entry has no membership.
json_t *ocf_entry_member_json (const ocf_entry_t *entry);
//  {"id","generation","reason","declared_at"[,"sig"]} or NULL when the entry has no tombstone.
json_t *ocf_entry_tombstone_json (const ocf_entry_t *entry);
//  The live status: the entry has a record and membership alive or suspect.
bool ocf_entry_live (const ocf_entry_t *entry);

//  How a node answers what others say of it (SWIM), in ocf-tabled and in the gossip
//  simulator alike. Given its own entry (NULL when there is none) and the generation it runs:
//  renew (start the generation ocf_entry_next_generation names) when its record is gone,
//  older, or others speak of a newer generation; refute (merge *refute, an incarnation above
//  theirs) when its membership in this generation says suspect, dead or left; else nothing.
typedef enum {
    OCF_DEFENSE_NONE,
    OCF_DEFENSE_REFUTE,
    OCF_DEFENSE_RENEW
} ocf_defense_t;
ocf_defense_t ocf_entry_defense (const ocf_entry_t *entry, uint64_t generation, ocf_member_t *refute);
//  The least generation a node may start next: above current and above every generation its
//  entry knows of (a tombstone's included), since only a higher generation re-adds an id.
uint64_t ocf_entry_next_generation (const ocf_entry_t *entry, uint64_t current);

#endif

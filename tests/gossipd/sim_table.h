/*  sim_table: one node's ocf-tabled, for the gossip simulator, on the real table code.
    Every merge, tombstone, membership, digest and refutation goes through ocf_table and
    ocf_record (tabled/), so the simulator cannot drift from what tabled does. Rows are real:
    each simulated node has an Ed25519 identity derived from the run's seed and signs its own
    rows and leaves, and ocf_table checks the signature of every row it applies.
    The simulator runs up to 10,000 nodes, each with a replica of a table of 10,000 entries:
    one ocf_table each would need tens of gigabytes. So every replica is copy-on-write: an
    ocf_table of the entries it changed (an entry is copied from the base, by merging, before
    it merges anything about that id) over a shared, immutable base ocf_table (the state all
    nodes start from); its buckets are the base's with the copied entries' hashes swapped for
    the overlay's. Rows are padded to about row_size bytes to model real records.  */
#ifndef SIM_TABLE_H
#define SIM_TABLE_H

#include "ocf_gossip.h"
#include "ocf_members.h"
#include "ocf_table.h"
#include "ocf_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_ROW_MAX 4096             //  largest row

//  What a node holds of an id (0 for a missing part; status -1 without membership).
typedef struct {
    uint64_t generation;         //  record
    uint64_t version;
    uint64_t member_generation;
    uint64_t incarnation;
    int status;
    uint64_t tomb_generation;
} sim_entry_t;

//  Every id the simulation can use, sorted, with its bucket and its node's identity.
typedef struct {
    size_t count;
    char (*ids)[OCF_ID_SIZE];
    ocf_identity_t **identities;
    uint8_t *buckets;
    size_t bucket_start[257];    //  indices of bucket b: members[bucket_start[b] .. bucket_start[b+1])
    uint32_t *members;
} sim_universe_t;

//  A table state shared read-only by replicas.
typedef struct {
    const sim_universe_t *universe;
    ocf_table_t *table;
    size_t row_size;
} sim_base_t;

typedef struct _sim_table_t sim_table_t;

sim_universe_t *sim_universe_new (size_t count, uint64_t seed);
void sim_universe_destroy (sim_universe_t **self_p);
//  Index of id, or -1.
long sim_universe_find (const sim_universe_t *self, const char *id);

//  A base where the first `members` universe ids are alive at generation 1, version 1, their
//  rows signed and padded to row_size.
sim_base_t *sim_base_new (const sim_universe_t *universe, size_t members, size_t row_size);
void sim_base_destroy (sim_base_t **self_p);
//  The view matching a base (every member, alive).
ocf_members_t *sim_base_view (const sim_base_t *base);

//  A replica for node self on base; view: a shared view to use until the first membership
//  change (then copied), or NULL to build one.
sim_table_t *sim_table_new (const sim_base_t *base, size_t self, ocf_members_t *shared_view);
void sim_table_destroy (sim_table_t **self_p);

sim_entry_t sim_table_get (sim_table_t *self, size_t index);
uint64_t sim_table_root (sim_table_t *self);
size_t sim_table_entries (sim_table_t *self);
ocf_members_t *sim_table_view (sim_table_t *self);

//  What merging changed, for the node's core: ids whose view entry changed, and this
//  node's own changes (refutations, renewals) to disseminate, as items.
typedef struct {
    size_t changed[64];          //  universe indices (capped; view_overflow when more)
    size_t changed_count;
    bool view_replaced;          //  the shared view was copied: the core must be given the new one
    ocf_item_t own[2];
    uint8_t own_payload[2][SIM_ROW_MAX];
    size_t own_count;
} sim_effects_t;

//  Merges items as tabled's MERGE does (items for unknown ids are ignored).
void sim_table_merge (sim_table_t *self, const ocf_item_t *items, size_t count, int64_t now, sim_effects_t *effects);
//  This node changes its record (version + 1); the new row is written as an item.
void sim_table_touch (sim_table_t *self, sim_effects_t *effects);
//  This node starts a new generation (a restart).
void sim_table_renew (sim_table_t *self, sim_effects_t *effects);
//  This node leaves: its tombstone as an item (and it renews, as tabled does).
void sim_table_leave (sim_table_t *self, int64_t now, sim_effects_t *effects);

//  Answers a core's query. Items point into storage owned by the table until the next call.
void sim_table_answer (sim_table_t *self, ocf_gossip_t *core, int64_t now, uint64_t token, const ocf_query_t *query);

#endif

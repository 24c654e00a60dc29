/*  ocf_bridge: ocf-gossipd's side of ocf-tabled.
    A DEALER on run_dir/tabled.api for requests (pipelined: tabled answers in order) and a
    SUB on run_dir/tabled.events. It keeps the membership view the protocol core reads, as
    common/ocf_follower loads and follows it (its requests tagged like the others, so that
    a reply finds its request across a restart of tabled). It hands the core this node's own
    changes (events with source self) to spread, answers the core's table queries (DIGEST,
    DELTA, SNAPSHOT) and merges what peers sent (MERGE), translating between tabled's JSON
    and the core's items. While tabled is away (restarting), merges wait in a bounded
    buffer, sent once it is back; beyond the bound they are dropped and anti-entropy repairs
    them later.  */
#ifndef OCF_BRIDGE_H
#define OCF_BRIDGE_H

#include "ocf_gossip.h"
#include "ocf_members.h"

#include <czmq.h>
#include <jansson.h>

typedef struct {
    void *arg;
    //  tabled answered HELLO (first time or after a restart): its reply.
    void (*hello) (void *arg, json_t *hello);
    //  The view was loaded (again): every entry may have changed.
    void (*loaded) (void *arg);
    //  The view's entry for id changed; member is NULL when it was removed.
    void (*member_changed) (void *arg, const char *id, const ocf_peer_t *member);
    //  This node changed its own entry (its record, a refutation, a leave).
    void (*own_change) (void *arg, const ocf_item_t *item);
    //  The table's root hash.
    void (*root) (void *arg, uint64_t root, uint64_t entries);
    //  The socket to tabled's API was replaced (tabled went silent): whoever polls the old
    //  one polls the new one from now on. The old one is destroyed when this returns.
    void (*api_replaced) (void *arg, zsock_t *old_api, zsock_t *new_api);
    //  A request was sent to tabled's API (the send may have taken in the command that says
    //  a reply waits: ocf_zreader_sent).
    void (*api_sent) (void *arg);
} ocf_bridge_handler_t;

typedef struct {
    uint64_t requests, timeouts, errors, reloads, events;
    uint64_t merges, merged_items, merge_items_dropped;
    size_t buffered_items;
} ocf_bridge_stats_t;

typedef struct _ocf_bridge_t ocf_bridge_t;

ocf_bridge_t *ocf_bridge_new (const char *run_dir, ocf_members_t *view, const ocf_bridge_handler_t *handler,
                                    size_t max_message);
void ocf_bridge_destroy (ocf_bridge_t **self_p);
//  Where answers to the core's queries go (set once the core exists).
void ocf_bridge_set_core (ocf_bridge_t *self, ocf_gossip_t *core);

zsock_t *ocf_bridge_api (ocf_bridge_t *self);
zsock_t *ocf_bridge_events (ocf_bridge_t *self);
void ocf_bridge_on_api (ocf_bridge_t *self, int64_t now);
void ocf_bridge_on_events (ocf_bridge_t *self, int64_t now);
//  Time-outs, reconnection, periodic root refresh, SEEN reports. Call often (every tick).
void ocf_bridge_tick (ocf_bridge_t *self, int64_t now);

//  tabled answered and the view is loaded.
bool ocf_bridge_up (ocf_bridge_t *self);
void ocf_bridge_merge (ocf_bridge_t *self, const char *from, const ocf_item_t *items, size_t count);
void ocf_bridge_query (ocf_bridge_t *self, uint64_t token, const ocf_query_t *query, int64_t now);
//  A node was heard from just now (reported to tabled as SEEN, once a second).
void ocf_bridge_seen (ocf_bridge_t *self, const char *id);
const ocf_bridge_stats_t *ocf_bridge_stats (ocf_bridge_t *self);

//  This node's leave, for the core to spread (ocf_gossip_leave): tabled tombstones this
//  generation (LEAVE, which also starts the next) and signs it, so that every table on the
//  way checks that this node wrote it. Without tabled it is built from what the view says,
//  unsigned: the others will see this node dead rather than gone. Blocks up to timeout_ms
//  (called when stopping). Returns the generation left, with item set (its data in payload,
//  OCF_WIRE_PAYLOAD_MAX bytes), or 0 when none is known.
uint64_t ocf_bridge_leave (ocf_bridge_t *self, const char *id, int timeout_ms, ocf_item_t *item, uint8_t *payload);

//  Checks that a row item is a row tabled will take, about the node it names.
bool ocf_bridge_row_valid (const ocf_item_t *item, size_t max_record);

#endif

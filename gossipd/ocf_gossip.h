/*  ocf_gossip: the protocol core of ocf-gossipd, sans I/O.
    Owns every decision about talking to other hosts: whom to heartbeat and watch (phi accrual
    over the K nodes that follow each on the id ring), when to probe indirectly, suspect, and
    declare a node dead (Lifeguard-style suspicion, local health, partitions confirmed
    together); which peers it keeps talking to (the active view: fingers and ring
    neighbours, about 2 log2 N); how rumours spread (a dissemination tree over the fingers
    of the id ring, then IHAVE/WANT repair rounds); anti-entropy over the
    table's hashed digests; serving and pulling snapshots. It holds only transient protocol
    state. It is fed with messages, table answers and the time, and acts through the env
    callbacks: no sockets, no clock, no table inside. ocf-gossipd runs it around ZeroMQ and
    ocf-tabled; the simulator in tests/gossipd runs thousands of them in one process.

    Table access is asynchronous: the core asks (env.query) and is answered later
    (ocf_gossip_answer_*); merges are fire-and-forget (env.merge). Changes to the table come
    back as ocf_gossip_local_change (this node's own changes, to disseminate) and, through
    the membership view the env keeps, ocf_gossip_member_changed. The env must not call the
    core from inside a callback.  */
#ifndef OCF_GOSSIP_H
#define OCF_GOSSIP_H

#include "ocf_config.h"
#include "ocf_members.h"
#include "ocf_rtt.h"
#include "ocf_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t tick_ms;                 //  how often ocf_gossip_tick is called
    int64_t heartbeat_interval_ms;
    int observers;                   //  K: observers per node, and helpers per indirect probe
    double phi_threshold;
    int64_t phi_min_std_ms;
    int64_t acceptable_pause_ms;
    int64_t probe_timeout_ms;
    int64_t suspicion_min_ms;        //  after K-1 independent confirmations
    int64_t suspicion_max_ms;        //  with none
    int64_t gossip_interval_ms;      //  IHAVE rounds
    int fanout;                      //  tree branching and IHAVE peers per round
    int retransmit_mult;             //  IHAVE sends per rumour: mult * ceil(log10(N + 1))
    int64_t anti_entropy_interval_ms;    //  AE_SYN to a random peer (heartbeats carry roots to observers)
    int64_t dead_contact_interval_ms;    //  AE_SYN to a member believed dead (partitions heal that way)
    int max_snapshots;               //  served at once
    size_t snapshot_page;            //  entries per snapshot page (halved when too big)
    size_t max_frame;                //  largest message sent or accepted
    int64_t rumour_ttl_ms;
    size_t recent_max;               //  rumours remembered
    int64_t query_timeout_ms;        //  a table answer later than this is given up
    int64_t rtt_interval_ms;         //  a round-trip ping to the peer measured longest ago (0: none)
} ocf_gossip_config_t;

#define OCF_GOSSIP_MAX_QUERY_IDS 4096    //  ids one ITEMS query asks for at most (tabled's DELTA)

typedef enum {
    OCF_QUERY_BUCKETS,               //  answer: 256 bucket hashes
    OCF_QUERY_DIGESTS,               //  buckets -> answer: digests of their entries
    OCF_QUERY_ITEMS,                 //  ids -> answer: items
    OCF_QUERY_SNAPSHOT               //  after, limit -> answer: items, next, root, entries
} ocf_query_kind_t;

typedef struct {
    ocf_query_kind_t kind;
    const uint8_t *buckets;
    size_t bucket_count;
    const char (*ids)[OCF_ID_SIZE];
    size_t id_count;
    const char *after;               //  NULL: from the start
    size_t limit;
} ocf_query_t;

typedef struct {
    void *arg;
    //  Deliver a message to a peer. May drop it (a full queue): the protocol tolerates loss.
    void (*send) (void *arg, const char *peer, const uint8_t *data, size_t size);
    //  Merge items into the table; their effects come back through the view and local changes.
    //  from: the peer that sent the items (NULL: this node's own verdicts), which tabled names
    //  when it refuses one.
    void (*merge) (void *arg, const char *from, const ocf_item_t *items, size_t count);
    //  Ask the table; answer later with ocf_gossip_answer_* and the same token.
    void (*query) (void *arg, uint64_t token, const ocf_query_t *query);
    //  A peer named an endpoint for a node (snapshot BUSY answers); optional.
    void (*introduce) (void *arg, const char *id, const char *endpoint);
    //  Whether an item from a peer may enter at all (authorization, validity); optional.
    //  Items refused here are neither merged nor passed on.
    bool (*admit) (void *arg, const ocf_item_t *item);
    //  Notable protocol events (suspicions, deaths, misbehaving peers); optional.
    //  level: an ocf_log_level_t.
    void (*log) (void *arg, int level, const char *text);
} ocf_gossip_env_t;

typedef struct {
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
    uint64_t msgs_in_by_type[OCF_WIRE_TYPE_MAX + 1];
    uint64_t msgs_out_by_type[OCF_WIRE_TYPE_MAX + 1];
    uint64_t bad_msgs;
    uint64_t heartbeats_in, heartbeats_out;
    uint64_t probes, probe_failures, probes_extended, suspicions, deaths_declared, refutations;
    uint64_t rumours_originated, rumours_new, rumours_duplicate, rumours_forwarded;
    uint64_t catch_ups;              //  recent deaths offered to a peer that reached us after a silence
    uint64_t wants_sent, wants_served;
    uint64_t ae_started, ae_in_sync, ae_repaired, ae_items_in, ae_items_out;
    uint64_t snapshots_served, snapshots_busy, snapshot_pages_in, snapshots_completed;
    uint64_t queries, queries_failed;
    int local_health;                //  0 (healthy) .. 8
} ocf_gossip_stats_t;

typedef struct _ocf_gossip_t ocf_gossip_t;

//  The core's settings from a [gossipd] section; what is not configurable is fixed here.
void ocf_gossip_config_from (ocf_gossip_config_t *config, const ocf_gossipd_config_t *section);
//  The settings of a [gossipd] section with every key at its default.
void ocf_gossip_config_defaults (ocf_gossip_config_t *config);

//  self_id: this node. view: its membership view (read only; may be shared by cores).
//  seed: for the core's random choices (deterministic in the simulator).
ocf_gossip_t *ocf_gossip_new (const char *self_id, const ocf_gossip_config_t *config, ocf_members_t *view,
                              const ocf_gossip_env_t *env, uint64_t seed, int64_t now);
void ocf_gossip_destroy (ocf_gossip_t **self_p);
void ocf_gossip_set_view (ocf_gossip_t *self, ocf_members_t *view);

//  Time passes: heartbeats, failure detection, IHAVE rounds, anti-entropy, time-outs.
void ocf_gossip_tick (ocf_gossip_t *self, int64_t now);
//  A message from an authenticated peer. Returns 0, or -1 when it was malformed (counted;
//  the caller may cut the peer off). The rumours it passes on are held until
//  ocf_gossip_flush: call it when the messages waiting are handled (the next tick sends
//  them otherwise), so that a burst's rumours for the same peer leave in one message.
int ocf_gossip_receive (ocf_gossip_t *self, int64_t now, const char *from, const uint8_t *data, size_t size);
//  Sends the rumours held since the last flush.
void ocf_gossip_flush (ocf_gossip_t *self);
//  This node's table changed by its own hand (its record, a refutation, its tombstone):
//  spread it to everybody. Items about other nodes are disseminated the same way.
void ocf_gossip_local_change (ocf_gossip_t *self, int64_t now, const ocf_item_t *item);
//  The view's entry for id changed (or disappeared).
void ocf_gossip_member_changed (ocf_gossip_t *self, int64_t now, const char *id);
//  The table's root hash and entry count, whenever they change.
void ocf_gossip_set_root (ocf_gossip_t *self, uint64_t root, uint64_t entries);

//  Joining: pulls a snapshot from one of these nodes (then anti-entropy) and announces this
//  node to them. Seeds must be reachable through env.send (the env knows their endpoints).
void ocf_gossip_join (ocf_gossip_t *self, int64_t now, const char (*seeds)[OCF_ID_SIZE], size_t count);
bool ocf_gossip_joined (ocf_gossip_t *self);
//  Leaving: spreads this node's tombstone as widely and quickly as possible.
void ocf_gossip_leave (ocf_gossip_t *self, int64_t now, const ocf_item_t *tombstone);

//  Table answers. A failed or late query may be answered with ocf_gossip_answer_failed.
void ocf_gossip_answer_buckets (ocf_gossip_t *self, int64_t now, uint64_t token, const uint64_t hashes[256]);
void ocf_gossip_answer_digests (ocf_gossip_t *self, int64_t now, uint64_t token, const ocf_digest_t *digests, size_t count);
void ocf_gossip_answer_items (ocf_gossip_t *self, int64_t now, uint64_t token, const ocf_item_t *items, size_t count,
                              const char *next, uint64_t root, uint64_t entries);
void ocf_gossip_answer_failed (ocf_gossip_t *self, int64_t now, uint64_t token);

const ocf_gossip_stats_t *ocf_gossip_stats (ocf_gossip_t *self);
//  The nodes this one watches, with their phi now.
typedef void (ocf_gossip_watch_fn) (void *arg, const char *id, double phi, size_t samples, bool suspected);
void ocf_gossip_foreach_watched (ocf_gossip_t *self, ocf_gossip_watch_fn *visit, void *arg);
//  This node's observers (the nodes it heartbeats to).
size_t ocf_gossip_observers (ocf_gossip_t *self, char (*ids)[OCF_ID_SIZE], size_t max);
//  Whether id is in this node's active view (its fingers and ring neighbours: the peers it
//  keeps talking to, about 2 log2(N) + 2K); the runner keeps these connections open longer.
bool ocf_gossip_is_active (ocf_gossip_t *self, const char *id);
//  Whether the core awaits an answer from the network (a probe out, a suspicion standing,
//  an indirect probe run for another node): the runner then reads what has arrived before
//  each tick, which may judge one of them.
bool ocf_gossip_awaits_answers (ocf_gossip_t *self);
//  The round-trip times this node measured to its peers (read them; the core feeds them).
ocf_rtt_t *ocf_gossip_rtt (ocf_gossip_t *self);

#endif

/*  ocf_gossip_internal: the core's state, shared by its parts and by nothing else.
      ocf_gossip.c          construction, message dispatch, ticks, table queries, stats
      ocf_gossip_detect.c   heartbeats, observers, probes, suspicion, local health
      ocf_gossip_spread.c   rumours: the dissemination tree, IHAVE/WANT repair
      ocf_gossip_sync.c     anti-entropy, snapshots (serving and joining)  */
#ifndef OCF_GOSSIP_INTERNAL_H
#define OCF_GOSSIP_INTERNAL_H

#include "ocf_gossip.h"
#include "ocf_log.h"
#include "ocf_outbox.h"
#include "ocf_phi.h"
#include "ocf_recent.h"

#define MAX_OBSERVERS 16
#define MAX_WATCHED 256              //  nodes watched at once; more heartbeat senders are ignored
#define MAX_RELAYS 64                //  indirect probes run for others at once
#define MAX_PENDING 64               //  table queries in flight
#define MAX_ACCUSERS 8
#define MAX_CONTACTS 16              //  peers last heard from, for probe helpers
#define MAX_ACTIVE 80                //  the active view: 64 fingers and 2 * MAX_OBSERVERS ring neighbours
#define MAX_SNAP_SESSIONS 64
#define MAX_CANDIDATES 16            //  nodes a joiner may ask for a snapshot
#define HEALTH_MAX 8
#define OUTBOX_BATCHES 64            //  peer and range pairs held for one burst of messages

//  A node this one watches: it sends us heartbeats because we are one of its observers.
typedef struct {
    char id[OCF_ID_SIZE];
    uint64_t generation;             //  from its heartbeats
    ocf_phi_t phi;
    int64_t probe_at;                //  when phi crosses the threshold
    bool heard;                      //  a heartbeat came (else: expected by our view, not yet heard)
    bool disowned;                   //  it told us we are not its observer: no probing
    bool expected;                   //  our view makes us one of its observers
    bool swept;                      //  expected during a sweep: probed at once, and again while it lasts
    bool probe_extended;             //  this probe was given a second timeout: this host ran late
    int64_t heard_at;                //  when it last sent us anything
    //  an indirect probe in progress
    uint32_t probe_nonce;            //  0: none
    int64_t probe_started;
    int64_t probe_deadline;
    int64_t probe_indirect_at;       //  when the helpers are asked, if it has not answered; 0: asked
    char fresh[MAX_OBSERVERS][OCF_ID_SIZE];      //  helpers we heard from lately: on our side of any partition
    int fresh_count;
    int nacks;
    int pinged_again;                //  pings sent again instead of asking helpers (a sweep)
    //  our suspicion, with the independent confirmations others sent
    bool suspecting;
    uint64_t suspect_generation;
    uint64_t suspect_incarnation;
    int64_t suspect_since;
    int64_t suspect_deadline;
    char confirmers[MAX_OBSERVERS][OCF_ID_SIZE];
    int confirmer_count;
    //  anti-entropy trigger: roots that differ, settled (the same two roots for a heartbeat
    //  interval) or for long (several intervals, whatever the roots)
    uint64_t mismatch_theirs;
    uint64_t mismatch_ours;
    int64_t mismatch_since;          //  of this pair of roots
    int64_t differing_since;         //  of any difference
} watched_t;

//  A peer we received a message from, and when.
typedef struct {
    char id[OCF_ID_SIZE];
    int64_t at;
} contact_t;

//  An indirect probe this node runs for another.
typedef struct {
    uint32_t nonce;                  //  ours, towards the target
    uint32_t requester_nonce;
    char requester[OCF_ID_SIZE];
    char target[OCF_ID_SIZE];
    int64_t deadline;
} relay_t;

typedef enum {
    PENDING_DRIVE_BUCKETS,           //  anti-entropy we drive: our buckets for AE_GROUPS
    PENDING_DRIVE_DIGESTS,           //  our digests for AE_DIGESTS
    PENDING_DRIVE_ITEMS,             //  the items the peer wanted
    PENDING_ANSWER_BUCKETS,          //  anti-entropy a peer drives: our buckets for AE_BUCKETS
    PENDING_ANSWER_DIGESTS,          //  our digests, to compare with theirs
    PENDING_ANSWER_ITEMS,            //  our newer items for AE_DELTA
    PENDING_SNAPSHOT                 //  a snapshot page for a joiner
} pending_kind_t;

typedef struct {
    bool used;
    uint64_t token;
    pending_kind_t kind;
    char peer[OCF_ID_SIZE];
    uint32_t nonce;
    int64_t deadline;
    uint64_t groups[OCF_WIRE_GROUPS];    //  ANSWER_BUCKETS: the driver's group hashes
    uint8_t buckets[256];                //  DRIVE_DIGESTS: the buckets asked for
    size_t bucket_count;
    ocf_digest_t *digests;               //  ANSWER_DIGESTS: the driver's digests (owned)
    size_t digest_count;
    char (*ids)[OCF_ID_SIZE];            //  ANSWER_ITEMS: ids the driver should send us (owned)
    size_t id_count;
    bool truncated;
    char after[OCF_ID_SIZE];             //  SNAPSHOT: the page asked for
    bool has_after;
} pending_t;

//  The anti-entropy exchange this node drives (one at a time).
typedef struct {
    bool active;
    char peer[OCF_ID_SIZE];
    uint32_t nonce;
    int64_t deadline;
    uint64_t buckets[256];           //  ours, when the exchange started
    bool truncated;
    bool repaired;                   //  items moved
} drive_t;

typedef struct {
    char id[OCF_ID_SIZE];
    int64_t last_active;
    size_t page;                     //  entries per page for this joiner (halved when too big)
} snap_session_t;

typedef struct {
    bool active;
    bool done;
    char candidates[MAX_CANDIDATES][OCF_ID_SIZE];
    size_t candidate_count;
    size_t current;
    char after[OCF_ID_SIZE];
    bool has_after;
    bool waiting;                    //  for a chunk (else: for the deadline to ask again)
    int64_t deadline;
    int64_t backoff;
} join_t;

struct _ocf_gossip_t {
    char id[OCF_ID_SIZE];
    ocf_gossip_config_t config;
    ocf_gossip_env_t env;
    ocf_members_t *view;
    uint64_t rng;
    int64_t now;
    uint64_t root;
    uint64_t entries;
    bool root_known;
    ocf_wire_buf_t out;              //  reused for every message sent

    //  failure detection
    char observers[MAX_OBSERVERS][OCF_ID_SIZE];
    int observer_count;
    bool observers_dirty;
    int64_t next_heartbeat;
    watched_t *watched;
    size_t watched_count;
    relay_t *relays;                 //  grown on demand up to MAX_RELAYS
    size_t relay_cap;
    uint32_t next_nonce;
    int health;                      //  local health multiplier: timeouts scale by 1 + health
    int64_t health_decay_at;
    int64_t health_blamed_helpers_at;    //  when silent helpers last raised the health (0: not lately)
    int64_t failure_seen_at;             //  when another member last turned suspect or dead in our view
    //  a sweep (ocf_gossip_detect.c): since when, our probes failed during it, when a suspect
    //  last stood in our window
    int64_t sweep_since;                 //  0: none under way
    int sweep_failures;
    int64_t sweep_seen;
    int64_t last_tick;
    int64_t late_tick_at;                //  when a tick last came more than a tick late (0: never)
    char accusers[MAX_ACCUSERS][OCF_ID_SIZE];
    size_t accuser_count;
    contact_t contacts[MAX_CONTACTS];    //  a ring, the latest at contact_next - 1
    size_t contact_next;
    char catch_up[MAX_CONTACTS][OCF_ID_SIZE];    //  peers that reached us after a silence
    size_t catch_up_count;

    //  the active view: the peers this node keeps talking to (fingers, ring neighbours)
    char active[MAX_ACTIVE][OCF_ID_SIZE];
    size_t active_count;

    //  dissemination
    ocf_recent_t *recent;
    ocf_outbox_t *outbox;            //  rumours held while a burst of messages is handled
    bool holding;                    //  inside ocf_gossip_receive: rumours go to the outbox
    int64_t next_round;
    ocf_item_t self_row;             //  this node's latest row, announced when joining (data owned)

    //  anti-entropy and snapshots
    pending_t *pending;              //  grown on demand up to MAX_PENDING
    size_t pending_cap;
    uint64_t next_token;
    drive_t drive;
    int64_t next_sync;
    int64_t next_dead_contact;
    bool sync_again;                 //  the last exchange could not carry everything: go on at once
    int64_t exchange_due_at;         //  an exchange then, after our refutation or one that repaired (0: none due)
    snap_session_t *snap_sessions;   //  at most config.max_snapshots
    size_t snap_session_count;
    join_t join;

    //  round-trip times: a PING to one peer every rtt_interval_ms
    ocf_rtt_t *rtt;
    int64_t next_rtt_ping;

    ocf_gossip_stats_t stats;
};

//  ocf_gossip.c
//  Adds id to a set of at most cap ids (ids[0 .. *count)), unless it is there or full.
void ocf_gossip_id_set_add (char (*ids)[OCF_ID_SIZE], size_t *count, size_t cap, const char *id);
//  Encodes and sends; returns -1 (and sends nothing) when the message exceeds max_frame.
int ocf_gossip_send (ocf_gossip_t *self, const char *peer, const ocf_wire_msg_t *msg);
void ocf_gossip_log (ocf_gossip_t *self, int level, const char *format, ...) __attribute__ ((format (printf, 3, 4)));
uint64_t ocf_gossip_random (ocf_gossip_t *self);
//  A nonce for a PING or PING_REQ, never 0, unique among those in flight.
uint32_t ocf_gossip_nonce (ocf_gossip_t *self);
//  Up to want distinct live members other than this node and except; returns how many.
size_t ocf_gossip_random_peers (ocf_gossip_t *self, const ocf_peer_t **out, size_t want, const char *except);
pending_t *ocf_gossip_query (ocf_gossip_t *self, pending_kind_t kind, const char *peer, uint32_t nonce,
                             const ocf_query_t *query);
void ocf_gossip_pending_free (pending_t *pending);
double ocf_gossip_health_scale (ocf_gossip_t *self);

//  ocf_gossip_detect.c
void ocf_gossip_detect_tick (ocf_gossip_t *self);
void ocf_gossip_detect_member_changed (ocf_gossip_t *self, const char *id);
//  A message came from peer (any type): it reaches us, and our suspicion of it ends.
void ocf_gossip_detect_heard (ocf_gossip_t *self, const char *peer);
void ocf_gossip_on_heartbeat (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg);
void ocf_gossip_on_ping (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg);
void ocf_gossip_on_ping_req (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg);
void ocf_gossip_on_ack (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg);
//  Up to want members alive in our view (suspects: or suspected) that sent us something within
//  a heartbeat interval and a half, latest first, other than except: in a partition, members
//  of our side.
size_t ocf_gossip_recent_contacts (ocf_gossip_t *self, const ocf_peer_t **out, size_t want, const char *except, bool suspects);
//  Whether peer sent us something within a heartbeat interval and a half.
bool ocf_gossip_heard_lately (ocf_gossip_t *self, const char *peer);
//  A membership item arrived in a rumour: confirmations of our suspicions, accusations of us.
void ocf_gossip_detect_on_member (ocf_gossip_t *self, const char *id, const ocf_wire_member_t *member);
//  peer holds (and may spread) a wrong view of this node: it gets our next refutation.
void ocf_gossip_detect_accused_by (ocf_gossip_t *self, const char *peer);
//  This node refutes: its new membership also goes straight to those who accused it.
void ocf_gossip_detect_refuted (ocf_gossip_t *self, const ocf_item_t *item);
void ocf_gossip_detect_free (ocf_gossip_t *self);

//  ocf_gossip_spread.c
//  The view changed: recomputes the active view (the tree's fingers and the ring neighbours).
void ocf_gossip_active_refresh (ocf_gossip_t *self);
//  Up to want distinct members of the active view other than except, alive in our view
//  (a suspect is no helper and no repair partner), at random, added to the found in out.
size_t ocf_gossip_active_peers (ocf_gossip_t *self, const ocf_peer_t **out, size_t found, size_t want,
                                const char *except);
void ocf_gossip_spread_tick (ocf_gossip_t *self);
//  Spreads items to every live member: down the tree of the whole ring, then IHAVE rounds.
void ocf_gossip_spread (ocf_gossip_t *self, const ocf_item_t *items, size_t count);
//  Whether an item of this content (a membership: of this state) is among the recent rumours.
bool ocf_gossip_seen (ocf_gossip_t *self, const ocf_item_t *item);
//  peer reached us after a silence: offered the recent deaths at the next round.
void ocf_gossip_spread_new_contact (ocf_gossip_t *self, const char *peer);
void ocf_gossip_on_rumour (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg);
void ocf_gossip_on_ihave (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg);
void ocf_gossip_on_want (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg);
//  Sends items to peer in as many RUMOURs as the frame size needs; onward: the peer spreads
//  them to everybody it knows (a tree rooted at it), else it only keeps them.
void ocf_gossip_send_items (ocf_gossip_t *self, const char *peer, const ocf_item_t *items, size_t count, bool onward);

//  ocf_gossip_sync.c
void ocf_gossip_sync_tick (ocf_gossip_t *self);
void ocf_gossip_sync_start (ocf_gossip_t *self, const char *peer);
void ocf_gossip_on_ae (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg);
void ocf_gossip_on_snap (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg);
typedef struct {
    const uint64_t *hashes;
    const ocf_digest_t *digests;
    size_t digest_count;
    const ocf_item_t *items;
    size_t item_count;
    const char *next;
    uint64_t root;
    uint64_t entries;
    bool failed;
} answer_t;
void ocf_gossip_sync_answer (ocf_gossip_t *self, pending_t *pending, const answer_t *answer);
void ocf_gossip_join_start (ocf_gossip_t *self);

#endif

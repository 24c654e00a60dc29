/*  sim: a deterministic, seeded simulator of a whole ocf-gossipd cluster in one process.
    Each simulated node runs the real protocol core (gossipd/ocf_gossip.h) against the real
    table code of its tabled (ocf_table, ocf_record), shared copy-on-write (sim_table.h). The
    network is an event queue with per-message delay, loss, partitions and crashes; time is
    simulated, so an hour takes seconds and every run with the same seed is the same run. Nothing here is mocked in the core: the simulator
    only replaces the sockets and the SQLite table around it.  */
#ifndef SIM_H
#define SIM_H

#include "ocf_gossip.h"
#include "sim_table.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t seed;
    size_t nodes;                //  members at the start, all knowing each other
    size_t spare;                //  more ids, for nodes that join later
    double loss;                 //  probability that a message is lost
    int64_t delay_min_ms;
    int64_t delay_max_ms;
    size_t row_size;             //  bytes a row is padded to (0: none, ~230 bytes)
    bool share_view;             //  start every node on one shared view (for large N)
    bool track_peers;            //  count the distinct peers each node exchanges messages with
    //  A loaded machine: after each tick a node's process stalls (is not scheduled) with this
    //  probability, for up to stall_max_ms; whatever reaches it meanwhile waits.
    double stall_rate;
    int64_t stall_max_ms;
    //  A loaded tabled: what a node merges reaches its table (and its view) this much later.
    int64_t table_delay_ms;
    ocf_gossip_config_t config;
} sim_options_t;

typedef struct {
    ocf_gossip_t *core;          //  NULL while the node is down
    sim_table_t *table;
    int group;                   //  partition group: messages between groups are lost
    uint64_t msgs_out;
    uint64_t bytes_out;
    uint32_t epoch;              //  ticks of an earlier run of the node are ignored
    int64_t stalled_until;       //  stall_rate: the process runs again at this time
    int64_t slow_ms;             //  sim_set_slow: what it sends leaves this much later
    bool holding;                //  received at the current time: its rumours wait for the time to move on
} sim_node_t;

typedef struct _sim_t sim_t;

void sim_options_defaults (sim_options_t *options);
sim_t *sim_new (const sim_options_t *options);
void sim_destroy (sim_t **self_p);

int64_t sim_now (sim_t *self);
size_t sim_size (sim_t *self);             //  nodes + spare
sim_node_t *sim_node (sim_t *self, size_t index);
//  What node `at` knows about node `about`.
sim_entry_t sim_entry (sim_t *self, size_t at, size_t about);
bool sim_up (sim_t *self, size_t index);

//  Runs the simulation until the given time.
void sim_run (sim_t *self, int64_t until);
//  Runs until cond holds (checked every check_ms) or deadline; true when it held.
bool sim_run_until (sim_t *self, int64_t deadline, int64_t check_ms, bool (*cond) (sim_t *sim, void *arg), void *arg);

//  With track_peers: the distinct peers node index sent a message to or got one from since
//  the last sim_peers_reset (what a real node would hold connections to, if none closed).
size_t sim_peers (sim_t *self, size_t index);
void sim_peers_reset (sim_t *self);

//  Conditions for sim_run_until, shared by the tests and the bench: every running node has
//  the same table root; and also sees every running node alive.
bool sim_all_same_root (sim_t *sim, void *arg);
bool sim_all_alive_and_same (sim_t *sim, void *arg);

//  Sorts measured durations ascending, for medians and percentiles.
void sim_sort_int64 (int64_t *values, size_t count);

//  Events of the world.
void sim_touch (sim_t *self, size_t index);            //  the node changes its record
void sim_crash (sim_t *self, size_t index);            //  kill -9: it stops, its table stays
void sim_restart (sim_t *self, size_t index);          //  back with a new generation
void sim_leave (sim_t *self, size_t index);            //  graceful leave, then it stops
void sim_join (sim_t *self, size_t index, size_t seed);  //  a spare node joins through seed
void sim_set_group (sim_t *self, size_t index, int group);
//  A split: `cut` nodes on one side, the rest on the other. Node indexes follow the ring (ids
//  are sorted), so nodes [0, cut) are an arc of it, the longest runs of failures to sweep;
//  scattered, the cut side is the first cut of a shuffle fixed by the seed, as real ids put
//  a site's hosts all over the ring (many short runs, every node near one).
typedef struct {
    size_t cut;
    bool scattered;
} sim_split_t;
//  Whether node index is on the cut side.
bool sim_cut_off (sim_t *self, const sim_split_t *split, size_t index);
//  Apart: the cut side in a partition group of its own; else every node back in one.
void sim_set_split (sim_t *self, const sim_split_t *split, bool apart);
//  A process starved of CPU with work queued: everything it sends from now on (answers,
//  heartbeats, refutations) leaves extra_ms late. 0: back to normal.
void sim_set_slow (sim_t *self, size_t index, int64_t extra_ms);

#endif

/*  ocf_tabled: what ocf-tabled does with each request, separated from its sockets.
    Owns the table (ocf_table), its persistence (ocf_store) and this node's own record; its
    parts, split by concern, share ocf_tabled_internal.h.
    The runner (main.c) feeds it decoded requests in batches: every request of a batch is
    applied to memory and written inside one SQLite transaction; ocf_tabled_commit() then
    makes the batch durable before any reply or event leaves the process, so an acknowledged
    change is never lost. A failed commit reloads the table from disk and fails the batch.  */
#ifndef OCF_TABLED_H
#define OCF_TABLED_H

#include "ocf_config.h"
#include "ocf_identity.h"
#include "ocf_msg.h"
#include "ocf_table.h"

typedef struct _ocf_tabled_t ocf_tabled_t;

//  Opens state_dir/table.db, loads the table, starts a new generation of this node's record
//  and commits it. identity (borrowed, kept until destroy) is this node: it names the own
//  record and signs it. Returns NULL with a message in error.
ocf_tabled_t *ocf_tabled_new (ocf_config_t *config, ocf_identity_t *identity, char *error, size_t error_size);
void ocf_tabled_destroy (ocf_tabled_t **self_p);

//  Handles one request decoded by ocf_msg_scan (its frames still alive); appends the reply
//  ([OK|ERR][json]) to reply.
void ocf_tabled_handle (ocf_tabled_t *self, ocf_msg_t *request, zmsg_t *reply);
//  Ends a batch. Returns 0, or -1 when its changes could not be made durable (then every
//  reply of the batch must be replaced by ocf_tabled_batch_error()).
int ocf_tabled_commit (ocf_tabled_t *self);
json_t *ocf_tabled_batch_error (ocf_tabled_t *self);
//  The next event produced by committed changes, as [topic][json]; NULL when none is left.
zmsg_t *ocf_tabled_pop_event (ocf_tabled_t *self);
//  Periodic work: reaping, compaction, checkpoints, last_alive flushes. Call every second.
void ocf_tabled_tick (ocf_tabled_t *self);

ocf_table_t *ocf_tabled_table (ocf_tabled_t *self);
uint64_t ocf_tabled_generation (ocf_tabled_t *self);
//  Counts a request that could not even be decoded (for STATS).
void ocf_tabled_count_bad_request (ocf_tabled_t *self);

#endif

/*  ocf_store: the node table's persistence in SQLite (state_dir/table.db).
    WAL journal, synchronous=NORMAL (a committed change survives a crash of the process,
    kill -9 included), writes grouped in BEGIN IMMEDIATE transactions, a short busy timeout
    so a person holding a write lock cannot stall the daemon. Checkpoints run on a thread of
    their own with a second connection (measured: an automatic checkpoint inside commits
    made a 1 KB row cost 21 us instead of 5), PASSIVE whenever the WAL grows past 1000 pages
    and TRUNCATE every checkpoint interval, so the event loop never waits for one.
    The schema carries a version and migrations; its views (live_nodes, services, gpus,
    tombstones) are for people using the sqlite3 CLI while the daemon runs.  */
#ifndef OCF_STORE_H
#define OCF_STORE_H

#include "ocf_table.h"

#include <stdbool.h>
#include <stdint.h>

#define OCF_STORE_SCHEMA_VERSION 2

typedef struct _ocf_store_t ocf_store_t;

//  Opens (creating or migrating) the database. Returns NULL with a message in error.
ocf_store_t *ocf_store_open (const char *path, char *error, size_t error_size);
void ocf_store_destroy (ocf_store_t **self_p);

//  Starts a write transaction unless one is open. Returns 0, or -1 when the database is busy
//  or failing (ocf_store_error says why); nothing has been written then.
int ocf_store_begin (ocf_store_t *self);
bool ocf_store_in_transaction (ocf_store_t *self);
int ocf_store_commit (ocf_store_t *self);
void ocf_store_rollback (ocf_store_t *self);
const char *ocf_store_error (ocf_store_t *self);

//  Writes what changed of the entry (mask from the merge) inside the open transaction: its
//  node row (record text and/or membership), its tombstone; deletes what it no longer has.
//  A changed record must still hold its text (entry->record).
int ocf_store_save_entry (ocf_store_t *self, const char *id, const ocf_entry_t *entry, int mask);
//  The record text of a node (malloc'd, length in *len), or NULL.
char *ocf_store_record (ocf_store_t *self, const char *id, size_t *len);
int ocf_store_save_last_alive (ocf_store_t *self, const char *id, int64_t last_alive);
//  This host's round-trip time to a node (the rtt table: local, never replicated).
int ocf_store_save_rtt (ocf_store_t *self, const char *id, double rtt_ms, int64_t updated_at);
int ocf_store_meta_set (ocf_store_t *self, const char *key, int64_t value);
int64_t ocf_store_meta_get (ocf_store_t *self, const char *key, int64_t fallback);

//  Loads every row and tombstone into table, without record texts (they stay on disk).
//  Returns the number of entries, or -1.
long ocf_store_load (ocf_store_t *self, ocf_table_t *table);
//  Starts the checkpoint thread: TRUNCATE every interval_ms, PASSIVE as the WAL grows.
int ocf_store_start_checkpoints (ocf_store_t *self, int64_t interval_ms);
//  Checkpoints completed by the thread (for stats).
uint64_t ocf_store_checkpoint_count (ocf_store_t *self);
//  Bytes of the database and its WAL, for stats.
int64_t ocf_store_file_size (ocf_store_t *self);
int64_t ocf_store_wal_size (ocf_store_t *self);

#endif

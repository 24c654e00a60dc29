/*  ocf_store: the node table's persistence in SQLite (state_dir/table.db).
    WAL journal, synchronous=NORMAL (a committed change survives a crash of the process,
    kill -9 included), writes grouped in BEGIN IMMEDIATE transactions, a short busy timeout
    so a person holding a write lock cannot stall the daemon, periodic TRUNCATE checkpoints.
    The schema carries a version and migrations; its views (live_nodes, services, gpus,
    tombstones) are for people using the sqlite3 CLI while the daemon runs.  */
#ifndef OCF_STORE_H
#define OCF_STORE_H

#include "ocf_table.h"

#include <stdbool.h>
#include <stdint.h>

#define OCF_STORE_SCHEMA_VERSION 1

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

//  Writes the entry's current state (inside the open transaction): its node row when it
//  has a record or membership, its tombstone when it has one; deletes what it lacks.
int ocf_store_save_entry (ocf_store_t *self, const char *id, const ocf_entry_t *entry);
int ocf_store_save_last_alive (ocf_store_t *self, const char *id, int64_t last_alive);
int ocf_store_meta_set (ocf_store_t *self, const char *key, int64_t value);
int64_t ocf_store_meta_get (ocf_store_t *self, const char *key, int64_t fallback);

//  Loads every row and tombstone into table. Returns the number of entries, or -1.
long ocf_store_load (ocf_store_t *self, ocf_table_t *table);
//  TRUNCATE checkpoint; returns 0 or -1 (busy readers only delay it).
int ocf_store_checkpoint (ocf_store_t *self);
//  Bytes of the database and its WAL, for stats.
int64_t ocf_store_file_size (ocf_store_t *self);
int64_t ocf_store_wal_size (ocf_store_t *self);

#endif

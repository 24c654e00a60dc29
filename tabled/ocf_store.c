/*  ocf_store: SQLite persistence of the node table.  */
#include "ocf_store.h"
#include "ocf_alloc.h"
#include "ocf_log.h"

#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

//  Each migration takes the schema from version i to i + 1; note, when set, is logged with
//  the number of rows the migration changed.
static const struct {
    const char *sql;
    const char *note;
} s_migrations[] = {
    //  1: the first schema
    { "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL);"
    "CREATE TABLE nodes ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  name TEXT,"                                   //  from the record, for people
    "  generation INTEGER,"                          //  NULL: membership known, record not yet
    "  version INTEGER,"
    "  status_generation INTEGER,"
    "  incarnation INTEGER,"
    "  status TEXT,"                                 //  alive | suspect | dead | left
    "  status_since INTEGER NOT NULL DEFAULT 0,"     //  ms, this host's observation
    "  last_alive INTEGER NOT NULL DEFAULT 0,"       //  ms, this host's observation
    "  content_hash INTEGER,"                        //  64-bit hash of record, for merging
    "  record TEXT"                                  //  JSON written by the node
    ");"
    "CREATE TABLE tombstone ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  generation INTEGER NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  declared_at INTEGER NOT NULL"
    ");"
    "CREATE VIEW live_nodes AS"
    "  SELECT id, name, status, generation, version, incarnation,"
    "         json_extract(record, '$.addr.proxy') AS proxy,"
    "         json_extract(record, '$.addr.gossip') AS gossip,"
    "         coalesce(json_array_length(record, '$.hardware.gpus'), 0) AS gpus,"
    "         coalesce(json_array_length(record, '$.services'), 0) AS services,"
    "         CASE WHEN last_alive > 0 THEN strftime('%Y-%m-%d %H:%M:%f', last_alive / 1000.0, 'unixepoch') END AS last_alive"
    "  FROM nodes WHERE record IS NOT NULL AND status IN ('alive', 'suspect');"
    "CREATE VIEW services AS"
    "  SELECT n.id AS node_id, n.name AS node, n.status AS node_status,"
    "         json_extract(s.value, '$.name') AS service,"
    "         g.value AS identity_group,"
    "         coalesce(json_extract(s.value, '$.status'), 'ready') AS status,"
    "         json_extract(s.value, '$.host') AS host,"
    "         json_extract(s.value, '$.port') AS port,"
    "         json_extract(s.value, '$.load.inflight') AS inflight,"
    "         json_extract(s.value, '$.load.max_inflight') AS max_inflight,"
    "         json_extract(s.value, '$.load.queue_depth') AS queue_depth,"
    "         json_extract(s.value, '$.load.kv_cache') AS kv_cache"
    "  FROM nodes AS n"
    "  JOIN json_each(n.record, '$.services') AS s"
    "  LEFT JOIN json_each(s.value, '$.identity_group') AS g"
    "  WHERE n.record IS NOT NULL;"
    "CREATE VIEW gpus AS"
    "  SELECT n.id AS node_id, n.name AS node,"
    "         json_extract(g.value, '$.index') AS gpu,"
    "         json_extract(g.value, '$.name') AS model,"
    "         json_extract(g.value, '$.uuid') AS uuid,"
    "         json_extract(g.value, '$.memory_total_mb') AS memory_total_mb,"
    "         json_extract(g.value, '$.memory_used_mb') AS memory_used_mb,"
    "         json_extract(g.value, '$.utilization') AS utilization,"
    "         json_extract(g.value, '$.temperature') AS temperature"
    "  FROM nodes AS n JOIN json_each(n.record, '$.hardware.gpus') AS g"
    "  WHERE n.record IS NOT NULL;"
    "CREATE VIEW tombstones AS"
    "  SELECT id, generation, reason,"
    "         strftime('%Y-%m-%d %H:%M:%f', declared_at / 1000.0, 'unixepoch') AS declared_at,"
    "         strftime('%Y-%m-%d %H:%M:%f', (declared_at + coalesce((SELECT value FROM meta"
    "             WHERE key = 'tombstone_retention_ms'), 86400000)) / 1000.0, 'unixepoch') AS expires_at"
    "  FROM tombstone;", NULL },
    //  2: signed rows. Rows and tombstones of schema 1 carry no signature and name nodes by
    //  their old ids (Z85 CURVE keys), which no node uses any more: they go, and the network
    //  refills the table within seconds (snapshot, anti-entropy). meta (this node's
    //  generation) stays, so generations keep growing.
    { "ALTER TABLE nodes ADD COLUMN sig BLOB;"      //  the owner's signature of the record
      "ALTER TABLE tombstone ADD COLUMN sig BLOB;"  //  of a left tombstone, by the node that left
      "DELETE FROM nodes; DELETE FROM tombstone;",
      "rows and tombstones without signatures (old node ids) removed" },
    //  3: round-trip times from this host to its peers, as gossipd measures them: this host's
    //  observations, never replicated, kept apart from the replicated nodes table; a node's
    //  goes with its row.
    { "CREATE TABLE rtt ("
      "  id TEXT PRIMARY KEY NOT NULL,"
      "  rtt_ms REAL NOT NULL,"                     //  round-trip time (least of recent samples)
      "  updated_at INTEGER NOT NULL"               //  ms, wall clock
      ");"
      "CREATE TRIGGER nodes_rtt_gone AFTER DELETE ON nodes BEGIN DELETE FROM rtt WHERE id = old.id; END;"
      "CREATE VIEW peer_rtt AS"
      "  SELECT r.id, n.name, n.status, round(r.rtt_ms, 2) AS rtt_ms,"
      "         strftime('%Y-%m-%d %H:%M:%f', r.updated_at / 1000.0, 'unixepoch') AS updated_at"
      "  FROM rtt AS r JOIN nodes AS n ON n.id = r.id;", NULL },
};
#define MIGRATION_COUNT (int) (sizeof s_migrations / sizeof s_migrations[0])

enum {
    STMT_UPSERT_NODE, STMT_UPSERT_MEMBER, STMT_DELETE_NODE, STMT_UPSERT_TOMBSTONE, STMT_DELETE_TOMBSTONE,
    STMT_LAST_ALIVE, STMT_RTT, STMT_META_SET, STMT_META_GET, STMT_RECORD, STMT_COUNT
};

static const char *s_statements[STMT_COUNT] = {
    [STMT_UPSERT_NODE] =
        "INSERT INTO nodes (id, name, generation, version, status_generation, incarnation, status,"
        "                   status_since, last_alive, content_hash, record, sig)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        " ON CONFLICT (id) DO UPDATE SET name = ?2, generation = ?3, version = ?4, status_generation = ?5,"
        "   incarnation = ?6, status = ?7, status_since = ?8, last_alive = max(last_alive, ?9),"
        "   content_hash = ?10, record = ?11, sig = ?12",
    //  A membership change leaves the record as it is.
    [STMT_UPSERT_MEMBER] =
        "INSERT INTO nodes (id, status_generation, incarnation, status, status_since) VALUES (?1, ?2, ?3, ?4, ?5)"
        " ON CONFLICT (id) DO UPDATE SET status_generation = ?2, incarnation = ?3, status = ?4, status_since = ?5",
    [STMT_DELETE_NODE] = "DELETE FROM nodes WHERE id = ?1",
    [STMT_UPSERT_TOMBSTONE] =
        "INSERT OR REPLACE INTO tombstone (id, generation, reason, declared_at, sig) VALUES (?1, ?2, ?3, ?4, ?5)",
    [STMT_DELETE_TOMBSTONE] = "DELETE FROM tombstone WHERE id = ?1",
    [STMT_LAST_ALIVE] = "UPDATE nodes SET last_alive = ?2 WHERE id = ?1 AND last_alive < ?2",
    [STMT_RTT] = "INSERT OR REPLACE INTO rtt (id, rtt_ms, updated_at) VALUES (?1, ?2, ?3)",
    [STMT_META_SET] = "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
    [STMT_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [STMT_RECORD] = "SELECT record FROM nodes WHERE id = ?1",
};

#define CHECKPOINT_PAGES 1000

struct _ocf_store_t {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *statements[STMT_COUNT];
    bool in_transaction;
    char error[512];
    //  the checkpoint thread and what it shares with the writer
    pthread_t checkpointer;
    bool checkpointing;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
    bool wal_full;               //  the WAL grew by CHECKPOINT_PAGES since the last wake-up
    int wal_pages_signalled;     //  WAL size at that wake-up (writer's thread only)
    bool stopping;
    int64_t interval_ms;
    uint64_t checkpoints;
};

static int
s_exec (ocf_store_t *self, const char *sql)
{
    char *message = NULL;
    if (sqlite3_exec (self->db, sql, NULL, NULL, &message) != SQLITE_OK) {
        snprintf (self->error, sizeof self->error, "%s", message ? message : sqlite3_errmsg (self->db));
        sqlite3_free (message);
        return -1;
    }
    return 0;
}

static int
s_schema_version (ocf_store_t *self)
{
    sqlite3_stmt *stmt;
    int version = 0;
    if (sqlite3_prepare_v2 (self->db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK) {
        if (sqlite3_step (stmt) == SQLITE_ROW)
            version = sqlite3_column_int (stmt, 0);
        sqlite3_finalize (stmt);
    }
    return version;
}

static int
s_migrate (ocf_store_t *self)
{
    int version = s_schema_version (self);
    if (version > MIGRATION_COUNT) {
        snprintf (self->error, sizeof self->error,
                  "schema version %d is newer than this ocf-tabled knows (%d): downgrades are not supported",
                  version, MIGRATION_COUNT);
        return -1;
    }
    while (version < MIGRATION_COUNT) {
        char pragma[64];
        snprintf (pragma, sizeof pragma, ";PRAGMA user_version = %d;", version + 1);
        if (s_exec (self, "BEGIN IMMEDIATE") != 0)
            return -1;
        int64_t changes = sqlite3_total_changes64 (self->db);
        if (s_exec (self, s_migrations[version].sql) != 0 || s_exec (self, pragma) != 0) {
            char saved[512];
            snprintf (saved, sizeof saved, "%s", self->error);
            s_exec (self, "ROLLBACK");
            snprintf (self->error, sizeof self->error, "migration to schema %d failed: %s", version + 1, saved);
            return -1;
        }
        if (s_exec (self, "COMMIT") != 0)
            return -1;
        changes = sqlite3_total_changes64 (self->db) - changes;
        if (s_migrations[version].note && changes > 0)
            ocf_log_notice ("table.db: %" PRId64 " %s", changes, s_migrations[version].note);
        ocf_log_info ("table.db: schema migrated to version %d", ++version);
    }
    return 0;
}

ocf_store_t *
ocf_store_open (const char *path, char *error, size_t error_size)
{
    ocf_store_t *self = ocf_calloc (1, sizeof *self);
    self->path = ocf_strdup (path);
    //  Group members (the ocf group) may read the database; nobody else.
    mode_t old_mask = umask (027);
    int rc = sqlite3_open_v2 (path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    umask (old_mask);
    if (rc != SQLITE_OK) {
        snprintf (error, error_size, "cannot open %s: %s", path, self->db ? sqlite3_errmsg (self->db) : "out of memory");
        ocf_store_destroy (&self);
        return NULL;
    }
    //  A person's write lock must not stall the event loop: fail fast and let the caller retry.
    sqlite3_busy_timeout (self->db, 50);
    pthread_mutex_init (&self->mutex, NULL);
    pthread_cond_init (&self->wake, NULL);
    if (s_exec (self, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -4096;"
                      "PRAGMA temp_store = MEMORY; PRAGMA journal_size_limit = 67108864;"
                      "PRAGMA wal_autocheckpoint = 0;") != 0
    ||  s_migrate (self) != 0) {
        snprintf (error, error_size, "%s: %s", path, self->error);
        ocf_store_destroy (&self);
        return NULL;
    }
    for (int i = 0; i < STMT_COUNT; i++)
        if (sqlite3_prepare_v3 (self->db, s_statements[i], -1, SQLITE_PREPARE_PERSISTENT, &self->statements[i], NULL) != SQLITE_OK) {
            snprintf (error, error_size, "%s: cannot prepare statement: %s", path, sqlite3_errmsg (self->db));
            ocf_store_destroy (&self);
            return NULL;
        }
    return self;
}

void
ocf_store_destroy (ocf_store_t **self_p)
{
    ocf_store_t *self = *self_p;
    if (!self)
        return;
    if (self->in_transaction)
        ocf_store_rollback (self);
    if (self->checkpointing) {
        pthread_mutex_lock (&self->mutex);
        self->stopping = true;
        pthread_cond_signal (&self->wake);
        pthread_mutex_unlock (&self->mutex);
        pthread_join (self->checkpointer, NULL);
    }
    //  Leave a small file behind: the next start reads no WAL.
    if (self->db)
        sqlite3_wal_checkpoint_v2 (self->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize (self->statements[i]);
    sqlite3_close (self->db);
    pthread_mutex_destroy (&self->mutex);
    pthread_cond_destroy (&self->wake);
    free (self->path);
    free (self);
    *self_p = NULL;
}

const char *
ocf_store_error (ocf_store_t *self)
{
    return self->error;
}

int
ocf_store_begin (ocf_store_t *self)
{
    if (self->in_transaction)
        return 0;
    //  IMMEDIATE: a deferred transaction that later writes fails with SQLITE_BUSY_SNAPSHOT.
    if (s_exec (self, "BEGIN IMMEDIATE") != 0)
        return -1;
    self->in_transaction = true;
    return 0;
}

bool
ocf_store_in_transaction (ocf_store_t *self)
{
    return self->in_transaction;
}

int
ocf_store_commit (ocf_store_t *self)
{
    if (!self->in_transaction)
        return 0;
    if (s_exec (self, "COMMIT") != 0) {
        ocf_store_rollback (self);
        return -1;
    }
    self->in_transaction = false;
    return 0;
}

void
ocf_store_rollback (ocf_store_t *self)
{
    if (self->in_transaction) {
        char saved[512];
        snprintf (saved, sizeof saved, "%s", self->error);
        s_exec (self, "ROLLBACK");
        snprintf (self->error, sizeof self->error, "%s", saved);
        self->in_transaction = false;
    }
}

//  Runs a bound statement to completion; resets it either way.
static int
s_step (ocf_store_t *self, sqlite3_stmt *stmt)
{
    int rc = sqlite3_step (stmt);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        snprintf (self->error, sizeof self->error, "%s", sqlite3_errmsg (self->db));
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static void
s_bind_member (sqlite3_stmt *stmt, int first, const ocf_entry_t *entry)
{
    if (entry->has_member) {
        sqlite3_bind_int64 (stmt, first, (sqlite3_int64) entry->member.generation);
        sqlite3_bind_int64 (stmt, first + 1, (sqlite3_int64) entry->member.incarnation);
        sqlite3_bind_text (stmt, first + 2, ocf_status_name (entry->member.status), -1, SQLITE_STATIC);
    }
    sqlite3_bind_int64 (stmt, first + 3, entry->status_since);
}

int
ocf_store_save_entry (ocf_store_t *self, const char *id, const ocf_entry_t *entry, int mask)
{
    sqlite3_stmt *stmt = NULL;
    bool has_node = entry && (entry->has_record || entry->has_member);
    if (!has_node) {
        stmt = self->statements[STMT_DELETE_NODE];
        sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    }
    else
    if (mask & OCF_CHANGED_RECORD) {
        stmt = self->statements[STMT_UPSERT_NODE];
        sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
        if (entry->has_record) {
            sqlite3_bind_text (stmt, 2, entry->name, -1, SQLITE_STATIC);
            sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) entry->generation);
            sqlite3_bind_int64 (stmt, 4, (sqlite3_int64) entry->version);
            sqlite3_bind_int64 (stmt, 10, (sqlite3_int64) entry->content_hash);
            sqlite3_bind_text (stmt, 11, entry->record, (int) entry->record_len, SQLITE_STATIC);
            sqlite3_bind_blob (stmt, 12, entry->sig, OCF_SIGNATURE_BYTES, SQLITE_STATIC);
        }
        s_bind_member (stmt, 5, entry);
        sqlite3_bind_int64 (stmt, 9, entry->last_alive);
    }
    else
    if (mask & OCF_CHANGED_MEMBER) {
        stmt = self->statements[STMT_UPSERT_MEMBER];
        sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
        s_bind_member (stmt, 2, entry);
    }
    if (stmt && s_step (self, stmt) != 0)
        return -1;
    if (!(mask & (OCF_CHANGED_TOMBSTONE | OCF_CHANGED_REMOVED)))
        return 0;
    if (entry && entry->has_tombstone) {
        stmt = self->statements[STMT_UPSERT_TOMBSTONE];
        sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) entry->tomb_generation);
        sqlite3_bind_text (stmt, 3, ocf_reason_name (entry->tomb_reason), -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 4, entry->tomb_declared_at);
        if (entry->tomb_has_sig)
            sqlite3_bind_blob (stmt, 5, entry->tomb_sig, OCF_SIGNATURE_BYTES, SQLITE_STATIC);
    }
    else {
        stmt = self->statements[STMT_DELETE_TOMBSTONE];
        sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    }
    return s_step (self, stmt);
}

char *
ocf_store_record (ocf_store_t *self, const char *id, size_t *len)
{
    sqlite3_stmt *stmt = self->statements[STMT_RECORD];
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    char *record = NULL;
    if (sqlite3_step (stmt) == SQLITE_ROW && sqlite3_column_type (stmt, 0) != SQLITE_NULL) {
        *len = (size_t) sqlite3_column_bytes (stmt, 0);
        record = ocf_malloc (*len + 1);
        memcpy (record, sqlite3_column_text (stmt, 0), *len + 1);
    }
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return record;
}

int
ocf_store_save_last_alive (ocf_store_t *self, const char *id, int64_t last_alive)
{
    sqlite3_stmt *stmt = self->statements[STMT_LAST_ALIVE];
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, last_alive);
    return s_step (self, stmt);
}

int
ocf_store_save_rtt (ocf_store_t *self, const char *id, double rtt_ms, int64_t updated_at)
{
    sqlite3_stmt *stmt = self->statements[STMT_RTT];
    sqlite3_bind_text (stmt, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_double (stmt, 2, rtt_ms);
    sqlite3_bind_int64 (stmt, 3, updated_at);
    return s_step (self, stmt);
}

int
ocf_store_meta_set (ocf_store_t *self, const char *key, int64_t value)
{
    sqlite3_stmt *stmt = self->statements[STMT_META_SET];
    sqlite3_bind_text (stmt, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, value);
    return s_step (self, stmt);
}

int64_t
ocf_store_meta_get (ocf_store_t *self, const char *key, int64_t fallback)
{
    sqlite3_stmt *stmt = self->statements[STMT_META_GET];
    sqlite3_bind_text (stmt, 1, key, -1, SQLITE_STATIC);
    int64_t value = fallback;
    if (sqlite3_step (stmt) == SQLITE_ROW)
        value = sqlite3_column_int64 (stmt, 0);
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return value;
}

//  A signature column: true when it holds one.
static bool
s_column_sig (sqlite3_stmt *stmt, int column, uint8_t sig[OCF_SIGNATURE_BYTES])
{
    if (sqlite3_column_bytes (stmt, column) != OCF_SIGNATURE_BYTES)
        return false;
    memcpy (sig, sqlite3_column_blob (stmt, column), OCF_SIGNATURE_BYTES);
    return true;
}

long
ocf_store_load (ocf_store_t *self, ocf_table_t *table)
{
    //  Tombstones first, so rows they cover are dropped as they would be on the wire.
    sqlite3_stmt *stmt;
    long loaded = 0, unsigned_rows = 0;
    //  What table.db holds was verified before it was written: signatures are not checked again
    //  (10,000 of them would add most of a second to every start).
    if (sqlite3_prepare_v2 (self->db, "SELECT id, generation, reason, declared_at, sig FROM tombstone", -1, &stmt, NULL) != SQLITE_OK)
        goto failed;
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        ocf_tombstone_in_t tombstone = { .generation = (uint64_t) sqlite3_column_int64 (stmt, 1),
                                         .declared_at = sqlite3_column_int64 (stmt, 3), .sig_state = OCF_SIG_GOOD };
        tombstone.has_sig = s_column_sig (stmt, 4, tombstone.sig);
        snprintf (tombstone.id, sizeof tombstone.id, "%s", (const char *) sqlite3_column_text (stmt, 0));
        int reason = ocf_reason_parse ((const char *) sqlite3_column_text (stmt, 2));
        tombstone.reason = reason < 0 ? OCF_REASON_REAPED : reason;
        ocf_table_merge_tombstone (table, &tombstone, 0, NULL);
        loaded++;
    }
    sqlite3_finalize (stmt);
    if (sqlite3_prepare_v2 (self->db,
            "SELECT id, generation, version, status_generation, incarnation, status, status_since, last_alive,"
            " content_hash, name, length(record), sig, (SELECT rtt_ms FROM rtt WHERE rtt.id = nodes.id) FROM nodes",
            -1, &stmt, NULL) != SQLITE_OK)
        goto failed;
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        const char *id = (const char *) sqlite3_column_text (stmt, 0);
        int64_t status_since = sqlite3_column_int64 (stmt, 6);
        int status = ocf_status_parse ((const char *) sqlite3_column_text (stmt, 5));
        ocf_member_t member = { (uint64_t) sqlite3_column_int64 (stmt, 3), (uint64_t) sqlite3_column_int64 (stmt, 4),
                                status < 0 ? OCF_STATUS_ALIVE : status };
        ocf_entry_t *entry = NULL;
        if (sqlite3_column_type (stmt, 1) != SQLITE_NULL) {
            //  Only what merging needs: the text stays on disk until someone asks for it.
            ocf_row_in_t row = { .generation = (uint64_t) sqlite3_column_int64 (stmt, 1),
                                 .version = (uint64_t) sqlite3_column_int64 (stmt, 2),
                                 .content_hash = (uint64_t) sqlite3_column_int64 (stmt, 8),
                                 .record_len = (size_t) sqlite3_column_int64 (stmt, 10),
                                 .has_member = sqlite3_column_type (stmt, 5) != SQLITE_NULL,
                                 .member = member, .sig_state = OCF_SIG_GOOD };
            snprintf (row.id, sizeof row.id, "%s", id);
            snprintf (row.name, sizeof row.name, "%s", (const char *) sqlite3_column_text (stmt, 9));
            //  Written by hand, or by a tool: no other host would take it from us.
            if (!s_column_sig (stmt, 11, row.sig))
                unsigned_rows++;
            else
                ocf_table_merge_row (table, &row, status_since, &entry);
        }
        else
        if (sqlite3_column_type (stmt, 5) != SQLITE_NULL) {
            ocf_member_in_t update = { .member = member };
            snprintf (update.id, sizeof update.id, "%s", id);
            ocf_table_merge_member (table, &update, status_since, &entry);
        }
        if (entry) {
            entry->status_since = status_since;
            entry->last_alive = sqlite3_column_int64 (stmt, 7);
            entry->has_rtt = sqlite3_column_type (stmt, 12) != SQLITE_NULL;
            entry->rtt_ms = sqlite3_column_double (stmt, 12);
            loaded++;
        }
    }
    sqlite3_finalize (stmt);
    if (unsigned_rows)
        ocf_log_warning ("table.db: %ld row(s) without a signature not loaded; their owners' next versions replace them",
                         unsigned_rows);
    return loaded;
failed:
    snprintf (self->error, sizeof self->error, "%s", sqlite3_errmsg (self->db));
    return -1;
}

//  Called by SQLite after each commit on the writer's connection, with the WAL's size. Wakes
//  the checkpointer once per CHECKPOINT_PAGES of growth: a WAL that cannot restart yet (a
//  reader holds a snapshot, or writes raced the last checkpoint) stays large for a while,
//  and waking at every commit then would checkpoint and fsync after every commit.
static int
s_wal_hook (void *arg, sqlite3 *db, const char *name, int pages)
{
    ocf_store_t *self = arg;
    if (pages < self->wal_pages_signalled)
        self->wal_pages_signalled = 0;              //  the WAL restarted from its beginning
    if (pages - self->wal_pages_signalled >= CHECKPOINT_PAGES) {
        self->wal_pages_signalled = pages;
        pthread_mutex_lock (&self->mutex);
        self->wal_full = true;
        pthread_cond_signal (&self->wake);
        pthread_mutex_unlock (&self->mutex);
    }
    return SQLITE_OK;
}

static void *
s_checkpoint_thread (void *arg)
{
    ocf_store_t *self = arg;
    sqlite3 *db;
    if (sqlite3_open_v2 (self->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        ocf_log_error ("checkpoint thread: cannot open %s: %s", self->path, sqlite3_errmsg (db));
        sqlite3_close (db);
        return NULL;
    }
    sqlite3_exec (db, "PRAGMA cache_size = -256", NULL, NULL, NULL);
    struct timespec next;
    clock_gettime (CLOCK_REALTIME, &next);
    pthread_mutex_lock (&self->mutex);
    while (!self->stopping) {
        struct timespec due = next;
        due.tv_sec += self->interval_ms / 1000;
        due.tv_nsec += (self->interval_ms % 1000) * 1000000;
        if (due.tv_nsec >= 1000000000) {
            due.tv_sec++;
            due.tv_nsec -= 1000000000;
        }
        int waited = 0;
        while (!self->stopping && !self->wal_full && waited != ETIMEDOUT)
            waited = pthread_cond_timedwait (&self->wake, &self->mutex, &due);
        if (self->stopping)
            break;
        bool periodic = waited == ETIMEDOUT;
        self->wal_full = false;
        pthread_mutex_unlock (&self->mutex);
        //  PASSIVE never blocks the writer or readers; TRUNCATE waits briefly for them and
        //  then gives the WAL's disk space back (a reader holding a snapshot only delays it).
        if (periodic) {
            sqlite3_busy_timeout (db, 20);
            clock_gettime (CLOCK_REALTIME, &next);
        }
        int rc = sqlite3_wal_checkpoint_v2 (db, NULL, periodic ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE,
                                            NULL, NULL);
        sqlite3_busy_timeout (db, 0);
        pthread_mutex_lock (&self->mutex);
        if (rc == SQLITE_OK)
            self->checkpoints++;
    }
    pthread_mutex_unlock (&self->mutex);
    sqlite3_close (db);
    return NULL;
}

int
ocf_store_start_checkpoints (ocf_store_t *self, int64_t interval_ms)
{
    self->interval_ms = interval_ms > 0 ? interval_ms : 60000;
    sqlite3_wal_hook (self->db, s_wal_hook, self);
    if (pthread_create (&self->checkpointer, NULL, s_checkpoint_thread, self) != 0) {
        snprintf (self->error, sizeof self->error, "cannot start the checkpoint thread");
        return -1;
    }
    self->checkpointing = true;
    return 0;
}

uint64_t
ocf_store_checkpoint_count (ocf_store_t *self)
{
    pthread_mutex_lock (&self->mutex);
    uint64_t count = self->checkpoints;
    pthread_mutex_unlock (&self->mutex);
    return count;
}

static int64_t
s_file_size (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0 ? (int64_t) st.st_size : 0;
}

int64_t
ocf_store_file_size (ocf_store_t *self)
{
    return s_file_size (self->path);
}

int64_t
ocf_store_wal_size (ocf_store_t *self)
{
    char wal[4200];
    snprintf (wal, sizeof wal, "%s-wal", self->path);
    return s_file_size (wal);
}

/*  ocf_tabled: the request dispatcher of ocf-tabled (one table of verbs: name, handler,
    whether it writes), replies, the batch's commit (or its rollback and reload), periodic
    work (reaping, compaction, last_alive flushes), construction. The verbs' handlers live
    by concern in ocf_tabled_self.c, _merge.c and _query.c; changes become events in
    _events.c (the map: ocf_tabled_internal.h). To add a verb: its handler in the file of
    its concern, declared in ocf_tabled_internal.h, and one line in s_verbs.  */
#include "ocf_tabled_internal.h"
#include "ocf_alloc.h"
#include "ocf_statedir.h"
#include "ocf_time.h"

#include <inttypes.h>

#define COMPACT_BATCH 512
#define QUARANTINE_MS 60000
#define SEEN_FLUSH_MS 10000
#define VERIFY_THREADS_MAX 7

//  --------------------------------------------------------------------------
//  Replies

void
ocf_tabled_reply_ok (zmsg_t *reply, json_t *body)
{
    ocf_msg_append (reply, "OK", body);
}

static void
s_reply_error (ocf_tabled_t *self, zmsg_t *reply, const char *code, const char *format, va_list args)
{
    char text[1024];
    vsnprintf (text, sizeof text, format, args);
    self->stats.errors++;
    ocf_msg_append (reply, "ERR", json_pack ("{s:s, s:s?}", "error", text, "code", code));
}

void
ocf_tabled_reply_error (ocf_tabled_t *self, zmsg_t *reply, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_reply_error (self, reply, NULL, format, args);
    va_end (args);
}

void
ocf_tabled_reply_refusal (ocf_tabled_t *self, zmsg_t *reply, const char *code, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_reply_error (self, reply, code, format, args);
    va_end (args);
}

//  --------------------------------------------------------------------------
//  The verbs. A handler gets the body as decoded by jansson or, raw, as the request text
//  (ocf_json spans, validated once by ocf_msg_scan): MERGE stores its rows as they came,
//  without building a tree. A verb that writes opens the batch's transaction first.

typedef void (verb_fn) (ocf_tabled_t *self, json_t *body, zmsg_t *reply);
typedef void (raw_verb_fn) (ocf_tabled_t *self, ocf_json_span_t body, zmsg_t *reply);

static const struct {
    const char *verb;
    verb_fn *handler;
    raw_verb_fn *raw;                //  instead of handler
    bool writes;
} s_verbs[] = {
    { "HELLO", ocf_tabled_on_hello, NULL, false },
    { "SELF.SET", ocf_tabled_on_self_set, NULL, true },
    { "SELF.RENEW", ocf_tabled_on_self_renew, NULL, true },
    { "SERVICE.UP", ocf_tabled_on_service_up, NULL, true },
    { "SERVICE.DOWN", ocf_tabled_on_service_down, NULL, true },
    { "SERVICE.LOAD", ocf_tabled_on_service_load, NULL, true },
    { "MERGE", NULL, ocf_tabled_on_merge, true },
    { "LEAVE", ocf_tabled_on_leave, NULL, true },
    { "SEEN", ocf_tabled_on_seen, NULL, false },
    { "RTT", ocf_tabled_on_rtt, NULL, true },
    { "GET", ocf_tabled_on_get, NULL, false },
    { "LIST", ocf_tabled_on_list, NULL, false },
    { "PROVIDERS", ocf_tabled_on_providers, NULL, false },
    { "SNAPSHOT", ocf_tabled_on_snapshot, NULL, false },
    { "DIGEST", ocf_tabled_on_digest, NULL, false },
    { "DELTA", ocf_tabled_on_delta, NULL, false },
    { "STATS", ocf_tabled_on_stats, NULL, false },
};
#define VERB_COUNT (sizeof s_verbs / sizeof s_verbs[0])

void
ocf_tabled_handle (ocf_tabled_t *self, ocf_msg_t *request, zmsg_t *reply)
{
    self->stats.requests++;
    for (size_t i = 0; i < VERB_COUNT; i++) {
        if (strcmp (request->verb, s_verbs[i].verb) != 0)
            continue;
        char error[512];
        json_t *body = s_verbs[i].handler ? ocf_msg_body (request, error, sizeof error) : NULL;
        if (s_verbs[i].handler && !body) {
            ocf_tabled_reply_error (self, reply, "%s", error);
            return;
        }
        if (s_verbs[i].writes && ocf_store_begin (self->store) != 0) {
            ocf_tabled_reply_refusal (self, reply, OCF_TABLED_STORAGE, "%s: table.db is busy or failing (%s); nothing "
                                      "was changed, retry", request->verb, ocf_store_error (self->store));
            return;
        }
        self->source = "merge";
        if (s_verbs[i].handler)
            s_verbs[i].handler (self, body, reply);
        else
            s_verbs[i].raw (self, ocf_json_root (request->text, request->text_len, &request->index), reply);
        return;
    }
    char known[512];
    size_t len = 0;
    for (size_t i = 0; i < VERB_COUNT && len < sizeof known; i++)
        len += (size_t) snprintf (known + len, sizeof known - len, "%s%s", i ? " " : "", s_verbs[i].verb);
    ocf_tabled_reply_error (self, reply, "unknown verb %s (known: %s)", request->verb, known);
}

//  --------------------------------------------------------------------------
//  Batches and periodic work

//  Rebuilds memory from disk after a failed commit: what the batch did is gone everywhere.
static void
s_reload (ocf_tabled_t *self)
{
    ocf_table_destroy (&self->table);
    self->table = ocf_table_new ();
    if (ocf_store_load (self->store, self->table) < 0)
        ocf_log_error ("reloading table.db failed: %s", ocf_store_error (self->store));
    self->generation = (uint64_t) ocf_store_meta_get (self->store, "generation", (int64_t) self->generation);
    json_t *own = ocf_tabled_record_json (self, self->id);
    if (own) {
        json_decref (self->own);
        self->own = own;
    }
}

int
ocf_tabled_commit (ocf_tabled_t *self)
{
    bool failed = self->batch_failed;
    if (!failed && ocf_store_in_transaction (self->store)) {
        if (ocf_store_commit (self->store) == 0)
            self->stats.commits++;
        else {
            failed = true;
            snprintf (self->batch_error, sizeof self->batch_error, "committing to table.db failed: %s",
                      ocf_store_error (self->store));
        }
    }
    if (failed) {
        ocf_store_rollback (self->store);
        self->stats.commit_failures++;
        ocf_log_error ("%s; the batch was rolled back and the table reloaded", self->batch_error);
        zlistx_purge (self->events);
        s_reload (self);
        self->batch_failed = false;
        return -1;
    }
    self->stats.events += zlistx_size (self->events);
    return 0;
}

json_t *
ocf_tabled_batch_error (ocf_tabled_t *self)
{
    return json_pack ("{s:s, s:s}", "error", self->batch_error, "code", OCF_TABLED_STORAGE);
}

static void
s_changed_callback (const char *id, int mask, void *arg)
{
    ocf_tabled_changed (arg, id, mask);
}

void
ocf_tabled_tick (ocf_tabled_t *self)
{
    int64_t now = ocf_time_mono_ms ();
    int64_t wall = ocf_time_wall_ms ();
    ocf_tabled_config_t *config = &self->config->tabled;
    if (now >= self->next_reap) {
        //  Reap checks run twenty times per reap_after, between once a second and once a minute.
        int64_t interval = config->reap_after_ms / 20;
        self->next_reap = now + (interval < 1000 ? 1000 : interval > 60000 ? 60000 : interval);
        if (ocf_store_begin (self->store) == 0) {
            self->source = "reap";
            size_t reaped = ocf_table_reap (self->table, wall, config->reap_after_ms, self->id, s_changed_callback, self);
            self->stats.reaped += reaped;
            if (reaped)
                ocf_log_info ("reaped %zu node(s) dead for longer than %" PRId64 " s", reaped, config->reap_after_ms / 1000);
        }
    }
    if (now >= self->next_compact) {
        int64_t interval = config->tombstone_retention_ms / 24;
        self->next_compact = now + (interval < 1000 ? 1000 : interval > 3600000 ? 3600000 : interval);
        if (ocf_store_begin (self->store) == 0) {
            self->source = "compact";
            size_t compacted = ocf_table_compact (self->table, wall, config->tombstone_retention_ms, QUARANTINE_MS,
                                                  COMPACT_BATCH, s_changed_callback, self);
            self->stats.compacted += compacted;
            if (compacted == COMPACT_BATCH)
                self->next_compact = now + 1000;     //  more are due: the next batch soon
            if (compacted)
                ocf_log_info ("compacted %zu tombstone(s) older than %" PRId64 " s", compacted,
                              config->tombstone_retention_ms / 1000);
        }
    }
    if (now >= self->next_seen_flush) {
        self->next_seen_flush = now + SEEN_FLUSH_MS;
        ocf_tabled_flush_seen (self);
    }
    ocf_tabled_commit (self);
}

//  --------------------------------------------------------------------------
//  Construction

ocf_tabled_t *
ocf_tabled_new (ocf_config_t *config, ocf_identity_t *identity, char *error, size_t error_size)
{
    ocf_tabled_t *self = ocf_calloc (1, sizeof *self);
    self->config = config;
    self->identity = identity;
    self->started_mono = ocf_time_mono_ms ();
    self->refusal_log = (ocf_loglimit_t) OCF_LOGLIMIT_INIT (1000);
    memcpy (self->id, ocf_identity_id (identity), OCF_ID_SIZE);
    self->events = zlistx_new ();
    zlistx_set_destructor (self->events, (zlistx_destructor_fn *) zmsg_destroy);
    self->seen_dirty = zhashx_new ();
    self->table = ocf_table_new ();
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    self->verify = ocf_verify_new (cores <= 1 ? 0 : cores > VERIFY_THREADS_MAX ? VERIFY_THREADS_MAX : (int) cores - 1);
    ocf_statedir_path (config->node.state_dir, OCF_STATE_TABLE_DB, self->db_path, sizeof self->db_path);
    self->store = ocf_store_open (self->db_path, error, error_size);
    if (!self->store) {
        ocf_tabled_destroy (&self);
        return NULL;
    }
    long loaded = ocf_store_load (self->store, self->table);
    if (loaded < 0) {
        snprintf (error, error_size, "cannot load %s: %s", self->db_path, ocf_store_error (self->store));
        ocf_tabled_destroy (&self);
        return NULL;
    }
    if (ocf_tabled_own_start (self, error, error_size) != 0
    ||  ocf_store_start_checkpoints (self->store, config->tabled.checkpoint_interval_ms) != 0) {
        if (!*error)
            snprintf (error, error_size, "%s", ocf_store_error (self->store));
        ocf_tabled_destroy (&self);
        return NULL;
    }
    ocf_log_info ("loaded %ld entries from %s; this node is %s, generation %" PRIu64, loaded, self->db_path,
                  self->id, self->generation);
    return self;
}

void
ocf_tabled_destroy (ocf_tabled_t **self_p)
{
    ocf_tabled_t *self = *self_p;
    if (!self)
        return;
    if (self->store) {
        ocf_tabled_flush_seen (self);
        ocf_store_commit (self->store);
    }
    ocf_store_destroy (&self->store);
    ocf_table_destroy (&self->table);
    ocf_verify_destroy (&self->verify);
    zlistx_destroy (&self->events);
    zhashx_destroy (&self->seen_dirty);
    json_decref (self->own);
    free (self);
    *self_p = NULL;
}

ocf_table_t *ocf_tabled_table (ocf_tabled_t *self) { return self->table; }
uint64_t ocf_tabled_generation (ocf_tabled_t *self) { return self->generation; }

void
ocf_tabled_count_bad_request (ocf_tabled_t *self)
{
    self->stats.requests++;
    self->stats.bad_requests++;
    self->stats.errors++;
}

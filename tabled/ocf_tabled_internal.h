/*  ocf_tabled_internal: ocf-tabled's state, shared by its parts and by nothing else.
      ocf_tabled.c          construction, the verb table and dispatch, replies, batch commit,
                            periodic work (reaping, compaction, last_alive flushes)
      ocf_tabled_events.c   changes: persisted in the open transaction, framed as events
      ocf_tabled_self.c     this node's record: its start, generations and defence; HELLO,
                            SELF.SET, SELF.RENEW, SERVICE.UP/DOWN/LOAD, LEAVE
      ocf_tabled_merge.c    what other hosts report: MERGE (signatures, refusals), SEEN
      ocf_tabled_query.c    reads: GET, LIST, PROVIDERS, STATS; SNAPSHOT, DIGEST, DELTA
    A verb is a handler in the file of its concern plus one line in ocf_tabled.c's table.  */
#ifndef OCF_TABLED_INTERNAL_H
#define OCF_TABLED_INTERNAL_H

#include "ocf_log.h"
#include "ocf_loglimit.h"
#include "ocf_store.h"
#include "ocf_tabled.h"
#include "ocf_verify.h"

struct _ocf_tabled_t {
    ocf_config_t *config;
    ocf_identity_t *identity;    //  this node's key (borrowed): signs its record and its leave
    char id[OCF_ID_SIZE];
    ocf_table_t *table;
    ocf_store_t *store;
    ocf_verify_t *verify;        //  checks the signatures of a MERGE's new rows in parallel
    char db_path[4200];
    json_t *own;                 //  this node's record (owner fields), as last written
    uint64_t generation;         //  this node's current generation
    uint64_t boot;               //  generation at start: names this run's event stream
    uint64_t seq;                //  last event sequence number
    zlistx_t *events;            //  zmsg_t events of the open batch
    const char *source;          //  what the open request is: "self", "merge", "reap"...
    bool batch_failed;
    char batch_error[512];
    zhashx_t *seen_dirty;        //  ids whose last_alive changed since the last flush
    int64_t started_mono, next_reap, next_compact, next_seen_flush;
    struct {
        uint64_t requests, bad_requests, errors, writes, commits, commit_failures;
        uint64_t applied, stale, events, reaped, compacted, refutations;
        uint64_t refused_signature, refused_reaped;
    } stats;
    ocf_loglimit_t refusal_log;  //  refused rows: a line a second
};

//  ocf_tabled.c
void ocf_tabled_reply_ok (zmsg_t *reply, json_t *body);
void ocf_tabled_reply_error (ocf_tabled_t *self, zmsg_t *reply, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
//  An ERR whose body names a code (docs/protocol.md), so that a client tells the server's
//  failures (OCF_TABLED_STORAGE: table.db cannot be written, nothing changed) and refusals
//  of what is not the caller's (OCF_TABLED_NOT_YOURS) from a bad request.
#define OCF_TABLED_STORAGE "storage"
#define OCF_TABLED_NOT_YOURS "not_yours"
void ocf_tabled_reply_refusal (ocf_tabled_t *self, zmsg_t *reply, const char *code, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

//  ocf_tabled_events.c: persists a change of id (mask: OCF_CHANGED_*) inside the open
//  transaction and queues its events, stamped with self->source.
void ocf_tabled_changed (ocf_tabled_t *self, const char *id, int mask);
//  Queues a "seen" event: {id: last_alive ms} of the nodes SEEN just heard from (taken).
void ocf_tabled_seen_event (ocf_tabled_t *self, json_t *seen);
//  Queues an "rtt" event: {id: rtt_ms} of the round-trip times RTT just recorded (taken).
void ocf_tabled_rtt_event (ocf_tabled_t *self, json_t *rtt);

//  ocf_tabled_self.c
int ocf_tabled_own_start (ocf_tabled_t *self, char *error, size_t error_size);
void ocf_tabled_own_defend (ocf_tabled_t *self);
void ocf_tabled_on_hello (ocf_tabled_t *self, json_t *body, zmsg_t *reply);
void ocf_tabled_on_self_set (ocf_tabled_t *self, json_t *body, zmsg_t *reply);
void ocf_tabled_on_self_renew (ocf_tabled_t *self, json_t *body, zmsg_t *reply);
void ocf_tabled_on_service_up (ocf_tabled_t *self, json_t *body, zmsg_t *reply);
void ocf_tabled_on_service_down (ocf_tabled_t *self, json_t *body, zmsg_t *reply);
void ocf_tabled_on_service_load (ocf_tabled_t *self, json_t *body, zmsg_t *reply);
void ocf_tabled_on_leave (ocf_tabled_t *self, json_t *body, zmsg_t *reply);

//  ocf_tabled_merge.c
void ocf_tabled_on_merge (ocf_tabled_t *self, ocf_json_span_t body, zmsg_t *reply);
void ocf_tabled_on_seen (ocf_tabled_t *self, json_t *body, zmsg_t *reply);
void ocf_tabled_on_rtt (ocf_tabled_t *self, json_t *body, zmsg_t *reply);
//  Writes the last_alive times SEEN changed (in a transaction the next commit ends).
void ocf_tabled_flush_seen (ocf_tabled_t *self);

//  ocf_tabled_query.c
json_t *ocf_tabled_record_json (ocf_tabled_t *self, const char *id);
void ocf_tabled_on_get (ocf_tabled_t *self, json_t *body, zmsg_t *reply);
void ocf_tabled_on_list (ocf_tabled_t *self, json_t *body, zmsg_t *reply);
void ocf_tabled_on_providers (ocf_tabled_t *self, json_t *body, zmsg_t *reply);
void ocf_tabled_on_stats (ocf_tabled_t *self, json_t *body, zmsg_t *reply);
void ocf_tabled_on_snapshot (ocf_tabled_t *self, json_t *body, zmsg_t *reply);
void ocf_tabled_on_digest (ocf_tabled_t *self, json_t *body, zmsg_t *reply);
void ocf_tabled_on_delta (ocf_tabled_t *self, json_t *body, zmsg_t *reply);

#endif

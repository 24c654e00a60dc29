/*  ocf_bridge: requests to ocf-tabled, its events, the view, JSON <-> items.  */
#include "ocf_bridge.h"
#include "ocf_alloc.h"
#include "ocf_client.h"
#include "ocf_follower.h"
#include "ocf_identity.h"
#include "ocf_log.h"
#include "ocf_msg.h"
#include "ocf_record.h"
#include "ocf_time.h"

#include <inttypes.h>

#define REQUEST_TIMEOUT_MS 2000
#define HELLO_RETRY_MS 500
#define LIST_PAGE 1000
#define ROOT_REFRESH_MS 1000         //  also without events: compaction changes the root silently
#define ROOT_DEBOUNCE_MS 100
#define SEEN_INTERVAL_MS 1000
#define RTT_BATCH 256
#define MERGE_BATCH_ITEMS 512
#define MERGE_BUFFER_BYTES (8u << 20)
#define MERGES_IN_FLIGHT 2
#define QUEUED_EVENTS_MAX 10000

typedef enum { REQ_FOLLOW, REQ_ROOT, REQ_MERGE, REQ_SEEN, REQ_RTT, REQ_QUERY } request_kind_t;

typedef struct {
    request_kind_t kind;
    uint64_t tag;                    //  echoed by tabled in the reply's envelope
    int64_t deadline;
    uint64_t token;                  //  REQ_QUERY
    ocf_query_kind_t query;
    zlistx_t *batch;                 //  REQ_MERGE: the items sent, to keep on a time-out
} request_t;

//  An item waiting to be merged: its JSON for MERGE.
typedef struct {
    ocf_item_kind_t kind;
    json_t *json;
    size_t bytes;
    char from[OCF_ID_SIZE];          //  the peer it came from ("": this node)
} pending_merge_t;

//  Items built from tabled's JSON, with the payloads they point to.
typedef struct {
    ocf_item_t *items;
    size_t count, cap;
    zlistx_t *payloads;
} item_set_t;

struct _ocf_bridge_t {
    char api_endpoint[300];
    char events_endpoint[300];
    zsock_t *api;
    zsock_t *events;
    ocf_members_t *view;
    ocf_bridge_handler_t handler;
    ocf_gossip_t *core;
    size_t max_message;
    ocf_follower_t *follower;        //  HELLO, LIST, events: the view follows tabled
    zlistx_t *in_flight;             //  request_t, in the order sent
    uint64_t next_tag;
    uint64_t follow_tag;             //  the follower's request out (0: none)
    char self_id[OCF_ID_SIZE];
    json_t *own_row;                 //  found while listing
    ocf_members_t *loading;          //  the view being listed
    zlistx_t *pending;               //  pending_merge_t
    size_t pending_bytes;
    size_t merges_in_flight;
    bool root_dirty, root_in_flight;
    int64_t next_root;
    int64_t root_asked;
    zhashx_t *seen;
    int64_t next_seen;
    int64_t next_rtt;
    ocf_bridge_stats_t stats;
};

//  --------------------------------------------------------------------------
//  Items from tabled's JSON

static void
s_set_init (item_set_t *set)
{
    memset (set, 0, sizeof *set);
    set->payloads = zlistx_new ();
    zlistx_set_destructor (set->payloads, (zlistx_destructor_fn *) zstr_free);
}

static void
s_set_free (item_set_t *set)
{
    free (set->items);
    zlistx_destroy (&set->payloads);
}

static void
s_set_add (item_set_t *set, ocf_item_kind_t kind, const char *id, void *payload, size_t size)
{
    if (set->count == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 16;
        set->items = ocf_realloc (set->items, set->cap * sizeof *set->items);
    }
    zlistx_add_end (set->payloads, payload);
    ocf_item_t *item = &set->items[set->count++];
    *item = (ocf_item_t) { .kind = kind, .data = payload, .size = (uint32_t) size };
    snprintf (item->id, sizeof item->id, "%s", id);
}

//  A row as it travels: tabled's row without this host's observations (last_alive, rtt_ms).
static void
s_add_row (item_set_t *set, json_t *row)
{
    const char *id = json_string_value (json_object_get (row, "id"));
    if (!ocf_identity_id_valid (id))
        return;
    json_t *copy = json_copy (row);
    json_object_del (copy, "last_alive");
    json_object_del (copy, "rtt_ms");
    char *text = json_dumps (copy, JSON_COMPACT);
    json_decref (copy);
    if (text)
        s_set_add (set, OCF_ITEM_ROW, id, text, strlen (text));
}

static void
s_add_member (item_set_t *set, json_t *object)
{
    const char *id = json_string_value (json_object_get (object, "id"));
    int status = ocf_status_parse (json_string_value (json_object_get (object, "status")));
    json_int_t generation = json_integer_value (json_object_get (object, "generation"));
    if (!ocf_identity_id_valid (id) || status < 0 || generation < 1)
        return;
    ocf_wire_member_t member = { (uint64_t) generation, (uint64_t) json_integer_value (json_object_get (object, "incarnation")),
                                 status, { 0 } };
    uint8_t *payload = ocf_malloc (OCF_WIRE_PAYLOAD_MAX);
    s_set_add (set, OCF_ITEM_MEMBER, id, payload, ocf_wire_member_encode (&member, payload));
}

//  A leave carries its node's signature across: every table on the way checks it.
static void
s_add_tombstone (item_set_t *set, json_t *object)
{
    ocf_tombstone_in_t parsed;
    char error[256];
    if (ocf_record_parse_tombstone (object, &parsed, error, sizeof error) != 0)
        return;
    ocf_wire_tombstone_t tombstone = { parsed.generation, parsed.reason, parsed.declared_at };
    uint8_t *payload = ocf_malloc (OCF_WIRE_PAYLOAD_MAX);
    s_set_add (set, OCF_ITEM_TOMBSTONE, parsed.id, payload,
               ocf_wire_tombstone_encode_signed (&tombstone, parsed.has_sig ? parsed.sig : NULL, payload));
}

//  {"rows": [...], "members": [...], "tombstones": [...]} as items.
static void
s_add_entries (item_set_t *set, json_t *reply)
{
    size_t index;
    json_t *value;
    json_array_foreach (json_object_get (reply, "rows"), index, value)
        s_add_row (set, value);
    json_array_foreach (json_object_get (reply, "members"), index, value)
        s_add_member (set, value);
    json_array_foreach (json_object_get (reply, "tombstones"), index, value)
        s_add_tombstone (set, value);
}

bool
ocf_bridge_row_valid (const ocf_item_t *item, size_t max_record)
{
    json_t *row = json_loadb ((const char *) item->data, item->size, JSON_REJECT_DUPLICATES, NULL);
    ocf_row_in_t parsed;
    char error[256];
    bool valid = row && ocf_record_parse_row (row, max_record, &parsed, error, sizeof error) == 0;
    if (valid) {
        valid = strcmp (parsed.id, item->id) == 0;
        ocf_row_in_clear (&parsed);
    }
    json_decref (row);
    return valid;
}

static uint64_t
s_hex64 (const char *text)
{
    return text ? strtoull (text, NULL, 16) : 0;
}

//  --------------------------------------------------------------------------
//  Requests

static void
s_request_destroy (void **item)
{
    request_t *request = *item;
    if (request) {
        zlistx_destroy (&request->batch);
        free (request);
        *item = NULL;
    }
}

static void
s_pending_destroy (void **item)
{
    pending_merge_t *pending = *item;
    if (pending) {
        json_decref (pending->json);
        free (pending);
        *item = NULL;
    }
}

static request_t *
s_request (ocf_bridge_t *self, request_kind_t kind, const char *verb, json_t *body, int64_t now)
{
    request_t *request = ocf_calloc (1, sizeof *request);
    request->kind = kind;
    request->tag = ++self->next_tag;
    request->deadline = now + REQUEST_TIMEOUT_MS;
    self->stats.requests++;
    //  [tag][empty][verb][body]: tabled sends the envelope back, so a reply always finds its
    //  request, even when a restart of tabled lost the requests before it.
    zmsg_t *zmsg = zmsg_new ();
    zmsg_addmem (zmsg, &request->tag, sizeof request->tag);
    zmsg_addmem (zmsg, NULL, 0);
    ocf_msg_append (zmsg, verb, body);
    if (zmsg_send (&zmsg, self->api) != 0)
        zmsg_destroy (&zmsg);
    if (self->handler.api_sent)
        self->handler.api_sent (self->handler.arg);
    zlistx_add_end (self->in_flight, request);
    return request;
}

//  A new socket to tabled's API. A socket replaced is handed over before it is destroyed: a
//  loop still polling it would fail on it and end, and gossipd with it.
static void
s_connect (ocf_bridge_t *self)
{
    zsock_t *old = self->api;
    self->api = zsock_new (ZMQ_DEALER);
    zsock_set_linger (self->api, 0);
    zsock_set_sndhwm (self->api, 10000);
    zsock_set_rcvhwm (self->api, 10000);
    zsock_connect (self->api, "%s", self->api_endpoint);
    if (old && self->handler.api_replaced)
        self->handler.api_replaced (self->handler.arg, old, self->api);
    zsock_destroy (&old);
}

static void
s_requeue (ocf_bridge_t *self, zlistx_t *batch)
{
    pending_merge_t *pending;
    while (batch && (pending = zlistx_detach (batch, NULL))) {
        self->pending_bytes += pending->bytes;
        zlistx_add_end (self->pending, pending);
    }
}

//  A request tabled will never answer (it restarted, or went silent): whatever waited on it
//  learns so.
static void
s_request_lost (ocf_bridge_t *self, request_t *request, int64_t now)
{
    switch (request->kind) {
        case REQ_QUERY:
            if (self->core)
                ocf_gossip_answer_failed (self->core, now, request->token);
            break;
        case REQ_MERGE:
            s_requeue (self, request->batch);
            self->merges_in_flight--;
            break;
        case REQ_ROOT:
            self->root_in_flight = false;
            break;
        case REQ_FOLLOW:
            if (request->tag == self->follow_tag) {
                self->follow_tag = 0;
                ocf_follower_lost (self->follower, now, "tabled restarted and lost the request");
            }
            break;
        case REQ_SEEN:
        case REQ_RTT:
            break;
    }
}

//  tabled went silent: everything in flight is lost (merges wait again), and the socket is
//  replaced so that nothing queued for the old tabled goes to a new one.
static void
s_link_lost (ocf_bridge_t *self, int64_t now)
{
    self->follow_tag = 0;
    request_t *request;
    while ((request = zlistx_detach (self->in_flight, NULL))) {
        s_request_lost (self, request, now);
        void *item = request;
        s_request_destroy (&item);
    }
    self->merges_in_flight = 0;
    self->root_in_flight = false;
    ocf_follower_lost (self->follower, now, "no reply");
    s_connect (self);
}

static void
s_flush_merges (ocf_bridge_t *self, int64_t now)
{
    while (ocf_follower_following (self->follower) && self->merges_in_flight < MERGES_IN_FLIGHT && zlistx_size (self->pending)) {
        json_t *body = json_pack ("{s:[], s:[], s:[]}", "rows", "members", "tombstones");
        zlistx_t *batch = zlistx_new ();
        zlistx_set_destructor (batch, s_pending_destroy);
        size_t bytes = 0;
        pending_merge_t *pending;
        //  One sender per MERGE, so that tabled can name who relayed what it refuses.
        const pending_merge_t *first = zlistx_first (self->pending);
        if (*first->from)
            json_object_set_new (body, "from", json_string (first->from));
        while (zlistx_size (batch) < MERGE_BATCH_ITEMS && (pending = zlistx_first (self->pending))
        &&     (bytes == 0 || (bytes + pending->bytes < self->max_message / 2 && strcmp (pending->from, first->from) == 0))) {
            zlistx_detach_cur (self->pending);
            self->pending_bytes -= pending->bytes;
            bytes += pending->bytes;
            const char *key = pending->kind == OCF_ITEM_ROW ? "rows" : pending->kind == OCF_ITEM_MEMBER ? "members" : "tombstones";
            json_array_append (json_object_get (body, key), pending->json);
            zlistx_add_end (batch, pending);
        }
        self->stats.merges++;
        self->stats.merged_items += zlistx_size (batch);
        request_t *request = s_request (self, REQ_MERGE, "MERGE", body, now);
        request->batch = batch;
        self->merges_in_flight++;
    }
}

static void
s_request_root (ocf_bridge_t *self, int64_t now)
{
    if (!ocf_follower_following (self->follower) || self->root_in_flight)
        return;
    self->root_in_flight = true;
    self->root_dirty = false;
    self->root_asked = now;
    self->next_root = now + ROOT_REFRESH_MS;
    s_request (self, REQ_ROOT, "DIGEST", NULL, now);
}

//  --------------------------------------------------------------------------
//  The view

static void
s_view_set_row (ocf_members_t *view, json_t *row)
{
    const char *id = json_string_value (json_object_get (row, "id"));
    int status = ocf_status_parse (json_string_value (json_object_get (row, "status")));
    if (!ocf_identity_id_valid (id) || status < 0)
        return;
    json_int_t generation = json_integer_value (json_object_get (row, "generation"));
    json_t *status_generation = json_object_get (row, "status_generation");
    if (json_is_integer (status_generation))
        generation = json_integer_value (status_generation);
    ocf_members_set (view, id, (uint64_t) generation, (uint64_t) json_integer_value (json_object_get (row, "incarnation")),
                     status, json_string_value (json_object_get (json_object_get (row, "addr"), "gossip")));
}

static void
s_notify (ocf_bridge_t *self, const char *id)
{
    if (self->handler.member_changed)
        self->handler.member_changed (self->handler.arg, id, ocf_members_get (self->view, id));
}

static void
s_own (ocf_bridge_t *self, void (*add) (item_set_t *, json_t *), json_t *value)
{
    item_set_t set;
    s_set_init (&set);
    add (&set, value);
    if (set.count && self->handler.own_change)
        self->handler.own_change (self->handler.arg, &set.items[0]);
    s_set_free (&set);
}

static void
s_follow_event (void *arg, const char *topic, json_t *body)
{
    ocf_bridge_t *self = arg;
    if (strcmp (topic, "seen") == 0 || strcmp (topic, "rtt") == 0)
        return;                  //  local observations (last_alive, rtt_ms): nothing that travels
    bool own = json_is_string (json_object_get (body, "source"))
            && strcmp (json_string_value (json_object_get (body, "source")), "self") == 0;
    self->root_dirty = true;
    if (strcmp (topic, "row") == 0) {
        json_t *row = json_object_get (body, "row");
        s_view_set_row (self->view, row);
        s_notify (self, json_string_value (json_object_get (row, "id")));
        if (own)
            s_own (self, s_add_row, row);
    }
    else
    if (strcmp (topic, "status") == 0) {
        json_t *member = json_object_get (body, "member");
        const char *id = json_string_value (json_object_get (member, "id"));
        const ocf_peer_t *known = id ? ocf_members_get (self->view, id) : NULL;
        int status = ocf_status_parse (json_string_value (json_object_get (member, "status")));
        if (known && status >= 0) {
            ocf_members_set (self->view, id, (uint64_t) json_integer_value (json_object_get (member, "generation")),
                             (uint64_t) json_integer_value (json_object_get (member, "incarnation")), status, NULL);
            s_notify (self, id);
        }
        if (own)
            s_own (self, s_add_member, member);
    }
    else
    if (strcmp (topic, "tombstone") == 0) {
        json_t *tombstone = json_object_get (body, "tombstone");
        const char *id = json_string_value (json_object_get (tombstone, "id"));
        const ocf_peer_t *known = id ? ocf_members_get (self->view, id) : NULL;
        if (known && known->generation <= (uint64_t) json_integer_value (json_object_get (tombstone, "generation"))) {
            ocf_members_remove (self->view, id);
            s_notify (self, id);
        }
        if (own)
            s_own (self, s_add_tombstone, tombstone);
    }
}

//  --------------------------------------------------------------------------
//  The follower's requests and what it tells

static void
s_follow_send (void *arg, const char *verb, json_t *body)
{
    ocf_bridge_t *self = arg;
    self->follow_tag = s_request (self, REQ_FOLLOW, verb, body, ocf_time_mono_ms ())->tag;
}

static void
s_follow_hello (void *arg, json_t *hello)
{
    ocf_bridge_t *self = arg;
    snprintf (self->self_id, sizeof self->self_id, "%s", json_string_value (json_object_get (hello, "id")));
    if (self->handler.hello)
        self->handler.hello (self->handler.arg, hello);
}

static void
s_follow_load_begin (void *arg, json_t *page)
{
    ocf_bridge_t *self = arg;
    ocf_members_destroy (&self->loading);
    self->loading = ocf_members_new ();
}

static void
s_follow_row (void *arg, json_t *row)
{
    ocf_bridge_t *self = arg;
    s_view_set_row (self->loading, row);
    //  This node's row is handed to the core once the view is in place: it may have changed
    //  while we were not following.
    const char *id = json_string_value (json_object_get (row, "id"));
    if (id && strcmp (id, self->self_id) == 0) {
        json_decref (self->own_row);
        self->own_row = json_incref (row);
    }
}

//  The listed view replaces the old one; the core hears of every id either had.
static void
s_follow_loaded (void *arg)
{
    ocf_bridge_t *self = arg;
    int64_t now = ocf_time_mono_ms ();
    zlistx_t *ids = zlistx_new ();
    zlistx_set_destructor (ids, (zlistx_destructor_fn *) zstr_free);
    for (size_t i = 0; i < ocf_members_size (self->view); i++)
        zlistx_add_end (ids, ocf_strdup (ocf_members_at (self->view, i)->id));
    ocf_members_clear (self->view);
    for (size_t i = 0; i < ocf_members_size (self->loading); i++) {
        const ocf_peer_t *member = ocf_members_at (self->loading, i);
        ocf_members_set (self->view, member->id, member->generation, member->incarnation, member->status, member->endpoint);
        zlistx_add_end (ids, ocf_strdup (member->id));
    }
    ocf_members_destroy (&self->loading);
    for (const char *id = zlistx_first (ids); id; id = zlistx_next (ids))
        s_notify (self, id);
    zlistx_destroy (&ids);
    //  This node's own row first: whoever reacts to `loaded` (a join) announces it.
    if (self->own_row) {
        s_own (self, s_add_row, self->own_row);
        json_decref (self->own_row);
        self->own_row = NULL;
    }
    if (self->handler.loaded)
        self->handler.loaded (self->handler.arg);
    s_request_root (self, now);
    s_flush_merges (self, now);
}

static void
s_follow_stale (void *arg, const char *error)
{
    ocf_bridge_t *self = arg;
    ocf_log_warning ("ocf-tabled does not answer at %s (%s); buffering merges until it is back", self->api_endpoint, error);
}

//  --------------------------------------------------------------------------
//  Replies

static void
s_answer_query (ocf_bridge_t *self, request_t *request, json_t *reply, int64_t now)
{
    if (!self->core)
        return;
    if (!reply) {
        ocf_gossip_answer_failed (self->core, now, request->token);
        return;
    }
    uint64_t root = s_hex64 (json_string_value (json_object_get (reply, "root")));
    uint64_t entries = (uint64_t) json_integer_value (json_object_get (reply, "entries"));
    switch (request->query) {
        case OCF_QUERY_BUCKETS: {
            const char *text = json_string_value (json_object_get (reply, "buckets"));
            if (!text || strlen (text) != 256 * 16) {
                ocf_gossip_answer_failed (self->core, now, request->token);
                break;
            }
            uint64_t hashes[256];
            for (int b = 0; b < 256; b++) {
                char word[17];
                memcpy (word, text + 16 * b, 16);
                word[16] = '\0';
                hashes[b] = s_hex64 (word);
            }
            if (self->handler.root)
                self->handler.root (self->handler.arg, root, entries);
            ocf_gossip_answer_buckets (self->core, now, request->token, hashes);
            break;
        }
        case OCF_QUERY_DIGESTS: {
            json_t *list = json_object_get (reply, "digests");
            ocf_digest_t *digests = ocf_calloc (json_array_size (list) + 1, sizeof *digests);
            size_t count = 0, index;
            json_t *row;
            json_array_foreach (list, index, row) {
                const char *id = json_string_value (json_array_get (row, 0));
                if (!ocf_identity_id_valid (id) || json_array_size (row) != 8)
                    continue;
                ocf_digest_t *digest = &digests[count++];
                snprintf (digest->id, sizeof digest->id, "%s", id);
                digest->generation = (uint64_t) json_integer_value (json_array_get (row, 1));
                digest->version = (uint64_t) json_integer_value (json_array_get (row, 2));
                digest->member_generation = (uint64_t) json_integer_value (json_array_get (row, 3));
                digest->incarnation = (uint64_t) json_integer_value (json_array_get (row, 4));
                digest->status = (int) json_integer_value (json_array_get (row, 5));
                digest->tomb_generation = (uint64_t) json_integer_value (json_array_get (row, 6));
                digest->hash = s_hex64 (json_string_value (json_array_get (row, 7)));
            }
            ocf_gossip_answer_digests (self->core, now, request->token, digests, count);
            free (digests);
            break;
        }
        case OCF_QUERY_ITEMS:
        case OCF_QUERY_SNAPSHOT: {
            item_set_t set;
            s_set_init (&set);
            s_add_entries (&set, reply);
            ocf_gossip_answer_items (self->core, now, request->token, set.items, set.count,
                                     json_string_value (json_object_get (reply, "next")), root, entries);
            s_set_free (&set);
            break;
        }
    }
}

static void
s_on_reply (ocf_bridge_t *self, request_t *request, json_t *reply, bool ok, int64_t now)
{
    if (!ok) {
        self->stats.errors++;
        if (request->kind != REQ_FOLLOW)         //  the follower says why itself
            ocf_log_warning ("ocf-tabled refused a request: %s", json_string_value (json_object_get (reply, "error")));
    }
    switch (request->kind) {
        case REQ_FOLLOW:
            //  A reply to a request the follower gave up is dropped.
            if (request->tag == self->follow_tag) {
                self->follow_tag = 0;
                ocf_follower_reply (self->follower, now, ok, reply);
            }
            break;
        case REQ_ROOT:
            self->root_in_flight = false;
            if (ok && self->handler.root)
                self->handler.root (self->handler.arg, s_hex64 (json_string_value (json_object_get (reply, "root"))),
                                    (uint64_t) json_integer_value (json_object_get (reply, "entries")));
            break;
        case REQ_MERGE:
            self->merges_in_flight--;
            s_flush_merges (self, now);
            break;
        case REQ_SEEN:
        case REQ_RTT:
            break;
        case REQ_QUERY:
            s_answer_query (self, request, ok ? reply : NULL, now);
            break;
    }
}

void
ocf_bridge_on_api (ocf_bridge_t *self, int64_t now)
{
    while (zsock_events (self->api) & ZMQ_POLLIN) {
        zmsg_t *zmsg = zmsg_recv_nowait (self->api);
        if (!zmsg)
            break;
        zframe_t *tag = zmsg_pop (zmsg), *delimiter = zmsg_pop (zmsg);
        uint64_t value = 0;
        if (tag && zframe_size (tag) == sizeof value)
            memcpy (&value, zframe_data (tag), sizeof value);
        zframe_destroy (&tag);
        zframe_destroy (&delimiter);
        //  tabled answers in order: requests before this one will never be answered. Tags
        //  only grow, so a reply older than every request is stale and dropped.
        request_t *request = zlistx_first (self->in_flight);
        while (request && request->tag < value) {
            zlistx_detach_cur (self->in_flight);
            s_request_lost (self, request, now);
            void *item = request;
            s_request_destroy (&item);
            request = zlistx_first (self->in_flight);
        }
        if (request && request->tag == value) {
            zlistx_detach_cur (self->in_flight);
            ocf_msg_t msg;
            char error[256];
            if (ocf_msg_decode_zmsg (&msg, zmsg, (size_t) 64 << 20, error, sizeof error) != 0) {
                ocf_log_warning ("a malformed reply from ocf-tabled: %s", error);
                s_on_reply (self, request, NULL, false, now);
            }
            else {
                s_on_reply (self, request, msg.body, strcmp (msg.verb, "OK") == 0, now);
                ocf_msg_clear (&msg);
            }
            void *item = request;
            s_request_destroy (&item);
        }
        zmsg_destroy (&zmsg);
    }
}

//  --------------------------------------------------------------------------
//  Events

void
ocf_bridge_on_events (ocf_bridge_t *self, int64_t now)
{
    while (zsock_events (self->events) & ZMQ_POLLIN) {
        zmsg_t *event = zmsg_recv_nowait (self->events);
        if (!event)
            break;
        ocf_msg_t msg;
        char error[256];
        if (ocf_msg_decode_zmsg (&msg, event, self->max_message * 2, error, sizeof error) != 0) {
            ocf_log_warning ("a malformed event from ocf-tabled: %s", error);
            zmsg_destroy (&event);
            continue;
        }
        ocf_follower_event (self->follower, now, msg.verb, msg.body);
        ocf_msg_clear (&msg);
        zmsg_destroy (&event);
    }
}

//  --------------------------------------------------------------------------

ocf_bridge_t *
ocf_bridge_new (const char *run_dir, ocf_members_t *view, const ocf_bridge_handler_t *handler, size_t max_message)
{
    ocf_bridge_t *self = ocf_calloc (1, sizeof *self);
    snprintf (self->api_endpoint, sizeof self->api_endpoint, "ipc://%s/tabled.api", run_dir);
    snprintf (self->events_endpoint, sizeof self->events_endpoint, "ipc://%s/tabled.events", run_dir);
    self->view = view;
    self->handler = *handler;
    self->max_message = max_message;
    self->in_flight = zlistx_new ();
    zlistx_set_destructor (self->in_flight, s_request_destroy);
    ocf_follower_config_t config = { .retry_ms = HELLO_RETRY_MS, .page_rows = LIST_PAGE, .max_buffered = QUEUED_EVENTS_MAX,
                                     .view_name = "membership view" };
    ocf_follower_handler_t follow = { .arg = self, .send = s_follow_send, .hello = s_follow_hello,
                                      .load_begin = s_follow_load_begin, .row = s_follow_row, .loaded = s_follow_loaded,
                                      .event = s_follow_event, .stale = s_follow_stale };
    self->follower = ocf_follower_new (&config, &follow);
    self->pending = zlistx_new ();
    zlistx_set_destructor (self->pending, s_pending_destroy);
    self->seen = zhashx_new ();
    s_connect (self);
    //  Subscribed before the first LIST, so that no event between the two is missed.
    self->events = zsock_new (ZMQ_SUB);
    zsock_set_rcvhwm (self->events, 100000);
    zsock_set_subscribe (self->events, "");
    zsock_connect (self->events, "%s", self->events_endpoint);
    return self;
}

void
ocf_bridge_destroy (ocf_bridge_t **self_p)
{
    ocf_bridge_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->api);
    zsock_destroy (&self->events);
    zlistx_destroy (&self->in_flight);
    ocf_follower_destroy (&self->follower);
    zlistx_destroy (&self->pending);
    zhashx_destroy (&self->seen);
    ocf_members_destroy (&self->loading);
    json_decref (self->own_row);
    free (self);
    *self_p = NULL;
}

void ocf_bridge_set_core (ocf_bridge_t *self, ocf_gossip_t *core) { self->core = core; }
zsock_t *ocf_bridge_api (ocf_bridge_t *self) { return self->api; }
zsock_t *ocf_bridge_events (ocf_bridge_t *self) { return self->events; }
bool ocf_bridge_up (ocf_bridge_t *self) { return ocf_follower_following (self->follower); }

const ocf_bridge_stats_t *
ocf_bridge_stats (ocf_bridge_t *self)
{
    self->stats.buffered_items = zlistx_size (self->pending);
    self->stats.reloads = ocf_follower_stats (self->follower)->loads;
    self->stats.events = ocf_follower_stats (self->follower)->events;
    return &self->stats;
}

void
ocf_bridge_tick (ocf_bridge_t *self, int64_t now)
{
    request_t *oldest = zlistx_first (self->in_flight);
    if (oldest && oldest->deadline <= now) {
        self->stats.timeouts++;
        s_link_lost (self, now);
    }
    ocf_follower_tick (self->follower, now);
    if (!ocf_follower_following (self->follower))
        return;
    //  The root changes with every event; it is read at most every ROOT_DEBOUNCE_MS then
    //  (heartbeats carry it once a second), and every ROOT_REFRESH_MS anyway.
    if (now >= self->next_root || (self->root_dirty && now >= self->root_asked + ROOT_DEBOUNCE_MS))
        s_request_root (self, now);
    if (now >= self->next_seen && zhashx_size (self->seen)) {
        self->next_seen = now + SEEN_INTERVAL_MS;
        json_t *ids = json_array ();
        for (void *item = zhashx_first (self->seen); item; item = zhashx_next (self->seen))
            json_array_append_new (ids, json_string (zhashx_cursor (self->seen)));
        zhashx_purge (self->seen);
        s_request (self, REQ_SEEN, "SEEN", json_pack ("{s:o}", "ids", ids), now);
    }
    if (self->core && now >= self->next_rtt) {
        self->next_rtt = now + OCF_RTT_REPORT_MS;
        ocf_rtt_report_t reports[RTT_BATCH];
        size_t count = ocf_rtt_report (ocf_gossip_rtt (self->core), reports, RTT_BATCH);
        if (count) {
            json_t *rtt = json_object ();
            for (size_t i = 0; i < count; i++)
                json_object_set_new (rtt, reports[i].id, json_real (reports[i].rtt_ms));
            s_request (self, REQ_RTT, "RTT", json_pack ("{s:o}", "rtt", rtt), now);
        }
    }
    s_flush_merges (self, now);
}

void
ocf_bridge_merge (ocf_bridge_t *self, const char *from, const ocf_item_t *items, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        json_t *json = NULL;
        const ocf_item_t *item = &items[i];
        ocf_wire_member_t member;
        ocf_wire_tombstone_t tombstone;
        bool has_sig;
        uint8_t sig[OCF_SIGNATURE_BYTES];
        if (item->kind == OCF_ITEM_ROW)
            json = json_loadb ((const char *) item->data, item->size, 0, NULL);
        else
        if (item->kind == OCF_ITEM_MEMBER && ocf_wire_member_decode (item->data, item->size, &member) == 0)
            json = json_pack ("{s:s, s:I, s:I, s:s}", "id", item->id, "generation", (json_int_t) member.generation,
                              "incarnation", (json_int_t) member.incarnation, "status", ocf_status_name (member.status));
        else
        if (item->kind == OCF_ITEM_TOMBSTONE
        &&  ocf_wire_tombstone_decode_signed (item->data, item->size, &tombstone, &has_sig, sig) == 0) {
            json = json_pack ("{s:s, s:I, s:s, s:I}", "id", item->id, "generation", (json_int_t) tombstone.generation,
                              "reason", ocf_reason_name (tombstone.reason), "declared_at", (json_int_t) tombstone.declared_at);
            if (has_sig) {
                char text[OCF_SIGNATURE_TEXT_LEN + 1];
                ocf_record_sig_text (sig, text);
                json_object_set_new (json, "sig", json_string (text));
            }
        }
        if (!json)
            continue;
        if (self->pending_bytes + item->size > MERGE_BUFFER_BYTES) {
            self->stats.merge_items_dropped++;      //  anti-entropy brings it back later
            json_decref (json);
            continue;
        }
        pending_merge_t *pending = ocf_calloc (1, sizeof *pending);
        pending->kind = item->kind;
        pending->json = json;
        pending->bytes = item->size;
        snprintf (pending->from, sizeof pending->from, "%s", from ? from : "");
        self->pending_bytes += item->size;
        zlistx_add_end (self->pending, pending);
    }
    s_flush_merges (self, ocf_time_mono_ms ());
}

void
ocf_bridge_query (ocf_bridge_t *self, uint64_t token, const ocf_query_t *query, int64_t now)
{
    json_t *body = json_object ();
    const char *verb = "DIGEST";
    switch (query->kind) {
        case OCF_QUERY_BUCKETS:
            json_object_set_new (body, "buckets", json_true ());
            break;
        case OCF_QUERY_DIGESTS: {
            json_t *buckets = json_array ();
            for (size_t i = 0; i < query->bucket_count; i++)
                json_array_append_new (buckets, json_integer (query->buckets[i]));
            json_object_set_new (body, "bucket", buckets);
            break;
        }
        case OCF_QUERY_ITEMS: {
            verb = "DELTA";
            json_t *ids = json_array ();
            for (size_t i = 0; i < query->id_count && i < OCF_GOSSIP_MAX_QUERY_IDS; i++)
                json_array_append_new (ids, json_string (query->ids[i]));
            json_object_set_new (body, "ids", ids);
            break;
        }
        case OCF_QUERY_SNAPSHOT:
            verb = "SNAPSHOT";
            json_object_set_new (body, "limit", json_integer ((json_int_t) query->limit));
            if (query->after)
                json_object_set_new (body, "after", json_string (query->after));
            break;
    }
    request_t *request = s_request (self, REQ_QUERY, verb, body, now);
    request->token = token;
    request->query = query->kind;
}

void
ocf_bridge_seen (ocf_bridge_t *self, const char *id)
{
    zhashx_update (self->seen, id, (void *) "");
}

uint64_t
ocf_bridge_leave (ocf_bridge_t *self, const char *id, int timeout_ms, ocf_item_t *item, uint8_t *payload)
{
    char error[512];
    ocf_client_t *client = ocf_client_new (self->api_endpoint);
    json_t *reply = NULL;
    *item = (ocf_item_t) { .kind = OCF_ITEM_TOMBSTONE, .data = payload };
    memcpy (item->id, id, OCF_ID_SIZE);
    ocf_wire_tombstone_t tombstone = { 0, OCF_REASON_LEFT, ocf_time_wall_ms () };
    ocf_tombstone_in_t signed_leave;
    bool has_sig = false;
    if (ocf_client_call (client, "LEAVE", NULL, timeout_ms, &reply, error, sizeof error) == 0
    &&  ocf_record_parse_tombstone (json_object_get (reply, "tombstone"), &signed_leave, error, sizeof error) == 0) {
        tombstone.generation = signed_leave.generation;
        tombstone.declared_at = signed_leave.declared_at;
        has_sig = signed_leave.has_sig;
    }
    else {
        const ocf_peer_t *me = ocf_members_get (self->view, id);
        ocf_log_warning ("LEAVE: %s; announcing the leave without ocf-tabled: unsigned, the others will see this "
                         "node dead rather than gone", error);
        tombstone.generation = me ? me->generation : 0;
    }
    json_decref (reply);
    ocf_client_destroy (&client);
    if (tombstone.generation)
        item->size = (uint32_t) ocf_wire_tombstone_encode_signed (&tombstone, has_sig ? signed_leave.sig : NULL, payload);
    return tombstone.generation;
}

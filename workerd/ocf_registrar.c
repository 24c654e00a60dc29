/*  ocf_registrar: desired state, acknowledged state, and the requests in between.  */
#include "ocf_registrar.h"
#include "ocf_alloc.h"
#include "ocf_config.h"
#include "ocf_log.h"
#include "ocf_msg.h"
#include "ocf_slurm.h"
#include "ocf_time.h"

#define RETRY_MS 100             //  while tabled is not connected
#define UNREACHABLE_WARN_MS 1000
#define MAX_REPLY (4 * 1024 * 1024)
#define OWNER "ocf-workerd"      //  tabled keeps other registrations from replacing these

typedef enum { ITEM_HARDWARE, ITEM_LABELS, ITEM_SERVICE } item_kind_t;

typedef struct {
    item_kind_t kind;
    char name[OCF_SERVICE_NAME_MAX + 1];
    json_t *desired;             //  NULL: withdrawn (a service), nothing to say (the others)
    bool acked_known;            //  false after a restart or an outage of tabled
    bool row_read;               //  a service: tabled's row was read since acked became unknown
    json_t *acked;               //  what tabled holds, as far as we know
    json_t *rejected;            //  content tabled refused: not sent again until it changes
    bool blocked;                //  ... because another owner holds the name: tried again
                                 //  when the record changes (it may have let go)
} item_t;

typedef enum { SENT_HELLO, SENT_ITEM, SENT_LABELS_GET, SENT_SERVICES_GET, SENT_CHECK } sent_t;

struct _ocf_registrar_t {
    zloop_t *loop;
    char *endpoint;
    zsock_t *sock;
    int64_t timeout_ms;
    int64_t heartbeat_ms;
    item_t *items;               //  hardware, labels, then the services in the order set
    size_t item_count;

    //  The request in flight (one at a time: replies then match requests by order)
    bool in_flight;
    sent_t sent;
    size_t sent_item;
    char sent_verb[OCF_VERB_MAX + 1];
    json_t *sent_content;        //  what the item holds once this is acknowledged
    int64_t sent_at;

    bool connected;
    zsock_t *monitor;            //  the socket's connection events
    int64_t unreachable_since;   //  0 while tabled answers
    bool warned;                 //  the outage was logged
    uint64_t boot;
    //  This host's record as tabled last described it (HELLO, replies to our writes): a
    //  version we did not write means someone else changed it (an operator, a restore).
    bool record_known;
    uint64_t record_generation, record_version;
    bool check_due;              //  it changed: read it and send again what differs
    char node_id[64];
    int64_t next_hello_at;
    int timer_id;
    int64_t timer_at;

    ocf_registrar_fn *on_synced;
    void *on_synced_arg;
    uint64_t requests;
    uint64_t errors;
    uint64_t timeouts;
    uint64_t resyncs;
};

static void s_next (ocf_registrar_t *self);

static bool
s_same (json_t *a, json_t *b)
{
    return (!a && !b) || (a && b && json_equal (a, b));
}

static void
s_set (json_t **slot, json_t *value)
{
    json_decref (*slot);
    *slot = value;
}

//  --------------------------------------------------------------------------
//  Socket and timer

static int s_on_reply (zloop_t *loop, zsock_t *sock, void *arg);

//  The socket's connection events. Disconnected: tabled stopped (or restarted, maybe within
//  a heartbeat, maybe with the same boot number after losing its database), so whatever it
//  holds is unknown. Connected: ask at once rather than at the next retry.
static int
s_on_monitor (zloop_t *loop, zsock_t *sock, void *arg)
{
    ocf_registrar_t *self = arg;
    zmsg_t *event = zmsg_recv_nowait (sock);
    zframe_t *head = event ? zmsg_first (event) : NULL;
    if (head && zframe_size (head) >= 2) {
        uint16_t type;
        memcpy (&type, zframe_data (head), sizeof type);
        if (type == ZMQ_EVENT_DISCONNECTED && self->connected) {
            ocf_log_info ("lost the connection to tabled; sending everything again once it answers");
            self->connected = false;
        }
        if (!self->connected)
            self->next_hello_at = 0;
    }
    zmsg_destroy (&event);
    s_next (self);
    return 0;
}

static void
s_connect (ocf_registrar_t *self)
{
    static int instances;
    char monitor[64];
    snprintf (monitor, sizeof monitor, "inproc://ocf-registrar-%d", ++instances);
    self->sock = zsock_new (ZMQ_DEALER);
    zsock_set_linger (self->sock, 0);
    //  Never block and never queue for a tabled that is not there: a send then fails at
    //  once and is retried, instead of being delivered late and out of context.
    zsock_set_sndtimeo (self->sock, 0);
    zsock_set_immediate (self->sock, 1);
    zsock_set_maxmsgsize (self->sock, MAX_REPLY);
    zmq_socket_monitor (zsock_resolve (self->sock), monitor, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED);
    self->monitor = zsock_new (ZMQ_PAIR);
    zsock_connect (self->monitor, "%s", monitor);
    zsock_connect (self->sock, "%s", self->endpoint);
    zloop_reader (self->loop, self->sock, s_on_reply, self);
    zloop_reader (self->loop, self->monitor, s_on_monitor, self);
}

static void
s_disconnect (ocf_registrar_t *self)
{
    if (!self->sock)
        return;
    zloop_reader_end (self->loop, self->monitor);
    zloop_reader_end (self->loop, self->sock);
    zmq_socket_monitor (zsock_resolve (self->sock), NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->sock);
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    ocf_registrar_t *self = arg;
    if (timer_id != self->timer_id)
        return 0;                //  ended in this loop iteration but run anyway
    self->timer_id = -1;
    if (self->in_flight && ocf_time_mono_ms () - self->sent_at >= self->timeout_ms) {
        self->timeouts++;
        if (!self->warned)
            ocf_log_warning ("tabled did not answer %s within %lld ms; everything is sent again once it answers",
                             self->sent_verb, (long long) self->timeout_ms);
        self->warned = true;
        if (!self->unreachable_since)
            self->unreachable_since = ocf_time_mono_ms ();
        //  A late reply must not answer the next request: start over on a new socket.
        s_disconnect (self);
        s_connect (self);
        self->in_flight = false;
        s_set (&self->sent_content, NULL);
        self->connected = false;
    }
    s_next (self);
    return 0;
}

//  One one-shot timer: the reply deadline while a request is out, else the next HELLO.
static void
s_arm (ocf_registrar_t *self)
{
    int64_t at = self->in_flight ? self->sent_at + self->timeout_ms : self->next_hello_at;
    if (self->timer_id >= 0 && self->timer_at == at)
        return;
    if (self->timer_id >= 0)
        zloop_timer_end (self->loop, self->timer_id);
    int64_t delay = at - ocf_time_mono_ms ();
    self->timer_at = at;
    self->timer_id = zloop_timer (self->loop, (size_t) (delay > 0 ? delay : 0), 1, s_on_timer, self);
}

//  --------------------------------------------------------------------------
//  Items

static item_t *
s_item (ocf_registrar_t *self, item_kind_t kind, const char *name)
{
    for (size_t i = 0; i < self->item_count; i++)
        if (self->items[i].kind == kind && (kind != ITEM_SERVICE || strcmp (self->items[i].name, name) == 0))
            return &self->items[i];
    self->items = ocf_realloc (self->items, (self->item_count + 1) * sizeof *self->items);
    item_t *item = &self->items[self->item_count++];
    memset (item, 0, sizeof *item);
    item->kind = kind;
    snprintf (item->name, sizeof item->name, "%s", name ? name : "");
    return item;
}

static bool
s_needs_send (item_t *item)
{
    if (!item->desired && item->kind != ITEM_SERVICE)
        return false;
    if (item->rejected && s_same (item->desired, item->rejected))
        return false;
    return !item->acked_known || !s_same (item->desired, item->acked);
}

//  Every acknowledgement is unknown again: tabled restarted, or may have missed requests.
static void
s_resync (ocf_registrar_t *self)
{
    self->resyncs++;
    self->record_known = false;
    self->check_due = false;
    for (size_t i = 0; i < self->item_count; i++) {
        self->items[i].acked_known = false;
        self->items[i].row_read = false;
        s_set (&self->items[i].acked, NULL);
        s_set (&self->items[i].rejected, NULL);
        self->items[i].blocked = false;
    }
}

//  True when the two service objects differ in load values only, with no load key gone.
static bool
s_only_load_differs (json_t *desired, json_t *acked)
{
    if (!desired || !acked || json_object_size (desired) != json_object_size (acked))
        return false;
    const char *key;
    json_t *value;
    json_object_foreach (desired, key, value)
        if (strcmp (key, "load") != 0 && !s_same (value, json_object_get (acked, key)))
            return false;
    json_t *desired_load = json_object_get (desired, "load");
    json_object_foreach (json_object_get (acked, "load"), key, value)
        if (!json_object_get (desired_load, key))
            return false;
    return json_is_object (desired_load);
}

//  --------------------------------------------------------------------------
//  Requests

static void
s_send (ocf_registrar_t *self, sent_t sent, size_t item, const char *verb, json_t *body, json_t *content)
{
    zmsg_t *msg = zmsg_new ();
    ocf_msg_append (msg, verb, body);
    if (zmsg_send (&msg, self->sock) != 0) {
        zmsg_destroy (&msg);
        json_decref (content);
        //  Right after a (re)connect the socket needs a moment: only a lasting outage is news.
        int64_t now = ocf_time_mono_ms ();
        if (!self->unreachable_since)
            self->unreachable_since = now;
        if (!self->warned && now - self->unreachable_since >= UNREACHABLE_WARN_MS) {
            ocf_log_warning ("tabled is not reachable at %s; retrying", self->endpoint);
            self->warned = true;
        }
        self->connected = false;
        self->next_hello_at = now + RETRY_MS;
        return;
    }
    self->requests++;
    self->in_flight = true;
    self->sent = sent;
    self->sent_item = item;
    snprintf (self->sent_verb, sizeof self->sent_verb, "%s", verb);
    s_set (&self->sent_content, content);
    self->sent_at = ocf_time_mono_ms ();
}

static void
s_send_item (ocf_registrar_t *self, size_t index)
{
    item_t *item = &self->items[index];
    switch (item->kind) {
        case ITEM_HARDWARE:
            s_send (self, SENT_ITEM, index, "SELF.SET", json_pack ("{s:O}", "hardware", item->desired),
                    json_incref (item->desired));
            return;
        case ITEM_LABELS:
            //  Labels are merged with the record's: read them first.
            s_send (self, SENT_LABELS_GET, index, "GET", json_pack ("{s:s}", "id", self->node_id), NULL);
            return;
        case ITEM_SERVICE:
            //  What tabled holds may be what we want already (a restarted workerd adopting
            //  running backends, a tabled restarted on its table.db): read the row first,
            //  rather than register again over proxyd's in-flight counts.
            if (!item->acked_known && !item->row_read && item->desired && *self->node_id)
                s_send (self, SENT_SERVICES_GET, index, "GET", json_pack ("{s:s}", "id", self->node_id), NULL);
            else
            if (!item->desired)
                s_send (self, SENT_ITEM, index, "SERVICE.DOWN", json_pack ("{s:s, s:s}", "name", item->name, "owner", OWNER),
                        NULL);
            else
            if (item->acked_known && s_only_load_differs (item->desired, item->acked))
                s_send (self, SENT_ITEM, index, "SERVICE.LOAD",
                        json_pack ("{s:s, s:O}", "name", item->name, "load", json_object_get (item->desired, "load")),
                        json_incref (item->desired));
            else {
                json_t *service = json_copy (item->desired);
                json_object_set_new (service, "owner", json_string (OWNER));
                s_send (self, SENT_ITEM, index, "SERVICE.UP", json_pack ("{s:o}", "service", service),
                        json_incref (item->desired));
            }
            return;
    }
}

//  Sends the next request if none is out: HELLO when due, else the first item that differs.
static void
s_next (ocf_registrar_t *self)
{
    if (!self->in_flight) {
        int64_t now = ocf_time_mono_ms ();
        if (!self->connected) {
            if (now >= self->next_hello_at)
                s_send (self, SENT_HELLO, 0, "HELLO", NULL, NULL);
        }
        else
        if (now >= self->next_hello_at)
            s_send (self, SENT_HELLO, 0, "HELLO", NULL, NULL);
        else
        if (self->check_due)
            s_send (self, SENT_CHECK, 0, "GET", json_pack ("{s:s}", "id", self->node_id), NULL);
        else
            for (size_t i = 0; i < self->item_count; i++)
                if (s_needs_send (&self->items[i])) {
                    s_send_item (self, i);
                    break;
                }
    }
    s_arm (self);
}

static const char *
s_error_text (json_t *body)
{
    const char *error = json_string_value (json_object_get (body, "error"));
    return error ? error : "no reason given";
}

//  Notes the version of this host's record that tabled reports (written_by_us: after one of
//  our writes, which made it one higher when it changed something). Another writer since
//  the last version we knew of (an operator's ocfctl, proxyd's load reports) makes the
//  registrar read the record and send again whatever of workerd's differs there: tabled
//  holds what workerd says within a heartbeat, whoever changed it.
static void
s_note_record (ocf_registrar_t *self, json_t *body, bool written_by_us)
{
    json_t *generation = json_object_get (body, "generation"), *version = json_object_get (body, "version");
    if (!json_is_integer (generation) || !json_is_integer (version))
        return;
    uint64_t expected = self->record_version + (written_by_us && json_is_true (json_object_get (body, "changed")));
    if (self->record_known && ((uint64_t) json_integer_value (generation) != self->record_generation
                           ||  (uint64_t) json_integer_value (version) != expected))
        self->check_due = true;
    self->record_known = true;
    self->record_generation = (uint64_t) json_integer_value (generation);
    self->record_version = (uint64_t) json_integer_value (version);
}

//  Whether a registration in the record is the one acknowledged: the owner is tabled's
//  bookkeeping, and load values are merged by others too (proxyd's in-flight counts).
static bool
s_same_registration (json_t *current, json_t *acked)
{
    if (!current || !acked)
        return !current && !acked;
    json_t *a = json_copy (current), *b = json_copy (acked);
    json_object_del (a, "owner");
    json_object_del (a, "load");
    json_object_del (b, "load");
    bool same = json_equal (a, b);
    json_decref (a);
    json_decref (b);
    return same;
}

//  The record as it is now (GET): an item whose acknowledged content is not what the record
//  holds is sent again.
static void
s_on_check (ocf_registrar_t *self, json_t *row)
{
    for (size_t i = 0; i < self->item_count; i++) {
        item_t *item = &self->items[i];
        if (item->blocked) {
            item->blocked = false;
            s_set (&item->rejected, NULL);
        }
        if (!item->acked_known)
            continue;
        bool same = true;
        if (item->kind == ITEM_HARDWARE)
            same = !item->acked || s_same (json_object_get (row, "hardware"), item->acked);
        else
        if (item->kind == ITEM_LABELS) {
            json_t *current = json_object_get (row, "labels");
            json_t *merged = ocf_slurm_merge (current, item->desired);
            same = !item->desired || s_same (current, merged);
            json_decref (merged);
        }
        else {
            json_t *current = NULL, *service;
            size_t index;
            json_array_foreach (json_object_get (row, "services"), index, service)
                if (strcmp (json_string_value (json_object_get (service, "name")), item->name) == 0)
                    current = service;
            //  Withdrawn: what matters is that no registration of workerd's is left.
            const char *owner = json_string_value (json_object_get (current, "owner"));
            same = item->acked ? s_same_registration (current, item->acked) : !current || !owner || strcmp (owner, OWNER) != 0;
        }
        if (!same) {
            ocf_log_notice ("%s%s was changed in tabled outside workerd: sending it again",
                            item->kind == ITEM_SERVICE ? "service " : item->kind == ITEM_HARDWARE ? "the hardware" : "the labels",
                            item->name);
            item->acked_known = false;
            s_set (&item->rejected, NULL);
        }
    }
    s_note_record (self, row, false);
}

static void
s_on_hello (ocf_registrar_t *self, json_t *body)
{
    json_int_t boot = json_integer_value (json_object_get (body, "boot"));
    const char *id = json_string_value (json_object_get (body, "id"));
    snprintf (self->node_id, sizeof self->node_id, "%s", id ? id : "");
    if (!self->connected) {
        if (self->warned)
            ocf_log_notice ("tabled answers again after %.1f s: sending this host's state",
                            (double) (ocf_time_mono_ms () - self->unreachable_since) / 1000);
        else
            ocf_log_info ("tabled answers (node %s): sending this host's state", self->node_id);
        s_resync (self);
    }
    else
    if ((uint64_t) boot != self->boot) {
        ocf_log_notice ("tabled restarted (boot %llu, was %llu): sending this host's state again",
                        (unsigned long long) boot, (unsigned long long) self->boot);
        s_resync (self);
    }
    s_note_record (self, body, false);
    self->boot = (uint64_t) boot;
    self->connected = true;
    self->unreachable_since = 0;
    self->warned = false;
}

static void
s_on_labels (ocf_registrar_t *self, item_t *item, json_t *body)
{
    json_t *current = json_object_get (json_object_get (body, "row"), "labels");
    json_t *merged = ocf_slurm_merge (current, item->desired);
    if (json_is_object (current) && json_equal (current, merged)) {
        json_decref (merged);
        item->acked_known = true;
        s_set (&item->acked, json_incref (item->desired));
        return;
    }
    s_send (self, SENT_ITEM, (size_t) (item - self->items), "SELF.SET", json_pack ("{s:o}", "labels", merged),
            json_incref (item->desired));
}

//  The row's copy of a service, as the acknowledged content when it holds what is desired
//  apart from load values: its load keeps only the desired keys (proxyd's inflight is
//  proxyd's), so that a load difference is sent as SERVICE.LOAD, which merges.
static json_t *
s_acked_from_row (json_t *desired, json_t *held)
{
    if (!desired || !held || json_object_size (desired) != json_object_size (held))
        return NULL;
    const char *key;
    json_t *value;
    json_object_foreach (desired, key, value)
        if (strcmp (key, "load") != 0 && !s_same (value, json_object_get (held, key)))
            return NULL;
    json_t *acked = json_copy (held), *load = json_object ();
    json_object_foreach (json_object_get (desired, "load"), key, value)
        if (json_object_get (json_object_get (held, "load"), key))
            json_object_set (load, key, json_object_get (json_object_get (held, "load"), key));
    json_object_set_new (acked, "load", load);
    return acked;
}

static void
s_on_services (ocf_registrar_t *self, json_t *body)
{
    json_t *held = json_object_get (json_object_get (body, "row"), "services");
    for (size_t i = 0; i < self->item_count; i++) {
        item_t *item = &self->items[i];
        if (item->kind != ITEM_SERVICE || item->acked_known)
            continue;
        item->row_read = true;
        json_t *found = NULL, *service;
        size_t index;
        json_array_foreach (held, index, service)
            if (strcmp (json_string_value (json_object_get (service, "name")) ?: "", item->name) == 0)
                found = service;
        json_t *acked = s_acked_from_row (item->desired, found);
        if (acked || (!item->desired && !found)) {
            item->acked_known = true;
            s_set (&item->acked, acked);
        }
    }
}

static void
s_on_message (ocf_registrar_t *self, ocf_msg_t *msg)
{
    self->in_flight = false;
    bool ok = strcmp (msg->verb, "OK") == 0;
    if (self->sent == SENT_HELLO) {
        self->next_hello_at = ocf_time_mono_ms () + self->heartbeat_ms;
        if (ok)
            s_on_hello (self, msg->body);
        else
            ocf_log_error ("tabled refused HELLO: %s", s_error_text (msg->body));
        return;
    }
    if (self->sent == SENT_CHECK) {
        self->check_due = false;
        if (ok)
            s_on_check (self, json_object_get (msg->body, "row"));
        else
            ocf_log_error ("tabled refused GET of this host's record: %s", s_error_text (msg->body));
        return;
    }
    item_t *item = &self->items[self->sent_item];
    if (!ok && self->sent == SENT_SERVICES_GET) {
        //  Without the row, register in full as before.
        self->errors++;
        ocf_log_error ("tabled refused GET of this node's row: %s", s_error_text (msg->body));
        for (size_t i = 0; i < self->item_count; i++)
            self->items[i].row_read = true;
        return;
    }
    const char *code = ok ? NULL : json_string_value (json_object_get (msg->body, "code"));
    bool not_ours = code && strcmp (code, "not_yours") == 0;
    if (not_ours && !item->desired) {
        //  Withdrawing a name another owner registered since: nothing of workerd's is there.
        item->acked_known = true;
        s_set (&item->acked, NULL);
        return;
    }
    if (!ok) {
        self->errors++;
        ocf_log_error ("tabled refused %s%s%s: %s", self->sent_verb, *item->name ? " for " : "", item->name,
                       s_error_text (msg->body));
        //  A load update for a service tabled does not hold: register it in full instead.
        if (strcmp (self->sent_verb, "SERVICE.LOAD") == 0)
            item->acked_known = false;
        else {
            s_set (&item->rejected, json_incref (self->sent_content));
            item->blocked = not_ours;
        }
        return;
    }
    if (self->sent == SENT_LABELS_GET) {
        s_on_labels (self, item, msg->body);
        return;
    }
    if (self->sent == SENT_SERVICES_GET) {
        s_on_services (self, msg->body);
        return;
    }
    item->acked_known = true;
    s_set (&item->acked, json_incref (self->sent_content));
    s_set (&item->rejected, NULL);
    item->blocked = false;
    s_note_record (self, msg->body, true);
}

static int
s_on_reply (zloop_t *loop, zsock_t *sock, void *arg)
{
    ocf_registrar_t *self = arg;
    while (zsock_events (sock) & ZMQ_POLLIN) {
        zmsg_t *zmsg = zmsg_recv_nowait (sock);
        if (!zmsg)
            break;
        ocf_msg_t msg;
        char error[256];
        if (!self->in_flight)
            ocf_log_warning ("tabled sent a reply nobody asked for; ignored");
        else
        if (ocf_msg_decode_zmsg (&msg, zmsg, MAX_REPLY, error, sizeof error) != 0) {
            ocf_log_error ("tabled's reply to %s is malformed: %s", self->sent_verb, error);
            self->in_flight = false;
            self->errors++;
        }
        else {
            s_on_message (self, &msg);
            ocf_msg_clear (&msg);
        }
        zmsg_destroy (&zmsg);
        if (!self->in_flight)
            s_set (&self->sent_content, NULL);
        s_next (self);
        if (self->on_synced && ocf_registrar_synced (self))
            self->on_synced (self->on_synced_arg);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Public

ocf_registrar_t *
ocf_registrar_new (zloop_t *loop, const char *endpoint, int64_t timeout_ms, int64_t heartbeat_ms)
{
    ocf_registrar_t *self = ocf_calloc (1, sizeof *self);
    self->loop = loop;
    self->endpoint = ocf_strdup (endpoint);
    self->timeout_ms = timeout_ms;
    self->heartbeat_ms = heartbeat_ms;
    self->timer_id = -1;
    s_item (self, ITEM_HARDWARE, NULL);
    s_item (self, ITEM_LABELS, NULL);
    s_connect (self);
    s_next (self);
    return self;
}

void
ocf_registrar_destroy (ocf_registrar_t **self_p)
{
    ocf_registrar_t *self = *self_p;
    if (!self)
        return;
    s_disconnect (self);
    if (self->timer_id >= 0)
        zloop_timer_end (self->loop, self->timer_id);
    for (size_t i = 0; i < self->item_count; i++) {
        json_decref (self->items[i].desired);
        json_decref (self->items[i].acked);
        json_decref (self->items[i].rejected);
    }
    free (self->items);
    json_decref (self->sent_content);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

static void
s_desire (ocf_registrar_t *self, item_t *item, json_t *value)
{
    if (s_same (item->desired, value)) {
        json_decref (value);
        return;
    }
    s_set (&item->desired, value);
    s_next (self);
}

void
ocf_registrar_set_hardware (ocf_registrar_t *self, json_t *hardware)
{
    s_desire (self, s_item (self, ITEM_HARDWARE, NULL), hardware);
}

void
ocf_registrar_set_labels (ocf_registrar_t *self, json_t *slurm_labels)
{
    s_desire (self, s_item (self, ITEM_LABELS, NULL), slurm_labels);
}

void
ocf_registrar_set_service (ocf_registrar_t *self, const char *name, json_t *service)
{
    s_desire (self, s_item (self, ITEM_SERVICE, name), service);
}

bool
ocf_registrar_synced (ocf_registrar_t *self)
{
    if (!self->connected || self->in_flight)
        return false;
    for (size_t i = 0; i < self->item_count; i++)
        if (s_needs_send (&self->items[i]))
            return false;
    return true;
}

void
ocf_registrar_set_synced_handler (ocf_registrar_t *self, ocf_registrar_fn *fn, void *arg)
{
    self->on_synced = fn;
    self->on_synced_arg = arg;
}

bool
ocf_registrar_connected (ocf_registrar_t *self)
{
    return self->connected;
}

const char *
ocf_registrar_node_id (ocf_registrar_t *self)
{
    return self->node_id;
}

json_t *
ocf_registrar_stats (ocf_registrar_t *self)
{
    return json_pack ("{s:b, s:b, s:I, s:I, s:I, s:I}", "connected", self->connected,
                      "synced", ocf_registrar_synced (self), "requests", (json_int_t) self->requests,
                      "errors", (json_int_t) self->errors, "timeouts", (json_int_t) self->timeouts,
                      "resyncs", (json_int_t) self->resyncs);
}

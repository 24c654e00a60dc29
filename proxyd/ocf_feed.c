/*  ocf_feed: the routing view's link to tabled.  */
#include "ocf_feed.h"
#include "ocf_log.h"
#include "ocf_msg.h"

#define BEAT_MS 1000
#define PAGE_ROWS 1000
#define MAX_BUFFERED 100000      //  events kept while a load is in progress (tabled's PUB limit)

typedef struct {
    char topic[16];
    json_t *body;
} event_t;

struct _ocf_feed_t {
    h2o_loop_t *loop;
    ocf_zclient_t *tabled;
    zsock_t *events;
    ocf_zwatch_t *watch;
    ocf_view_t *view;
    ocf_feed_settled_fn *settled_fn;
    void *settled_arg;
    bool settled;
    h2o_timeout_t beat_timeout;
    h2o_timeout_entry_t beat;
    ocf_zcall_t *call;           //  the LIST or HELLO in flight
    //  Loading
    bool loading;
    bool needs_load;             //  at the next beat
    bool first_page;
    char cursor[64];
    uint64_t load_boot;
    uint64_t load_seq;
    zlistx_t *buffered;          //  event_t, received during the load
    bool overflowed;
    //  Following
    bool reachable;
    bool following;
    uint64_t boot;
    uint64_t seq;
    uint64_t hello_seq;          //  tabled's seq at the previous beat
    //  Counters
    uint64_t loads, events_applied, reloads, errors;
};

static void s_load_start (ocf_feed_t *self);

static void
s_settle (ocf_feed_t *self)
{
    if (!self->settled) {
        self->settled = true;
        self->settled_fn (self->settled_arg);
    }
}

static void
s_event_destroy (void **item)
{
    event_t *event = *item;
    if (event) {
        json_decref (event->body);
        free (event);
    }
    *item = NULL;
}

static void
s_unreachable (ocf_feed_t *self, const char *error)
{
    if (self->reachable || !self->settled)
        ocf_log_warning ("tabled does not answer (%s): routing on the view as it is, retrying every %d ms", error, BEAT_MS);
    self->reachable = false;
    self->following = false;
    self->needs_load = true;
    s_settle (self);
}

static void
s_apply (ocf_feed_t *self, const char *topic, json_t *body)
{
    char error[256];
    int rc = 0;
    if (strcmp (topic, "row") == 0)
        rc = ocf_view_apply_row (self->view, json_object_get (body, "row"), error, sizeof error);
    else
    if (strcmp (topic, "status") == 0)
        rc = ocf_view_apply_member (self->view, json_object_get (body, "member"), error, sizeof error);
    else
    if (strcmp (topic, "tombstone") == 0)
        rc = ocf_view_apply_tombstone (self->view, json_object_get (body, "tombstone"), error, sizeof error);
    if (rc < 0) {
        self->errors++;
        ocf_log_warning ("ignored a malformed %s event from tabled: %s", topic, error);
    }
    else
        self->events_applied++;
}

static uint64_t
s_uint (json_t *body, const char *key)
{
    json_t *value = json_object_get (body, key);
    return json_is_integer (value) && json_integer_value (value) > 0 ? (uint64_t) json_integer_value (value) : 0;
}

//  --------------------------------------------------------------------------
//  Loading

static void
s_load_finish (ocf_feed_t *self)
{
    ocf_view_reload_end (self->view);
    self->loading = false;
    self->following = true;
    self->boot = self->load_boot;
    self->seq = self->load_seq;
    bool gap = self->overflowed;
    for (event_t *event = zlistx_first (self->buffered); event; event = zlistx_next (self->buffered)) {
        uint64_t seq = s_uint (event->body, "seq");
        if (s_uint (event->body, "boot") != self->boot) {
            gap = true;
            continue;
        }
        s_apply (self, event->topic, event->body);
        if (seq > self->seq) {
            gap |= seq != self->seq + 1;
            self->seq = seq;
        }
    }
    zlistx_purge (self->buffered);
    self->overflowed = false;
    ocf_log_info ("routing view loaded: %zu nodes (%zu live), tabled boot %" PRIu64 " seq %" PRIu64,
                  ocf_view_size (self->view), ocf_view_live_count (self->view), self->boot, self->seq);
    s_settle (self);
    if (gap) {
        //  Events were lost between the load and the subscription: load again.
        self->reloads++;
        s_load_start (self);
    }
}

static void
s_on_page (void *arg, ocf_zreply_t status, json_t *body, const char *error)
{
    ocf_feed_t *self = arg;
    self->call = NULL;
    if (status != OCF_ZREPLY_OK) {
        self->loading = false;
        if (status == OCF_ZREPLY_ERR) {
            self->errors++;
            self->needs_load = true;
            ocf_log_warning ("LIST failed: %s", error);
            s_settle (self);
        }
        else
            s_unreachable (self, error);
        return;
    }
    self->reachable = true;
    uint64_t boot = s_uint (body, "boot");
    if (self->first_page) {
        self->first_page = false;
        self->load_boot = boot;
        self->load_seq = s_uint (body, "seq");
        ocf_view_set_self (self->view, json_string_value (json_object_get (body, "self")));
        ocf_view_reload_begin (self->view);
    }
    else
    if (boot != self->load_boot) {
        s_load_start (self);         //  tabled restarted in the middle of the load
        return;
    }
    size_t index;
    json_t *row;
    char problem[256];
    json_array_foreach (json_object_get (body, "rows"), index, row)
        if (ocf_view_apply_row (self->view, row, problem, sizeof problem) < 0) {
            self->errors++;
            ocf_log_warning ("ignored a malformed row from LIST: %s", problem);
        }
    const char *next = json_string_value (json_object_get (body, "next"));
    if (!next) {
        s_load_finish (self);
        return;
    }
    snprintf (self->cursor, sizeof self->cursor, "%s", next);
    self->call = ocf_zclient_call (self->tabled, "LIST", json_pack ("{s:s, s:i}", "after", self->cursor, "limit", PAGE_ROWS),
                                   s_on_page, self);
}

static void
s_load_start (ocf_feed_t *self)
{
    if (self->call)
        ocf_zcall_cancel (self->call);   //  a HELLO in flight: its answer no longer matters
    self->loading = true;
    self->needs_load = false;
    self->following = false;
    self->first_page = true;
    self->cursor[0] = '\0';
    zlistx_purge (self->buffered);
    self->overflowed = false;
    self->loads++;
    self->call = ocf_zclient_call (self->tabled, "LIST", json_pack ("{s:i}", "limit", PAGE_ROWS), s_on_page, self);
}

//  --------------------------------------------------------------------------
//  Following

static void
s_on_event (zsock_t *sock, void *arg)
{
    ocf_feed_t *self = arg;
    zmsg_t *zmsg = zmsg_recv (sock);
    if (!zmsg)
        return;
    ocf_msg_t msg;
    char error[256];
    if (ocf_msg_decode_zmsg (&msg, zmsg, 64 * 1024 * 1024, error, sizeof error) != 0) {
        self->errors++;
        ocf_log_warning ("ignored a malformed event from tabled: %s", error);
        zmsg_destroy (&zmsg);
        return;
    }
    zmsg_destroy (&zmsg);
    uint64_t seq = s_uint (msg.body, "seq"), boot = s_uint (msg.body, "boot");
    if (self->loading) {
        if (zlistx_size (self->buffered) < MAX_BUFFERED) {
            event_t *event = calloc (1, sizeof *event);
            snprintf (event->topic, sizeof event->topic, "%s", msg.verb);
            event->body = json_incref (msg.body);
            zlistx_add_end (self->buffered, event);
        }
        else
            self->overflowed = true;
    }
    else
    if (self->following && boot == self->boot && seq == self->seq + 1) {
        s_apply (self, msg.verb, msg.body);
        self->seq = seq;
    }
    else
    if (self->following && boot == self->boot && seq <= self->seq)
        ;                            //  already applied (from a load)
    else
    if (self->following || self->reachable) {
        ocf_log_info ("tabled event stream: boot %" PRIu64 " seq %" PRIu64 " after boot %" PRIu64 " seq %" PRIu64
                      ", reloading the view", boot, seq, self->boot, self->seq);
        self->reloads++;
        s_load_start (self);
    }
    ocf_msg_clear (&msg);
}

static void
s_on_hello (void *arg, ocf_zreply_t status, json_t *body, const char *error)
{
    ocf_feed_t *self = arg;
    self->call = NULL;
    if (status == OCF_ZREPLY_NONE) {
        s_unreachable (self, error);
        return;
    }
    if (status == OCF_ZREPLY_ERR)
        return;
    if (!self->reachable)
        ocf_log_info ("tabled answers again: reloading the view");
    bool was_reachable = self->reachable;
    self->reachable = true;
    uint64_t boot = s_uint (body, "boot"), seq = s_uint (body, "seq");
    //  tabled's seq may run ahead of the events on their way to us: only a seq seen one beat
    //  ago and still not reached means events were lost.
    bool lost = self->following && self->hello_seq > self->seq;
    if (!was_reachable || !self->following || boot != self->boot || lost) {
        if (was_reachable && self->following)
            self->reloads++;
        self->hello_seq = 0;
        s_load_start (self);
        return;
    }
    self->hello_seq = seq;
}

static void
s_on_beat (h2o_timeout_entry_t *entry)
{
    ocf_feed_t *self = H2O_STRUCT_FROM_MEMBER (ocf_feed_t, beat, entry);
    h2o_timeout_link (self->loop, &self->beat_timeout, &self->beat);
    if (self->call)
        return;                      //  the previous call has its own deadline
    if (self->needs_load)
        s_load_start (self);
    else
        self->call = ocf_zclient_call (self->tabled, "HELLO", NULL, s_on_hello, self);
}

ocf_feed_t *
ocf_feed_new (h2o_loop_t *loop, ocf_zclient_t *tabled, const char *events_endpoint, ocf_view_t *view,
              ocf_feed_settled_fn *settled, void *arg)
{
    ocf_feed_t *self = calloc (1, sizeof *self);
    self->loop = loop;
    self->tabled = tabled;
    self->view = view;
    self->settled_fn = settled;
    self->settled_arg = arg;
    self->buffered = zlistx_new ();
    zlistx_set_destructor (self->buffered, s_event_destroy);
    //  Subscribe before loading, so that nothing published after the load is missed.
    self->events = zsock_new (ZMQ_SUB);
    zsock_set_rcvhwm (self->events, 100000);
    zsock_set_subscribe (self->events, "");
    zsock_set_linger (self->events, 0);
    zsock_connect (self->events, "%s", events_endpoint);
    self->watch = ocf_zwatch_new (loop, self->events, s_on_event, self);
    h2o_timeout_init (loop, &self->beat_timeout, BEAT_MS);
    self->beat.cb = s_on_beat;
    h2o_timeout_link (loop, &self->beat_timeout, &self->beat);
    s_load_start (self);
    return self;
}

void
ocf_feed_destroy (ocf_feed_t **self_p)
{
    ocf_feed_t *self = *self_p;
    if (!self)
        return;
    if (self->call)
        ocf_zcall_cancel (self->call);
    if (h2o_timeout_is_linked (&self->beat))
        h2o_timeout_unlink (&self->beat);
    h2o_timeout_dispose (self->loop, &self->beat_timeout);
    ocf_zwatch_destroy (&self->watch);
    zsock_destroy (&self->events);
    zlistx_destroy (&self->buffered);
    free (self);
    *self_p = NULL;
}

bool
ocf_feed_connected (ocf_feed_t *self)
{
    return self->reachable && self->following;
}

json_t *
ocf_feed_stats (ocf_feed_t *self)
{
    return json_pack ("{s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "connected", ocf_feed_connected (self),
                      "loads", (json_int_t) self->loads, "reloads", (json_int_t) self->reloads,
                      "events", (json_int_t) self->events_applied, "errors", (json_int_t) self->errors,
                      "boot", (json_int_t) self->boot, "seq", (json_int_t) self->seq);
}

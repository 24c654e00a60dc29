/*  ocf_viewsync: the routing view's link to tabled.  */
#include "ocf_viewsync.h"
#include "ocf_alloc.h"
#include "ocf_follower.h"
#include "ocf_log.h"
#include "ocf_msg.h"
#include "ocf_time.h"

#define TICK_MS 100
#define RETRY_MS 1000
#define HELLO_MS 1000
#define PAGE_ROWS 1000
#define MAX_BUFFERED 100000      //  events kept while a load is in progress (tabled's PUB limit)

struct _ocf_viewsync_t {
    h2o_loop_t *loop;
    ocf_zclient_t *tabled;
    zsock_t *events;
    ocf_zwatch_t *watch;
    ocf_view_t *view;
    ocf_follower_t *follower;
    ocf_viewsync_settled_fn *settled_fn;
    void *settled_arg;
    bool settled;
    bool stale;                  //  said so in the log
    h2o_timeout_t tick_timeout;
    h2o_timeout_entry_t tick;
    ocf_zcall_t *call;           //  the follower's request out
    uint64_t errors;             //  malformed events and rows
    ocf_eventlog_t *eventlog;    //  told of the changes, when set
};

static void
s_settle (ocf_viewsync_t *self)
{
    if (!self->settled) {
        self->settled = true;
        self->settled_fn (self->settled_arg);
    }
}

//  --------------------------------------------------------------------------
//  The follower's requests and what it tells

static void
s_on_reply (void *arg, ocf_zreply_t status, json_t *body, const char *error)
{
    ocf_viewsync_t *self = arg;
    self->call = NULL;
    if (status == OCF_ZREPLY_NONE)
        ocf_follower_lost (self->follower, ocf_time_mono_ms (), error);
    else
        ocf_follower_reply (self->follower, ocf_time_mono_ms (), status == OCF_ZREPLY_OK, body);
}

static void
s_send (void *arg, const char *verb, json_t *body)
{
    ocf_viewsync_t *self = arg;
    //  The follower moved on (a HELLO in flight when an event showed a gap): drop its answer.
    if (self->call)
        ocf_zcall_cancel (self->call);
    self->call = ocf_zclient_call (self->tabled, verb, body, s_on_reply, self);
}

static void
s_on_hello (void *arg, json_t *hello)
{
    ocf_viewsync_t *self = arg;
    if (self->stale)
        ocf_log_info ("tabled answers again: reloading the view");
    self->stale = false;
}

static void
s_on_load_begin (void *arg, json_t *page)
{
    ocf_viewsync_t *self = arg;
    ocf_view_set_self (self->view, json_string_value (json_object_get (page, "self")));
    ocf_view_reload_begin (self->view);
}

static void
s_on_row (void *arg, json_t *row)
{
    ocf_viewsync_t *self = arg;
    char problem[256];
    if (ocf_view_apply_row (self->view, row, problem, sizeof problem) < 0) {
        self->errors++;
        ocf_log_warning ("ignored a malformed row from LIST: %s", problem);
    }
}

static void
s_on_loaded (void *arg)
{
    ocf_viewsync_t *self = arg;
    ocf_view_reload_end (self->view);
    const ocf_follower_stats_t *stats = ocf_follower_stats (self->follower);
    ocf_log_info ("routing view loaded: %zu nodes (%zu live), tabled boot %" PRIu64 " seq %" PRIu64,
                  ocf_view_size (self->view), ocf_view_live_count (self->view), stats->boot, stats->seq);
    s_settle (self);
}

static void
s_on_event (void *arg, const char *topic, json_t *body)
{
    ocf_viewsync_t *self = arg;
    char error[256];
    int rc = 0;
    //  What changed for people: the node as it was and as it is (the event names it).
    json_t *subject = json_object_get (body, strcmp (topic, "row") == 0 ? "row"
                                           : strcmp (topic, "status") == 0 ? "member" : "tombstone");
    const char *id = json_string_value (json_object_get (subject, "id"));
    ocf_eventlog_node_t before;
    if (self->eventlog && id)
        ocf_eventlog_snapshot (&before, ocf_view_lookup (self->view, id));
    if (strcmp (topic, "row") == 0)
        rc = ocf_view_apply_row (self->view, json_object_get (body, "row"), error, sizeof error);
    else
    if (strcmp (topic, "status") == 0)
        rc = ocf_view_apply_member (self->view, json_object_get (body, "member"), error, sizeof error);
    else
    if (strcmp (topic, "tombstone") == 0)
        rc = ocf_view_apply_tombstone (self->view, json_object_get (body, "tombstone"), error, sizeof error);
    else
    if (strcmp (topic, "seen") == 0)
        rc = ocf_view_apply_seen (self->view, json_object_get (body, "seen"), error, sizeof error);
    else
    if (strcmp (topic, "rtt") == 0)
        rc = ocf_view_apply_rtt (self->view, json_object_get (body, "rtt"), error, sizeof error);
    if (rc < 0) {
        self->errors++;
        ocf_log_warning ("ignored a malformed %s event from tabled: %s", topic, error);
    }
    if (rc > 0 && self->eventlog && id) {
        ocf_eventlog_node_t after;
        ocf_eventlog_snapshot (&after, ocf_view_lookup (self->view, id));
        ocf_eventlog_compare (self->eventlog, ocf_time_wall_ms (), id, &before, &after);
    }
}

static void
s_on_stale (void *arg, const char *error)
{
    ocf_viewsync_t *self = arg;
    ocf_log_warning ("the view no longer follows tabled (%s): routing on it as it is, retrying every %d ms", error,
                     RETRY_MS);
    self->stale = true;
    s_settle (self);
}

//  --------------------------------------------------------------------------
//  The loop

static void
s_on_message (zsock_t *sock, void *arg)
{
    ocf_viewsync_t *self = arg;
    zmsg_t *zmsg = zmsg_recv (sock);
    if (!zmsg)
        return;
    ocf_msg_t msg;
    char error[256];
    int rc = ocf_msg_decode_zmsg (&msg, zmsg, 64 * 1024 * 1024, error, sizeof error);
    zmsg_destroy (&zmsg);
    if (rc != 0) {
        self->errors++;
        ocf_log_warning ("ignored a malformed event from tabled: %s", error);
        return;
    }
    ocf_follower_event (self->follower, ocf_time_mono_ms (), msg.verb, msg.body);
    ocf_msg_clear (&msg);
}

static void
s_on_tick (h2o_timeout_entry_t *entry)
{
    ocf_viewsync_t *self = H2O_STRUCT_FROM_MEMBER (ocf_viewsync_t, tick, entry);
    h2o_timeout_link (self->loop, &self->tick_timeout, &self->tick);
    ocf_follower_tick (self->follower, ocf_time_mono_ms ());
}

ocf_viewsync_t *
ocf_viewsync_new (h2o_loop_t *loop, ocf_zclient_t *tabled, const char *events_endpoint, ocf_view_t *view,
                  ocf_viewsync_settled_fn *settled, void *arg)
{
    ocf_viewsync_t *self = ocf_calloc (1, sizeof *self);
    self->loop = loop;
    self->tabled = tabled;
    self->view = view;
    self->settled_fn = settled;
    self->settled_arg = arg;
    ocf_follower_config_t config = { .retry_ms = RETRY_MS, .hello_ms = HELLO_MS, .page_rows = PAGE_ROWS,
                                     .max_buffered = MAX_BUFFERED, .view_name = "routing view" };
    ocf_follower_handler_t handler = { .arg = self, .send = s_send, .hello = s_on_hello, .load_begin = s_on_load_begin,
                                       .row = s_on_row, .loaded = s_on_loaded, .event = s_on_event, .stale = s_on_stale };
    self->follower = ocf_follower_new (&config, &handler);
    //  Subscribe before loading, so that nothing published after the load is missed.
    self->events = zsock_new (ZMQ_SUB);
    zsock_set_rcvhwm (self->events, 100000);
    zsock_set_subscribe (self->events, "");
    zsock_set_linger (self->events, 0);
    zsock_connect (self->events, "%s", events_endpoint);
    self->watch = ocf_zwatch_new (loop, self->events, s_on_message, self);
    h2o_timeout_init (loop, &self->tick_timeout, TICK_MS);
    self->tick.cb = s_on_tick;
    h2o_timeout_link (loop, &self->tick_timeout, &self->tick);
    ocf_follower_tick (self->follower, ocf_time_mono_ms ());
    return self;
}

void
ocf_viewsync_destroy (ocf_viewsync_t **self_p)
{
    ocf_viewsync_t *self = *self_p;
    if (!self)
        return;
    if (self->call)
        ocf_zcall_cancel (self->call);
    if (h2o_timeout_is_linked (&self->tick))
        h2o_timeout_unlink (&self->tick);
    h2o_timeout_dispose (self->loop, &self->tick_timeout);
    ocf_zwatch_destroy (&self->watch);
    zsock_destroy (&self->events);
    ocf_follower_destroy (&self->follower);
    free (self);
    *self_p = NULL;
}

void
ocf_viewsync_record (ocf_viewsync_t *self, ocf_eventlog_t *eventlog)
{
    self->eventlog = eventlog;
}

bool
ocf_viewsync_connected (ocf_viewsync_t *self)
{
    return ocf_follower_following (self->follower);
}

json_t *
ocf_viewsync_stats (ocf_viewsync_t *self)
{
    const ocf_follower_stats_t *stats = ocf_follower_stats (self->follower);
    return json_pack ("{s:b, s:I, s:I, s:I, s:I, s:I, s:I}", "connected", ocf_viewsync_connected (self),
                      "loads", (json_int_t) stats->loads, "reloads", (json_int_t) stats->reloads,
                      "events", (json_int_t) stats->events, "errors", (json_int_t) (self->errors + stats->refused),
                      "boot", (json_int_t) stats->boot, "seq", (json_int_t) stats->seq);
}

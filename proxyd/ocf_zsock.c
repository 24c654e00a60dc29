/*  ocf_zsock: ZeroMQ in the h2o loop.  */
#include "ocf_zsock.h"
#include "ocf_alloc.h"
#include "ocf_msg.h"

#include <unistd.h>

#define MAX_PENDING 4096
#define MAX_REPLY (64 * 1024 * 1024)

struct _ocf_zwatch_t {
    h2o_loop_t *loop;
    zsock_t *sock;
    h2o_socket_t *event;         //  a dup of ZMQ_FD, polled for readability only
    ocf_zwatch_fn *fn;
    void *arg;
    h2o_timeout_t zero;
    h2o_timeout_entry_t recheck;
};

static void
s_zwatch_drain (ocf_zwatch_t *self)
{
    while (zsock_events (self->sock) & ZMQ_POLLIN)
        self->fn (self->sock, self->arg);
}

static void
s_zwatch_on_ready (h2o_socket_t *event, const char *error)
{
    s_zwatch_drain (event->data);
}

static void
s_zwatch_on_recheck (h2o_timeout_entry_t *entry)
{
    s_zwatch_drain (H2O_STRUCT_FROM_MEMBER (ocf_zwatch_t, recheck, entry));
}

ocf_zwatch_t *
ocf_zwatch_new (h2o_loop_t *loop, zsock_t *sock, ocf_zwatch_fn *fn, void *arg)
{
    ocf_zwatch_t *self = ocf_calloc (1, sizeof *self);
    self->loop = loop;
    self->sock = sock;
    self->fn = fn;
    self->arg = arg;
    self->event = h2o_evloop_socket_create (loop, dup (zsock_fd (sock)), H2O_SOCKET_FLAG_DONT_READ);
    self->event->data = self;
    h2o_socket_read_start (self->event, s_zwatch_on_ready);
    h2o_timeout_init (loop, &self->zero, 0);
    self->recheck.cb = s_zwatch_on_recheck;
    //  Messages may be waiting already; the fd only signals changes.
    h2o_timeout_link (loop, &self->zero, &self->recheck);
    return self;
}

void
ocf_zwatch_destroy (ocf_zwatch_t **self_p)
{
    ocf_zwatch_t *self = *self_p;
    if (!self)
        return;
    if (h2o_timeout_is_linked (&self->recheck))
        h2o_timeout_unlink (&self->recheck);
    h2o_timeout_dispose (self->loop, &self->zero);
    h2o_socket_close (self->event);
    free (self);
    *self_p = NULL;
}

void
ocf_zwatch_sent (ocf_zwatch_t *self)
{
    if (!h2o_timeout_is_linked (&self->recheck))
        h2o_timeout_link (self->loop, &self->zero, &self->recheck);
}

//  --------------------------------------------------------------------------
//  Asynchronous client

struct _ocf_zcall_t {
    h2o_linklist_t link;         //  in the client's pending list, in send order
    h2o_timeout_entry_t timer;   //  the deadline, or an immediate failure
    ocf_zclient_t *client;
    ocf_zreply_fn *fn;           //  NULL once cancelled
    void *arg;
    const char *failure;         //  set when the send itself failed
    char verb[OCF_VERB_MAX + 1];
};

struct _ocf_zclient_t {
    h2o_loop_t *loop;
    char *endpoint;
    uint64_t timeout_ms;
    zsock_t *sock;
    ocf_zwatch_t *watch;
    h2o_linklist_t pending;
    size_t pending_count;
    h2o_timeout_t deadline;
    h2o_timeout_t zero;
};

static void s_on_reply (zsock_t *sock, void *arg);

static void
s_client_connect (ocf_zclient_t *self)
{
    self->sock = zsock_new (ZMQ_DEALER);
    zsock_set_linger (self->sock, 0);
    zsock_set_sndtimeo (self->sock, 0);          //  never block the loop
    zsock_set_sndhwm (self->sock, MAX_PENDING);
    zsock_set_rcvhwm (self->sock, MAX_PENDING);
    zsock_connect (self->sock, "%s", self->endpoint);
    self->watch = ocf_zwatch_new (self->loop, self->sock, s_on_reply, self);
}

static void
s_client_disconnect (ocf_zclient_t *self)
{
    ocf_zwatch_destroy (&self->watch);
    zsock_destroy (&self->sock);
}

static void
s_call_free (ocf_zcall_t *call)
{
    if (h2o_linklist_is_linked (&call->link)) {
        h2o_linklist_unlink (&call->link);
        call->client->pending_count--;
    }
    if (h2o_timeout_is_linked (&call->timer))
        h2o_timeout_unlink (&call->timer);
    free (call);
}

static void
s_call_finish (ocf_zcall_t *call, ocf_zreply_t status, json_t *body, const char *error)
{
    ocf_zreply_fn *fn = call->fn;
    void *arg = call->arg;
    s_call_free (call);
    if (fn)
        fn (arg, status, body, error);
}

static void
s_on_reply (zsock_t *sock, void *arg)
{
    ocf_zclient_t *self = arg;
    zmsg_t *zmsg = zmsg_recv (sock);
    if (!zmsg)
        return;
    if (h2o_linklist_is_empty (&self->pending)) {
        zmsg_destroy (&zmsg);                    //  a reply nobody waits for any more
        return;
    }
    ocf_zcall_t *call = H2O_STRUCT_FROM_MEMBER (ocf_zcall_t, link, self->pending.next);
    ocf_msg_t msg;
    char error[512];
    if (ocf_msg_decode_zmsg (&msg, zmsg, MAX_REPLY, error, sizeof error) != 0) {
        zmsg_destroy (&zmsg);
        s_call_finish (call, OCF_ZREPLY_NONE, NULL, error);
        return;
    }
    zmsg_destroy (&zmsg);
    if (strcmp (msg.verb, "OK") == 0)
        s_call_finish (call, OCF_ZREPLY_OK, msg.body, NULL);
    else {
        const char *text = json_string_value (json_object_get (msg.body, "error"));
        s_call_finish (call, OCF_ZREPLY_ERR, msg.body, text ? text : msg.verb);
    }
    ocf_msg_clear (&msg);
}

//  A call went unanswered: the socket may still deliver its reply later, so it is replaced
//  and every call waiting on it fails.
static void
s_on_deadline (h2o_timeout_entry_t *entry)
{
    ocf_zcall_t *late = H2O_STRUCT_FROM_MEMBER (ocf_zcall_t, timer, entry);
    ocf_zclient_t *self = late->client;
    char error[600];
    snprintf (error, sizeof error, "%s: no reply from %s within %" PRIu64 " ms", late->verb, self->endpoint, self->timeout_ms);
    s_client_disconnect (self);
    s_client_connect (self);
    h2o_linklist_t failed;
    h2o_linklist_init_anchor (&failed);
    h2o_linklist_insert_list (&failed, &self->pending);
    self->pending_count = 0;
    while (!h2o_linklist_is_empty (&failed)) {
        ocf_zcall_t *call = H2O_STRUCT_FROM_MEMBER (ocf_zcall_t, link, failed.next);
        h2o_linklist_unlink (&call->link);
        s_call_finish (call, OCF_ZREPLY_NONE, NULL, error);
    }
}

static void
s_on_send_failed (h2o_timeout_entry_t *entry)
{
    ocf_zcall_t *call = H2O_STRUCT_FROM_MEMBER (ocf_zcall_t, timer, entry);
    char error[600];
    snprintf (error, sizeof error, "%s: cannot send to %s: %s", call->verb, call->client->endpoint, call->failure);
    s_call_finish (call, OCF_ZREPLY_NONE, NULL, error);
}

ocf_zclient_t *
ocf_zclient_new (h2o_loop_t *loop, const char *endpoint, uint64_t timeout_ms)
{
    ocf_zclient_t *self = ocf_calloc (1, sizeof *self);
    self->loop = loop;
    self->endpoint = ocf_strdup (endpoint);
    self->timeout_ms = timeout_ms;
    h2o_linklist_init_anchor (&self->pending);
    h2o_timeout_init (loop, &self->deadline, timeout_ms);
    h2o_timeout_init (loop, &self->zero, 0);
    s_client_connect (self);
    return self;
}

void
ocf_zclient_destroy (ocf_zclient_t **self_p)
{
    ocf_zclient_t *self = *self_p;
    if (!self)
        return;
    while (!h2o_linklist_is_empty (&self->pending))
        s_call_free (H2O_STRUCT_FROM_MEMBER (ocf_zcall_t, link, self->pending.next));
    s_client_disconnect (self);
    h2o_timeout_dispose (self->loop, &self->deadline);
    h2o_timeout_dispose (self->loop, &self->zero);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

ocf_zcall_t *
ocf_zclient_call (ocf_zclient_t *self, const char *verb, json_t *body, ocf_zreply_fn *fn, void *arg)
{
    ocf_zcall_t *call = ocf_calloc (1, sizeof *call);
    call->client = self;
    call->fn = fn;
    call->arg = arg;
    snprintf (call->verb, sizeof call->verb, "%s", verb);
    if (self->pending_count >= MAX_PENDING) {
        json_decref (body);
        call->failure = "too many calls waiting for replies";
    }
    else
    if (ocf_msg_send (self->sock, verb, body) != 0)
        call->failure = zmq_strerror (zmq_errno ());
    if (call->failure) {
        call->timer.cb = s_on_send_failed;
        h2o_timeout_link (self->loop, &self->zero, &call->timer);
        return call;
    }
    h2o_linklist_insert (&self->pending, &call->link);
    self->pending_count++;
    call->timer.cb = s_on_deadline;
    h2o_timeout_link (self->loop, &self->deadline, &call->timer);
    ocf_zwatch_sent (self->watch);
    return call;
}

void
ocf_zcall_cancel (ocf_zcall_t *call)
{
    if (call)
        call->fn = NULL;
}


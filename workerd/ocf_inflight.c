/*  ocf_inflight: the local proxyd's in-flight counts.  */
#include "ocf_inflight.h"
#include "ocf_alloc.h"
#include "ocf_msg.h"
#include "ocf_time.h"

#define MAX_REPLY (4 * 1024 * 1024)

struct _ocf_inflight_t {
    zloop_t *loop;
    char *endpoint;
    zsock_t *sock;
    int64_t timeout_ms;
    ocf_inflight_fn *fn;
    void *arg;
    int timer_id;                //  the reply deadline while a question is out, else -1
};

static int s_on_reply (zloop_t *loop, zsock_t *sock, void *arg);

static void
s_connect (ocf_inflight_t *self)
{
    self->sock = zsock_new (ZMQ_DEALER);
    zsock_set_linger (self->sock, 0);
    //  No proxyd, no queue: the send fails at once and the caller knows.
    zsock_set_sndtimeo (self->sock, 0);
    zsock_set_immediate (self->sock, 1);
    zsock_set_maxmsgsize (self->sock, MAX_REPLY);
    zsock_connect (self->sock, "%s", self->endpoint);
    zloop_reader (self->loop, self->sock, s_on_reply, self);
}

static void
s_disconnect (ocf_inflight_t *self)
{
    zloop_reader_end (self->loop, self->sock);
    zsock_destroy (&self->sock);
}

static void
s_answered (ocf_inflight_t *self)
{
    if (self->timer_id >= 0)
        zloop_timer_end (self->loop, self->timer_id);
    self->timer_id = -1;
}

static int
s_on_timeout (zloop_t *loop, int timer_id, void *arg)
{
    ocf_inflight_t *self = arg;
    if (timer_id != self->timer_id)
        return 0;
    self->timer_id = -1;
    //  A late reply must not answer the next question: start over on a new socket.
    s_disconnect (self);
    s_connect (self);
    char error[128];
    snprintf (error, sizeof error, "proxyd did not answer STATS within %lld ms", (long long) self->timeout_ms);
    self->fn (NULL, error, self->arg);
    return 0;
}

static void
s_deliver (ocf_inflight_t *self, zmsg_t *zmsg)
{
    ocf_msg_t msg;
    char error[256];
    if (ocf_msg_decode_zmsg (&msg, zmsg, MAX_REPLY, error, sizeof error) != 0) {
        self->fn (NULL, error, self->arg);
        return;
    }
    json_t *counts = json_object_get (msg.body, "backend_inflight");
    if (strcmp (msg.verb, "OK") != 0 || !json_is_object (counts))
        self->fn (NULL, "proxyd's STATS reply holds no backend_inflight", self->arg);
    else
        self->fn (counts, NULL, self->arg);
    ocf_msg_clear (&msg);
}

static int
s_on_reply (zloop_t *loop, zsock_t *sock, void *arg)
{
    ocf_inflight_t *self = arg;
    zmsg_t *zmsg;
    while ((zsock_events (sock) & ZMQ_POLLIN) && (zmsg = zmsg_recv_nowait (sock))) {
        //  After a timeout the socket is a new one: whatever arrives answers the question out.
        if (self->timer_id >= 0) {
            s_answered (self);
            s_deliver (self, zmsg);
        }
        zmsg_destroy (&zmsg);
    }
    return 0;
}

ocf_inflight_t *
ocf_inflight_new (zloop_t *loop, const char *endpoint, int64_t timeout_ms, ocf_inflight_fn *fn, void *arg)
{
    ocf_inflight_t *self = ocf_calloc (1, sizeof *self);
    self->loop = loop;
    self->endpoint = ocf_strdup (endpoint);
    self->timeout_ms = timeout_ms;
    self->fn = fn;
    self->arg = arg;
    self->timer_id = -1;
    s_connect (self);
    return self;
}

void
ocf_inflight_destroy (ocf_inflight_t **self_p)
{
    ocf_inflight_t *self = *self_p;
    if (!self)
        return;
    s_answered (self);
    s_disconnect (self);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

int
ocf_inflight_ask (ocf_inflight_t *self, char *error, size_t error_size)
{
    if (self->timer_id >= 0)
        return 0;
    if (ocf_msg_send (self->sock, "STATS", NULL) != 0) {
        snprintf (error, error_size, "proxyd is not running (nothing accepts on %s)", self->endpoint);
        return -1;
    }
    self->timer_id = zloop_timer (self->loop, (size_t) self->timeout_ms, 1, s_on_timeout, self);
    return 0;
}

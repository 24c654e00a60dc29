/*  ocf_client: synchronous local API client.  */
#include "ocf_client.h"
#include "ocf_alloc.h"
#include "ocf_msg.h"

#include <czmq.h>

struct _ocf_client_t {
    char *endpoint;
    zsock_t *sock;
    size_t max_reply;
};

static void
s_connect (ocf_client_t *self)
{
    self->sock = zsock_new (ZMQ_DEALER);
    zsock_set_linger (self->sock, 0);
    zsock_connect (self->sock, "%s", self->endpoint);
}

ocf_client_t *
ocf_client_new (const char *endpoint)
{
    ocf_client_t *self = ocf_calloc (1, sizeof *self);
    self->endpoint = ocf_strdup (endpoint);
    self->max_reply = 64 * 1024 * 1024;
    s_connect (self);
    return self;
}

void
ocf_client_destroy (ocf_client_t **self_p)
{
    ocf_client_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->sock);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

void
ocf_client_set_max_reply (ocf_client_t *self, size_t bytes)
{
    self->max_reply = bytes;
}

int
ocf_client_call (ocf_client_t *self, const char *verb, json_t *body, int timeout_ms, json_t **reply,
                 char *error, size_t error_size)
{
    *reply = NULL;
    if (ocf_msg_send (self->sock, verb, body) != 0) {
        snprintf (error, error_size, "%s: cannot send to %s: %s", verb, self->endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    zmq_pollitem_t item = { zsock_resolve (self->sock), 0, ZMQ_POLLIN, 0 };
    int ready;
    do
        ready = zmq_poll (&item, 1, timeout_ms);
    while (ready < 0 && zmq_errno () == EINTR);
    if (ready <= 0) {
        snprintf (error, error_size, "%s: no reply from %s within %d ms", verb, self->endpoint, timeout_ms);
        zsock_destroy (&self->sock);
        s_connect (self);
        return -1;
    }
    zmsg_t *zmsg = zmsg_recv (self->sock);
    ocf_msg_t msg;
    int rc = zmsg ? ocf_msg_decode_zmsg (&msg, zmsg, self->max_reply, error, error_size) : -1;
    zmsg_destroy (&zmsg);
    if (rc != 0)
        return -1;
    *reply = msg.body;
    if (strcmp (msg.verb, "OK") == 0)
        return 0;
    //  Daemons' error texts already name the verb.
    const char *text = json_string_value (json_object_get (msg.body, "error"));
    snprintf (error, error_size, "%s", text ? text : msg.verb);
    return -1;
}

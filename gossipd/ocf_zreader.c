/*  ocf_zreader: a ZeroMQ socket watched in a zloop by its ZMQ_FD.  */
#include "ocf_zreader.h"
#include "ocf_alloc.h"

struct _ocf_zreader_t {
    zloop_t *loop;
    zsock_t *sock;
    zloop_reader_fn *handler;
    void *arg;
    zmq_pollitem_t item;
    int timer;                       //  the next turn's read after a send (0: none)
};

static int
s_on_descriptor (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    ocf_zreader_t *self = arg;
    return self->handler (loop, self->sock, self->arg);
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    ocf_zreader_t *self = arg;
    self->timer = 0;
    return self->handler (loop, self->sock, self->arg);
}

static void
s_watch (ocf_zreader_t *self, zsock_t *sock)
{
    self->sock = sock;
    self->item = (zmq_pollitem_t) { NULL, zsock_fd (sock), ZMQ_POLLIN, 0 };
    zloop_poller (self->loop, &self->item, s_on_descriptor, self);
    //  What arrived before may have signalled already (a setting or a send took the command
    //  in): read it at the next turn.
    ocf_zreader_sent (self);
}

ocf_zreader_t *
ocf_zreader_new (zloop_t *loop, zsock_t *sock, zloop_reader_fn *handler, void *arg)
{
    ocf_zreader_t *self = ocf_calloc (1, sizeof *self);
    self->loop = loop;
    self->handler = handler;
    self->arg = arg;
    s_watch (self, sock);
    return self;
}

void
ocf_zreader_set_socket (ocf_zreader_t *self, zsock_t *sock)
{
    zloop_poller_end (self->loop, &self->item);
    s_watch (self, sock);
}

void
ocf_zreader_destroy (ocf_zreader_t **self_p)
{
    ocf_zreader_t *self = *self_p;
    if (!self)
        return;
    zloop_poller_end (self->loop, &self->item);
    if (self->timer)
        zloop_timer_end (self->loop, self->timer);
    free (self);
    *self_p = NULL;
}

void
ocf_zreader_sent (ocf_zreader_t *self)
{
    if (!self->timer)
        self->timer = zloop_timer (self->loop, 0, 1, s_on_timer, self);
}

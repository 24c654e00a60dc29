/*  ocf_introducer: key discovery for plain host:port seeds, trust on first use.  */
#include "ocf_introducer.h"
#include "ocf_alloc.h"
#include "ocf_identity.h"
#include "ocf_log.h"
#include "ocf_statedir.h"

#include <errno.h>

#define REQUEST "KEY?"

typedef struct {
    zsock_t *sock;
    char seed[300];              //  "host:port" of the gossip socket, as pinned
    char endpoint[320];          //  "tcp://host:port"
    bool done;
} lookup_t;

struct _ocf_introducer_t {
    char id[OCF_NODE_ID_LEN + 1];
    char pins[4200];             //  state_dir/known_seeds
    zsock_t *server;
    zlistx_t *lookups;
    ocf_introducer_fn *found;
    ocf_introducer_check_fn *check;
    void *arg;
};

static void
s_lookup_destroy (void **item)
{
    lookup_t *lookup = *item;
    if (lookup) {
        zsock_destroy (&lookup->sock);
        free (lookup);
        *item = NULL;
    }
}

ocf_introducer_t *
ocf_introducer_new (const char *id, const char *bind, const char *state_dir, ocf_introducer_fn *found,
                    ocf_introducer_check_fn *check, void *arg, char *error, size_t error_size)
{
    ocf_introducer_t *self = ocf_calloc (1, sizeof *self);
    snprintf (self->id, sizeof self->id, "%s", id);
    ocf_statedir_path (state_dir, OCF_STATE_KNOWN_SEEDS, self->pins, sizeof self->pins);
    self->found = found;
    self->check = check;
    self->arg = arg;
    self->lookups = zlistx_new ();
    zlistx_set_destructor (self->lookups, s_lookup_destroy);
    if (bind) {
        self->server = zsock_new (ZMQ_ROUTER);
        //  A request is four bytes: nothing bigger, and few at a time, gets in.
        zsock_set_maxmsgsize (self->server, 64);
        zsock_set_rcvhwm (self->server, 16);
        zsock_set_sndtimeo (self->server, 0);
        zsock_set_linger (self->server, 0);
        if (zsock_bind (self->server, "%s", bind) < 0) {
            snprintf (error, error_size, "cannot bind the introducer on %s: %s", bind, zmq_strerror (zmq_errno ()));
            ocf_introducer_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void
ocf_introducer_destroy (ocf_introducer_t **self_p)
{
    ocf_introducer_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->server);
    zlistx_destroy (&self->lookups);
    free (self);
    *self_p = NULL;
}

zsock_t *ocf_introducer_server (ocf_introducer_t *self) { return self->server; }

void
ocf_introducer_on_server (ocf_introducer_t *self)
{
    while (zsock_events (self->server) & ZMQ_POLLIN) {
        zmsg_t *request = zmsg_recv_nowait (self->server);
        if (!request)
            return;
        zframe_t *routing = zmsg_pop (request);
        zframe_t *body = zmsg_pop (request);
        if (routing && body && zframe_streq (body, REQUEST)) {
            zmsg_t *reply = zmsg_new ();
            zmsg_append (reply, &routing);
            zmsg_addstr (reply, self->id);
            if (zmsg_send (&reply, self->server) != 0)
                zmsg_destroy (&reply);
        }
        zframe_destroy (&routing);
        zframe_destroy (&body);
        zmsg_destroy (&request);
    }
}

//  --------------------------------------------------------------------------
//  Lookups

//  The pinned key of seed, or "" when none (or no file).
static void
s_pinned (ocf_introducer_t *self, const char *seed, char *key)
{
    key[0] = '\0';
    FILE *file = fopen (self->pins, "r");
    if (!file)
        return;
    char line[512], host[320], pinned[OCF_NODE_ID_LEN + 2];
    while (fgets (line, sizeof line, file))
        if (sscanf (line, "%319s %53s", host, pinned) == 2 && strcmp (host, seed) == 0 && ocf_identity_id_valid (pinned))
            snprintf (key, OCF_NODE_ID_LEN + 1, "%s", pinned);
    fclose (file);
}

static void
s_pin (ocf_introducer_t *self, const char *seed, const char *key)
{
    FILE *file = fopen (self->pins, "a");
    if (!file || fprintf (file, "%s %s\n", seed, key) < 0)
        ocf_log_warning ("cannot record the key of seed %s in %s: %s", seed, self->pins, strerror (errno));
    if (file)
        fclose (file);
}

static void
s_send_request (lookup_t *lookup)
{
    zmq_send (zsock_resolve (lookup->sock), REQUEST, strlen (REQUEST), ZMQ_DONTWAIT);
}

zsock_t *
ocf_introducer_ask (ocf_introducer_t *self, const char *host, int port)
{
    lookup_t *lookup = ocf_calloc (1, sizeof *lookup);
    bool v6 = strchr (host, ':') != NULL;
    snprintf (lookup->seed, sizeof lookup->seed, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
    snprintf (lookup->endpoint, sizeof lookup->endpoint, "tcp://%s", lookup->seed);
    lookup->sock = zsock_new (ZMQ_DEALER);
    zsock_set_sndhwm (lookup->sock, 4);
    zsock_set_maxmsgsize (lookup->sock, 64);
    zsock_set_linger (lookup->sock, 0);
    zsock_connect (lookup->sock, "tcp://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port + 1);
    s_send_request (lookup);
    zlistx_add_end (self->lookups, lookup);
    return lookup->sock;
}

void
ocf_introducer_on_answer (ocf_introducer_t *self, zsock_t *sock)
{
    lookup_t *lookup = NULL;
    for (lookup_t *item = zlistx_first (self->lookups); item; item = zlistx_next (self->lookups))
        if (item->sock == sock)
            lookup = item;
    char *key = zstr_recv_nowait (sock);
    if (!lookup || lookup->done || !key) {
        zstr_free (&key);
        return;
    }
    char pinned[OCF_NODE_ID_LEN + 1];
    s_pinned (self, lookup->seed, pinned);
    if (!ocf_identity_id_valid (key))
        ocf_log_warning ("seed %s answered something that is not a node id; asking again", lookup->seed);
    else
    if (*pinned && strcmp (pinned, key) != 0) {
        //  Only a lost node.key changes a key: anything else is somebody in between.
        ocf_log_error ("seed %s now presents key %s, but %s was pinned for it in %s; not joining through it "
                       "(remove that line if the seed really changed its key)", lookup->seed, key, pinned, self->pins);
        lookup->done = true;
    }
    else
    if (self->check && !self->check (self->arg, key)) {
        ocf_log_error ("seed %s presents key %s, which is not in authorized_keys; not joining through it", lookup->seed, key);
        lookup->done = true;
    }
    else {
        if (!*pinned) {
            s_pin (self, lookup->seed, key);
            ocf_log_notice ("seed %s has key %s (first use: pinned in %s)", lookup->seed, key, self->pins);
        }
        lookup->done = true;
        self->found (self->arg, key, lookup->endpoint);
    }
    zstr_free (&key);
}

void
ocf_introducer_tick (ocf_introducer_t *self)
{
    for (lookup_t *lookup = zlistx_first (self->lookups); lookup; lookup = zlistx_next (self->lookups))
        if (!lookup->done)
            s_send_request (lookup);
}

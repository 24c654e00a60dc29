/*  ocf_transport: CURVE sockets, ZAP authorization, flood control.  */
#include "ocf_transport.h"
#include "ocf_alloc.h"
#include "ocf_identity.h"
#include "ocf_log.h"
#include "ocf_loglimit.h"
#include "ocf_time.h"
#include "ocf_zreader.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>

//  Still a draft option in libzmq 4.3's header, though Debian's library is built with it
//  (czmq's zsock_set_metadata compiles to nothing without the draft API).
#ifndef ZMQ_METADATA
#define ZMQ_METADATA 95
#endif

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "ocf-gossip"
#define IDLE_CLOSE_MS 60000          //  a connection to an active peer unused this long is closed
#define TEMPORARY_CLOSE_MS 10000     //  one to another peer (an answer, a probe, a joiner)
#define MAX_CONNECTIONS 1024
#define CUT_OFF_MS 60000
#define STRIKES_MAX 10               //  malformed messages per STRIKE_WINDOW_MS before a cut-off
#define STRIKE_WINDOW_MS 60000
#define RECEIVE_HWM 100              //  messages queued per incoming connection (x max_frame: the memory bound)
#define SEND_HWM 1000
#define MAX_PEER_STATES 4096
#define WAIT_MS 3000                 //  how long messages wait for an endpoint
#define WAIT_MAX 64                  //  messages waiting per node
#define WAITING_NODES_MAX 256
#define LINGER_MS 500                //  a leave's tombstone still goes out when we close
#define RECEIVE_BATCH 128            //  messages read from all sockets before any is handled

typedef struct {
    ocf_transport_t *transport;
    char id[OCF_NODE_ID_LEN + 1];    //  the peer: the only one that can answer on it
    zsock_t *sock;
    int fd;                          //  its ZMQ_FD (s_signal_item)
    bool unread;                     //  a message may wait on it that its descriptor will not signal
    char *endpoint;
    int64_t last_used;
} connection_t;

//  Messages for a node whose endpoint is not known yet: a newcomer's first requests are
//  answered before its row has gone through tabled to our view.
typedef struct {
    zlistx_t *frames;
    int64_t since;
} waiting_t;

//  A message read, not handled yet: from a proven peer, on sock.
typedef struct {
    char id[OCF_NODE_ID_LEN + 1];
    zframe_t *frame;
    zsock_t *sock;
} received_t;

typedef struct {
    double tokens;                   //  messages it may still send now
    int64_t refilled;
    int strikes;
    int64_t strikes_since;
    int64_t cut_until;
} peer_state_t;

struct _ocf_transport_t {
    ocf_identity_t *identity;
    zloop_t *loop;
    ocf_transport_fn *receive;
    ocf_transport_drained_fn *drained;
    ocf_transport_urgent_fn *urgent;
    void *arg;
    received_t batch[RECEIVE_BATCH];
    size_t batch_size;
    struct pollfd *signals;          //  the DEALERs' descriptors, polled at once (s_mark_signalled)
    connection_t **signalled;        //  the connection of each
    size_t signals_size;
    zsock_t *router;
    zsock_t *zap;
    ocf_zreader_t *router_reader;
    ocf_zreader_t *zap_reader;
    ocf_loglimit_t refusal_log;      //  unauthorized keys: a line a second
    zhashx_t *routes;                //  id -> zframe_t, the routing id of its connection to us
    zhashx_t *endpoints;             //  id -> "tcp://host:port"
    zhashx_t *connections;           //  id -> connection_t
    zhashx_t *peers;                 //  id -> peer_state_t (flood and garbage accounting)
    zhashx_t *authorized;            //  id -> id; empty: every key is welcome
    zhashx_t *authorized_curve;      //  the CURVE keys of the authorized ids (for ZAP)
    zhashx_t *curve_ids;             //  CURVE key -> the node id proven for it (bounded like routes)
    zhashx_t *waiting;               //  id -> waiting_t
    char id_property[sizeof OCF_TRANSPORT_ID_PROPERTY + OCF_NODE_ID_LEN + 1];   //  "X-Node-Id:<our id>"
    double flood_limit;
    int max_frame;
    ocf_transport_stats_t stats;
};

//  Each DEALER is watched by its ZMQ_FD as a plain descriptor, not as a ZeroMQ socket:
//  zmq_poll asks every socket it is given for ZMQ_EVENTS twice a round, a system call each
//  (libzmq polls the socket's mailbox), and with 20-60 DEALERs in a split, polls were 29-30 %
//  of gossipd's main thread (watched this way, gossipd took about 15 % less CPU in a
//  128-node split and heal). The descriptor signals when the socket's mailbox gets a
//  command (a message arrived on an empty pipe); ocf_transport_receive then asks all the
//  descriptors at once which signalled (one poll(2) for every DEALER: asking each socket for
//  ZMQ_EVENTS was a system call per DEALER and read) and reads those until they are empty.
//  The catch: a send may take in those commands itself, and then the descriptor stays quiet
//  while a message waits (see ocf_transport_send): such a DEALER is marked unread.
static zmq_pollitem_t
s_signal_item (int fd)
{
    return (zmq_pollitem_t) { NULL, fd, ZMQ_POLLIN, 0 };
}

static void
s_connection_destroy (void **item)
{
    connection_t *connection = *item;
    if (connection) {
        zmq_pollitem_t signal = s_signal_item (connection->fd);
        zloop_poller_end (connection->transport->loop, &signal);
        zsock_destroy (&connection->sock);
        free (connection->endpoint);
        free (connection);
        *item = NULL;
    }
}

static void
s_waiting_destroy (void **item)
{
    waiting_t *waiting = *item;
    if (waiting) {
        zlistx_destroy (&waiting->frames);
        free (waiting);
        *item = NULL;
    }
}

int
ocf_transport_reload_keys (ocf_transport_t *self, const ocf_gossipd_config_t *config, char *error, size_t error_size)
{
    zhashx_t *authorized = zhashx_new (), *curves = zhashx_new ();
    int rc = ocf_gossipd_config_authorized_keys (config, authorized, error, error_size);
    if (rc == 0 && zhashx_size (authorized))
        zhashx_update (authorized, ocf_identity_id (self->identity), (void *) "");
    //  ZAP sees CURVE keys: those of the authorized ids.
    for (void *item = zhashx_first (authorized); item && rc == 0; item = zhashx_next (authorized)) {
        char curve[41];
        if (ocf_identity_id_curve (zhashx_cursor (authorized), curve))
            zhashx_update (curves, curve, (void *) "");
        else {
            snprintf (error, error_size, "authorized key %s is not an Ed25519 public key",
                      (const char *) zhashx_cursor (authorized));
            rc = -1;
        }
    }
    if (rc != 0) {
        zhashx_destroy (&authorized);
        zhashx_destroy (&curves);
        return -1;
    }
    zhashx_destroy (&self->authorized);
    zhashx_destroy (&self->authorized_curve);
    self->authorized = authorized;
    self->authorized_curve = curves;
    //  Who is no longer welcome loses its connections from us; what it still sends over
    //  its own connection is dropped on arrival (s_deliver).
    zlistx_t *gone = zlistx_new ();
    zlistx_set_destructor (gone, (zlistx_destructor_fn *) zstr_free);
    for (void *item = zhashx_first (self->connections); item; item = zhashx_next (self->connections))
        if (!ocf_transport_authorized (self, zhashx_cursor (self->connections)))
            zlistx_add_end (gone, ocf_strdup (zhashx_cursor (self->connections)));
    for (const char *id = zlistx_first (gone); id; id = zlistx_next (gone)) {
        zhashx_delete (self->connections, id);
        zhashx_delete (self->routes, id);
    }
    zlistx_destroy (&gone);
    return 0;
}

static int s_on_readable (zloop_t *loop, zsock_t *sock, void *arg);
static int s_on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg);
static int s_on_zap (zloop_t *loop, zsock_t *sock, void *arg);

ocf_transport_t *
ocf_transport_new (ocf_identity_t *identity, const ocf_gossipd_config_t *config, zloop_t *loop, ocf_transport_fn *receive,
                   ocf_transport_drained_fn *drained, void *arg, char *error, size_t error_size)
{
    ocf_transport_t *self = ocf_calloc (1, sizeof *self);
    self->identity = identity;
    self->refusal_log = (ocf_loglimit_t) OCF_LOGLIMIT_INIT (1000);
    snprintf (self->id_property, sizeof self->id_property, "%s:%s", OCF_TRANSPORT_ID_PROPERTY, ocf_identity_id (identity));
    self->loop = loop;
    self->receive = receive;
    self->drained = drained;
    self->arg = arg;
    self->routes = zhashx_new ();
    zhashx_set_destructor (self->routes, (zhashx_destructor_fn *) zframe_destroy);
    self->flood_limit = (double) config->flood_limit;
    self->max_frame = (int) config->max_frame;
    self->endpoints = zhashx_new ();
    zhashx_set_destructor (self->endpoints, (zhashx_destructor_fn *) zstr_free);
    self->connections = zhashx_new ();
    zhashx_set_destructor (self->connections, s_connection_destroy);
    self->peers = zhashx_new ();
    zhashx_set_destructor (self->peers, (zhashx_destructor_fn *) zstr_free);
    self->curve_ids = zhashx_new ();
    zhashx_set_destructor (self->curve_ids, (zhashx_destructor_fn *) zstr_free);
    self->waiting = zhashx_new ();
    zhashx_set_destructor (self->waiting, s_waiting_destroy);
    if (ocf_transport_reload_keys (self, config, error, error_size) != 0) {
        ocf_transport_destroy (&self);
        return NULL;
    }
    //  Without handshake properties no peer could name itself: better not to start.
    zsock_t *probe = zsock_new (ZMQ_DEALER);
    int property_rc = zmq_setsockopt (zsock_resolve (probe), ZMQ_METADATA, self->id_property, strlen (self->id_property));
    zsock_destroy (&probe);
    if (property_rc != 0) {
        snprintf (error, error_size, "this libzmq cannot send handshake properties (ZMQ_METADATA: %s); "
                  "gossipd needs libzmq 4.3 or newer", zmq_strerror (zmq_errno ()));
        ocf_transport_destroy (&self);
        return NULL;
    }
    //  The ZAP handler must exist before the first connection is accepted.
    self->zap = zsock_new_rep ("@" ZAP_ENDPOINT);
    self->router = zsock_new (ZMQ_ROUTER);
    if (!self->zap || !self->router) {
        snprintf (error, error_size, "cannot create the gossip sockets: %s", zmq_strerror (zmq_errno ()));
        ocf_transport_destroy (&self);
        return NULL;
    }
    zcert_apply (ocf_identity_curve (identity), self->router);
    zsock_set_curve_server (self->router, 1);
    zsock_set_zap_domain (self->router, ZAP_DOMAIN);
    zsock_set_maxmsgsize (self->router, (int) config->max_frame);
    zsock_set_rcvhwm (self->router, RECEIVE_HWM);
    zsock_set_sndhwm (self->router, SEND_HWM);
    zsock_set_sndtimeo (self->router, 0);
    //  A send to a peer whose connection is gone fails (and the DEALER takes over) instead
    //  of vanishing.
    zsock_set_router_mandatory (self->router, 1);
    zsock_set_linger (self->router, LINGER_MS);
    self->router_reader = ocf_zreader_new (loop, self->router, s_on_readable, self);
    self->zap_reader = ocf_zreader_new (loop, self->zap, s_on_zap, self);
    return self;
}

void
ocf_transport_destroy (ocf_transport_t **self_p)
{
    ocf_transport_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->connections);       //  lingers up to LINGER_MS for queued messages
    zhashx_destroy (&self->endpoints);
    zhashx_destroy (&self->routes);
    ocf_zreader_destroy (&self->router_reader);
    ocf_zreader_destroy (&self->zap_reader);
    zhashx_destroy (&self->peers);
    zhashx_destroy (&self->authorized);
    zhashx_destroy (&self->authorized_curve);
    zhashx_destroy (&self->curve_ids);
    zhashx_destroy (&self->waiting);
    free (self->signals);
    free (self->signalled);
    zsock_destroy (&self->router);
    zsock_destroy (&self->zap);
    free (self);
    *self_p = NULL;
}

int
ocf_transport_bind (ocf_transport_t *self, const char *endpoint)
{
    return zsock_bind (self->router, "%s", endpoint) < 0 ? -1 : 0;
}

bool ocf_transport_enforcing (ocf_transport_t *self) { return zhashx_size (self->authorized) > 0; }
const ocf_transport_stats_t *ocf_transport_stats (ocf_transport_t *self)
{
    self->stats.connections = zhashx_size (self->connections);
    self->stats.routes = zhashx_size (self->routes);
    return &self->stats;
}

bool
ocf_transport_authorized (ocf_transport_t *self, const char *id)
{
    return !zhashx_size (self->authorized) || zhashx_lookup (self->authorized, id);
}

//  --------------------------------------------------------------------------
//  Peer accounting

static bool
s_cut_off (peer_state_t *peer, int64_t now)
{
    return peer->cut_until > now;
}

static void
s_forget_good_peers (ocf_transport_t *self, int64_t now)
{
    zlistx_t *good = zlistx_new ();
    zlistx_set_destructor (good, (zlistx_destructor_fn *) zstr_free);
    for (peer_state_t *peer = zhashx_first (self->peers); peer; peer = zhashx_next (self->peers))
        if (!s_cut_off (peer, now))
            zlistx_add_end (good, ocf_strdup (zhashx_cursor (self->peers)));
    for (const char *id = zlistx_first (good); id; id = zlistx_next (good))
        zhashx_delete (self->peers, id);
    zlistx_destroy (&good);
}

static peer_state_t *
s_peer (ocf_transport_t *self, const char *id, int64_t now)
{
    peer_state_t *peer = zhashx_lookup (self->peers, id);
    if (!peer) {
        //  Bounded: past MAX_PEER_STATES, the states of peers in good standing are forgotten.
        if (zhashx_size (self->peers) >= MAX_PEER_STATES)
            s_forget_good_peers (self, now);
        peer = ocf_calloc (1, sizeof *peer);
        peer->tokens = self->flood_limit;
        peer->refilled = now;
        zhashx_insert (self->peers, id, peer);
    }
    return peer;
}

static void
s_cut (ocf_transport_t *self, const char *id, peer_state_t *peer, int64_t now, const char *why)
{
    peer->cut_until = now + CUT_OFF_MS;
    self->stats.cut_off++;
    ocf_log_warning ("cut off peer %s for %d s: %s", id, CUT_OFF_MS / 1000, why);
}

void
ocf_transport_strike (ocf_transport_t *self, const char *id, int64_t now)
{
    peer_state_t *peer = s_peer (self, id, now);
    if (now - peer->strikes_since > STRIKE_WINDOW_MS) {
        peer->strikes = 0;
        peer->strikes_since = now;
    }
    if (++peer->strikes >= STRIKES_MAX && !s_cut_off (peer, now)) {
        char why[128];
        snprintf (why, sizeof why, "%d malformed messages within %d s", peer->strikes, STRIKE_WINDOW_MS / 1000);
        s_cut (self, id, peer, now, why);
    }
}

//  --------------------------------------------------------------------------
//  ZAP: who may connect

static int
s_on_zap (zloop_t *loop, zsock_t *sock, void *arg)
{
    ocf_transport_t *self = arg;
    int64_t now = ocf_time_mono_ms ();
    while (zsock_events (self->zap) & ZMQ_POLLIN) {
        zmsg_t *request = zmsg_recv (self->zap);
        if (!request)
            break;
        zframe_t *version = zmsg_pop (request), *sequence = zmsg_pop (request);
        zframe_t *domain = zmsg_pop (request), *address = zmsg_pop (request);
        zframe_t *identity = zmsg_pop (request), *mechanism = zmsg_pop (request);
        zframe_t *credentials = zmsg_pop (request);
        char key[41] = "", from[64] = "?";
        const char *status = "400", *text = "not a CURVE client";
        //  The introducer's plain socket, read-only, lets anybody in.
        if (mechanism && zframe_streq (mechanism, "NULL")) {
            status = "200";
            text = "OK";
        }
        if (address)
            snprintf (from, sizeof from, "%.*s", (int) zframe_size (address), (char *) zframe_data (address));
        if (mechanism && zframe_streq (mechanism, "CURVE") && credentials && zframe_size (credentials) == 32) {
            zmq_z85_encode (key, zframe_data (credentials), 32);
            const char *known = zhashx_lookup (self->curve_ids, key);
            peer_state_t *peer = known ? zhashx_lookup (self->peers, known) : NULL;
            if (zhashx_size (self->authorized_curve) && !zhashx_lookup (self->authorized_curve, key)) {
                text = "key not authorized";
                uint64_t unlogged;
                if (ocf_loglimit_pass (&self->refusal_log, now, &unlogged))
                    ocf_log_warning ("refused a connection from %s: key %s is not in authorized_keys (and %" PRIu64
                                     " refusal(s) not logged since the last such line)", from, key, unlogged);
            }
            else
            if (peer && s_cut_off (peer, now))
                text = "cut off";
            else {
                status = "200";
                text = "OK";
            }
        }
        if (*status == '2')
            self->stats.zap_allowed++;
        else
            self->stats.zap_denied++;
        zmsg_t *reply = zmsg_new ();
        zmsg_addstr (reply, "1.0");
        if (sequence)
            zmsg_append (reply, &sequence);
        else
            zmsg_addstr (reply, "");
        zmsg_addstr (reply, status);
        zmsg_addstr (reply, text);
        zmsg_addstr (reply, *status == '2' ? key : "");
        zmsg_addmem (reply, NULL, 0);
        if (zmsg_send (&reply, self->zap) != 0)
            zmsg_destroy (&reply);
        zframe_destroy (&version);
        zframe_destroy (&domain);
        zframe_destroy (&address);
        zframe_destroy (&identity);
        zframe_destroy (&mechanism);
        zframe_destroy (&credentials);
        zmsg_destroy (&request);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Receiving

//  Flood and cut-off accounting for a message from id; false when it is to be dropped.
static bool
s_admit (ocf_transport_t *self, const char *id, zframe_t *frame, int64_t now)
{
    peer_state_t *peer = s_peer (self, id, now);
    if (s_cut_off (peer, now)) {
        self->stats.dropped_cut_off++;
        return false;
    }
    //  Token bucket: flood_limit messages a second, as a burst of up to one second's worth.
    peer->tokens += (double) (now - peer->refilled) * self->flood_limit / 1000.0;
    if (peer->tokens > self->flood_limit)
        peer->tokens = self->flood_limit;
    peer->refilled = now;
    if (peer->tokens < 1) {
        char why[128];
        snprintf (why, sizeof why, "more than %.0f messages a second", self->flood_limit);
        s_cut (self, id, peer, now, why);
        return false;
    }
    peer->tokens -= 1;
    self->stats.msgs_in++;
    self->stats.bytes_in += zframe_size (frame);
    return true;
}

static void
s_deliver (ocf_transport_t *self, received_t *received, int64_t now)
{
    if (!ocf_transport_authorized (self, received->id))
        self->stats.dropped_unauthorized++;
    else
    if (s_admit (self, received->id, received->frame, now))
        self->receive (self->arg, received->id, &received->frame);
    zframe_destroy (&received->frame);
}

//  True when the peer on the connection routing, which authenticated with CURVE key user,
//  is the node claimed. The check (a point conversion) runs once per connection: then the
//  connection is the route to that id, and ROUTER routing ids are never reused.
static bool
s_proven (ocf_transport_t *self, const char *claimed, const char *user, zframe_t *routing)
{
    zframe_t *known = zhashx_lookup (self->routes, claimed);
    if (known && zframe_eq (known, routing))
        return true;
    char curve[41];
    if (!ocf_identity_id_curve (claimed, curve) || strcmp (curve, user) != 0) {
        if (self->stats.unproven++ % 100 == 0)
            ocf_log_warning ("dropped a message from CURVE key %s: it calls itself %.60s, whose key is another "
                             "(%" PRIu64 " so far)", user, claimed, self->stats.unproven);
        return false;
    }
    zhashx_update (self->routes, claimed, zframe_dup (routing));
    if (zhashx_size (self->curve_ids) >= MAX_PEER_STATES)
        zhashx_purge (self->curve_ids);
    zhashx_update (self->curve_ids, user, ocf_strdup (claimed));
    return true;
}

static void
s_keep (ocf_transport_t *self, zsock_t *sock, const char *id, zframe_t **frame)
{
    received_t *received = &self->batch[self->batch_size++];
    snprintf (received->id, sizeof received->id, "%s", id);
    received->sock = sock;
    received->frame = *frame;
    *frame = NULL;
}

//  What waits on the ROUTER, from peers that connected to us, into the batch.
static void
s_read_router (ocf_transport_t *self)
{
    //  Read until empty, not asked first (ZMQ_EVENTS costs a system call per message).
    while (self->batch_size < RECEIVE_BATCH) {
        zmsg_t *msg = zmsg_recv_nowait (self->router);
        if (!msg)
            break;
        zframe_t *routing = zmsg_pop (msg);
        zframe_t *frame = zmsg_pop (msg);
        bool single = zmsg_size (msg) == 0;
        zmsg_destroy (&msg);
        //  ZAP names every peer by its CURVE key; the peer names itself by node id, which
        //  is only believed when that id's CURVE key is the one it authenticated with.
        const char *user = frame ? zframe_meta (frame, "User-Id") : NULL;
        const char *claimed = frame ? zframe_meta (frame, OCF_TRANSPORT_ID_PROPERTY) : NULL;
        if (routing && frame && single && user && claimed && s_proven (self, claimed, user, routing))
            s_keep (self, self->router, claimed, &frame);
        zframe_destroy (&routing);
        zframe_destroy (&frame);
    }
}

//  Marks unread every DEALER whose descriptor signalled.
static void
s_mark_signalled (ocf_transport_t *self)
{
    size_t count = zhashx_size (self->connections);
    if (count > self->signals_size) {
        self->signals_size = count * 2;
        self->signals = ocf_realloc (self->signals, self->signals_size * sizeof *self->signals);
        self->signalled = ocf_realloc (self->signalled, self->signals_size * sizeof *self->signalled);
    }
    size_t watched = 0;
    for (connection_t *connection = zhashx_first (self->connections); connection;
         connection = zhashx_next (self->connections))
        if (!connection->unread) {
            self->signals[watched] = (struct pollfd) { .fd = connection->fd, .events = POLLIN };
            self->signalled[watched++] = connection;
        }
    if (watched == 0 || poll (self->signals, watched, 0) <= 0)
        return;
    for (size_t i = 0; i < watched; i++)
        if (self->signals[i].revents)
            self->signalled[i]->unread = true;
}

//  What peers answered on the connections we opened (the key we pinned proves each is
//  that peer), into the batch: each unread DEALER until it is empty (it stays unread
//  when the batch fills first).
static void
s_read_dealers (ocf_transport_t *self)
{
    s_mark_signalled (self);
    for (connection_t *connection = zhashx_first (self->connections); connection;
         connection = zhashx_next (self->connections))
        while (connection->unread && self->batch_size < RECEIVE_BATCH) {
            zframe_t *frame = zframe_recv_nowait (connection->sock);
            if (!frame)
                connection->unread = false;
            else
                s_keep (self, connection->sock, connection->id, &frame);
        }
}

//  Everything waiting on every socket is read before any of it is handled, and what the
//  urgent callback picks (probes and heartbeats, whose arrival time is what they say) is
//  handled first. A node that falls behind (a loaded host; every node in a split or a
//  heal) finds hundreds of rumours, adverts and verdicts waiting when it runs again, and a
//  probe among them, handled in turn, was answered after the prober's timeout: a false
//  suspect, who then had to refute. memberlist likewise answers pings before it queues
//  the rest. (Reading the batch before handling any of it also keeps the connections
//  still while they are iterated: handling a message may open or close one.)
void
ocf_transport_receive (ocf_transport_t *self)
{
    do {
        self->batch_size = 0;
        s_read_router (self);
        s_read_dealers (self);
        int64_t now = ocf_time_mono_ms ();
        bool urgent = false;
        for (size_t i = 0; i < self->batch_size; i++) {
            received_t *message = &self->batch[i];
            if (self->urgent && self->urgent (zframe_data (message->frame), zframe_size (message->frame))) {
                s_deliver (self, message, now);
                urgent = true;
            }
        }
        if (urgent)
            self->drained (self->arg);
        //  The rest in order, each socket's burst closed by drained as if read alone:
        //  what those messages pass on leaves as soon as before, not a whole batch later.
        for (size_t i = 0; i < self->batch_size; i++) {
            received_t *message = &self->batch[i];
            if (message->frame)
                s_deliver (self, message, now);
            if (i + 1 == self->batch_size || self->batch[i + 1].sock != message->sock)
                self->drained (self->arg);
        }
    } while (self->batch_size == RECEIVE_BATCH);
    self->batch_size = 0;
}

void
ocf_transport_set_urgent (ocf_transport_t *self, ocf_transport_urgent_fn *urgent)
{
    self->urgent = urgent;
}

static int
s_on_readable (zloop_t *loop, zsock_t *sock, void *arg)
{
    ocf_transport_receive (arg);
    return 0;
}

static int
s_on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    ocf_transport_receive (arg);
    return 0;
}

//  --------------------------------------------------------------------------
//  Sending

static void
s_wait (ocf_transport_t *self, const char *id, const void *data, size_t size, int64_t now)
{
    waiting_t *waiting = zhashx_lookup (self->waiting, id);
    if (!waiting && zhashx_size (self->waiting) < WAITING_NODES_MAX) {
        waiting = ocf_calloc (1, sizeof *waiting);
        waiting->frames = zlistx_new ();
        zlistx_set_destructor (waiting->frames, (zlistx_destructor_fn *) zframe_destroy);
        waiting->since = now;
        zhashx_insert (self->waiting, id, waiting);
    }
    if (waiting && zlistx_size (waiting->frames) < WAIT_MAX)
        zlistx_add_end (waiting->frames, zframe_new (data, size));
    else
        self->stats.no_endpoint++;
}

void
ocf_transport_set_endpoint (ocf_transport_t *self, const char *id, const char *endpoint)
{
    const char *known = zhashx_lookup (self->endpoints, id);
    if (endpoint && known && strcmp (known, endpoint) == 0)
        return;
    zhashx_delete (self->connections, id);      //  reconnects on the next send
    if (!endpoint) {
        zhashx_delete (self->endpoints, id);
        zhashx_delete (self->waiting, id);
        zhashx_delete (self->routes, id);
        return;
    }
    zhashx_update (self->endpoints, id, ocf_strdup (endpoint));
    waiting_t *waiting = zhashx_lookup (self->waiting, id);
    if (waiting) {
        zlistx_t *frames = waiting->frames;
        int64_t since = waiting->since;
        waiting->frames = NULL;
        zhashx_delete (self->waiting, id);
        zframe_t *frame;
        while ((frame = zlistx_detach (frames, NULL))) {
            ocf_transport_send (self, id, zframe_data (frame), zframe_size (frame), since);
            zframe_destroy (&frame);
        }
        zlistx_destroy (&frames);
    }
}

bool
ocf_transport_knows (ocf_transport_t *self, const char *id)
{
    return zhashx_lookup (self->endpoints, id) != NULL;
}

static void
s_close_least_used (ocf_transport_t *self)
{
    const char *oldest_id = NULL;
    int64_t oldest = INT64_MAX;
    for (connection_t *connection = zhashx_first (self->connections); connection;
         connection = zhashx_next (self->connections))
        if (connection->last_used < oldest) {
            oldest = connection->last_used;
            oldest_id = zhashx_cursor (self->connections);
        }
    if (oldest_id) {
        char id[OCF_NODE_ID_LEN + 1];
        snprintf (id, sizeof id, "%s", oldest_id);
        zhashx_delete (self->connections, id);
    }
}

static connection_t *
s_connect (ocf_transport_t *self, const char *id, const char *endpoint)
{
    if (zhashx_size (self->connections) >= MAX_CONNECTIONS)
        s_close_least_used (self);
    connection_t *connection = ocf_calloc (1, sizeof *connection);
    connection->transport = self;
    snprintf (connection->id, sizeof connection->id, "%s", id);
    connection->sock = zsock_new (ZMQ_DEALER);
    connection->fd = zsock_fd (connection->sock);
    connection->endpoint = ocf_strdup (endpoint);
    char curve[41];
    if (!ocf_identity_id_curve (id, curve)) {
        ocf_log_warning ("cannot connect to %s: not a node id", id);
        void *item = connection;
        s_connection_destroy (&item);
        return NULL;
    }
    zcert_apply (ocf_identity_curve (self->identity), connection->sock);
    //  The peer must prove it holds the secret of the id we know it by; we tell it ours
    //  (it checks it against the key we authenticate with).
    zsock_set_curve_serverkey (connection->sock, curve);
    zmq_setsockopt (zsock_resolve (connection->sock), ZMQ_METADATA, self->id_property, strlen (self->id_property));
    zsock_set_sndhwm (connection->sock, SEND_HWM);
    zsock_set_rcvhwm (connection->sock, RECEIVE_HWM);
    zsock_set_maxmsgsize (connection->sock, self->max_frame);
    zsock_set_sndtimeo (connection->sock, 0);
    zsock_set_linger (connection->sock, LINGER_MS);
    zsock_set_reconnect_ivl_max (connection->sock, 5000);
    zmq_pollitem_t signal = s_signal_item (connection->fd);
    zloop_poller (self->loop, &signal, s_on_signal, self);
    if (zsock_connect (connection->sock, "%s", endpoint) != 0) {
        ocf_log_warning ("cannot connect to %s at %s: %s", id, endpoint, zmq_strerror (zmq_errno ()));
        void *item = connection;
        s_connection_destroy (&item);
        return NULL;
    }
    zhashx_insert (self->connections, id, connection);
    return connection;
}

int
ocf_transport_send (ocf_transport_t *self, const char *id, const void *data, size_t size, int64_t now)
{
    zframe_t *route = zhashx_lookup (self->routes, id);
    if (route) {
        zmsg_t *msg = zmsg_new ();
        zframe_t *routing = zframe_dup (route);
        zmsg_append (msg, &routing);
        zmsg_addmem (msg, data, size);
        int sent = zmsg_send (&msg, self->router);
        ocf_zreader_sent (self->router_reader);
        if (sent == 0) {
            self->stats.msgs_out++;
            self->stats.bytes_out += size;
            self->stats.sent_back++;
            return 0;
        }
        zmsg_destroy (&msg);
        //  Gone (EHOSTUNREACH): its DEALER from now on. Full (EAGAIN): dropped, like a DEALER's.
        if (zmq_errno () != EHOSTUNREACH) {
            self->stats.send_dropped++;
            return -1;
        }
        zhashx_delete (self->routes, id);
    }
    connection_t *connection = zhashx_lookup (self->connections, id);
    if (!connection) {
        const char *endpoint = zhashx_lookup (self->endpoints, id);
        if (!endpoint) {
            s_wait (self, id, data, size, now);
            return -1;
        }
        if (!(connection = s_connect (self, id, endpoint)))
            return -1;
    }
    connection->last_used = now;
    int sent = zmq_send (zsock_resolve (connection->sock), data, size, ZMQ_DONTWAIT);
    //  The send may have taken in the socket's pending commands, among them the one that
    //  said a message arrived: its descriptor stays quiet now (s_signal_item).
    //  It is read at the loop's next turn, with whatever else waits.
    if (zsock_events (connection->sock) & ZMQ_POLLIN) {
        connection->unread = true;
        ocf_zreader_sent (self->router_reader);
    }
    if (sent < 0) {
        self->stats.send_dropped++;
        return -1;
    }
    self->stats.msgs_out++;
    self->stats.bytes_out += size;
    return 0;
}

void
ocf_transport_tick (ocf_transport_t *self, int64_t now, ocf_transport_active_fn *active, void *arg)
{
    zlistx_t *idle = zlistx_new ();
    zlistx_set_destructor (idle, (zlistx_destructor_fn *) zstr_free);
    for (connection_t *connection = zhashx_first (self->connections); connection;
         connection = zhashx_next (self->connections)) {
        const char *id = zhashx_cursor (self->connections);
        //  So that a node holds its active view's connections, not one per peer it ever
        //  answered: the count stays about 2 log2(N) + 2K whatever N (docs/gossip.md).
        int64_t limit = !active || active (arg, id) ? IDLE_CLOSE_MS : TEMPORARY_CLOSE_MS;
        if (now - connection->last_used > limit)
            zlistx_add_end (idle, ocf_strdup (id));
    }
    for (const char *id = zlistx_first (idle); id; id = zlistx_next (idle))
        zhashx_delete (self->connections, id);
    zlistx_purge (idle);
    for (waiting_t *waiting = zhashx_first (self->waiting); waiting; waiting = zhashx_next (self->waiting))
        if (now - waiting->since > WAIT_MS) {
            self->stats.no_endpoint += zlistx_size (waiting->frames);
            zlistx_add_end (idle, ocf_strdup (zhashx_cursor (self->waiting)));
        }
    for (const char *id = zlistx_first (idle); id; id = zlistx_next (idle))
        zhashx_delete (self->waiting, id);
    zlistx_destroy (&idle);
}

void
ocf_transport_endpoint (const char *host, int port, char *endpoint, size_t size)
{
    bool v6 = strchr (host, ':') != NULL;
    snprintf (endpoint, size, "tcp://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

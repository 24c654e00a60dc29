/*  ocf_transport: the sockets between hosts (ZeroMQ over TCP, CURVE).
    One ROUTER, a CURVE server with this node's key, bound on [gossipd] bind, accepts peers.
    Its ZAP handler runs in this thread: it admits a connecting CURVE key only when it is
    an authorized node's (when [gossipd] authorized_keys is set) and not cut off. CURVE keys
    are derived from node ids (ocf_identity); a connecting peer names its id in the
    handshake (the X-Node-Id property), and its messages are accepted only when that id's
    CURVE key is the one it authenticated with, so every message arrives with the sender's
    proven node id.
    One TCP connection serves a pair of nodes both ways: a peer that connected to us is
    answered over its connection (by its ROUTER routing id); otherwise a DEALER (CURVE
    client, pinned to the peer's id as server key, so only that peer can answer on it)
    connects to the peer's endpoint, and what the peer sends back on it is received too.
    Idle DEALERs are closed. A peer that floods (more than flood_limit messages a second)
    or keeps sending garbage is cut off for a minute: refused by ZAP, its messages dropped
    unread, and logged. Frames above max_frame never get in: ZeroMQ drops them with the
    connection.  */
#ifndef OCF_TRANSPORT_H
#define OCF_TRANSPORT_H

#include "ocf_config.h"
#include "ocf_identity.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

//  The ZMTP handshake property in which a connecting peer names its node id.
#define OCF_TRANSPORT_ID_PROPERTY "X-Node-Id"

typedef struct {
    uint64_t msgs_in, bytes_in, msgs_out, bytes_out;
    uint64_t send_dropped;           //  a peer's queue was full
    uint64_t no_endpoint;            //  nowhere to send to, even after waiting a moment
    uint64_t zap_allowed, zap_denied;
    uint64_t cut_off;                //  peers cut off for flooding or garbage
    uint64_t dropped_cut_off;        //  messages dropped from cut-off peers
    uint64_t unproven;               //  messages whose sender's id is not its CURVE key's
    uint64_t dropped_unauthorized;   //  messages from ids no longer in authorized_keys
    uint64_t sent_back;              //  messages sent over a peer's own connection
    size_t connections;              //  open DEALERs
    size_t routes;                   //  peers connected to us
} ocf_transport_stats_t;

typedef struct _ocf_transport_t ocf_transport_t;

//  A message from an authenticated peer (the frame is the caller's to destroy).
typedef void (ocf_transport_fn) (void *arg, const char *peer, zframe_t **frame);
//  The messages waiting on the sockets were all received.
typedef void (ocf_transport_drained_fn) (void *arg);
//  True for a message to be handled before the others that arrived with it.
typedef bool (ocf_transport_urgent_fn) (const uint8_t *data, size_t size);

//  Reads the authorized keys (config and file), and registers its sockets with loop; every
//  message received goes to receive, and drained is called after each burst.
//  NULL with a message in error on failure.
ocf_transport_t *ocf_transport_new (ocf_identity_t *identity, const ocf_gossipd_config_t *config, zloop_t *loop,
                                    ocf_transport_fn *receive, ocf_transport_drained_fn *drained, void *arg,
                                    char *error, size_t error_size);
void ocf_transport_destroy (ocf_transport_t **self_p);
//  Reads the authorized keys again (SIGHUP): an id no longer listed loses its connections
//  and whatever it sends is dropped. On error the keys in force stay, and error says why.
int ocf_transport_reload_keys (ocf_transport_t *self, const ocf_gossipd_config_t *config, char *error, size_t error_size);
//  Binds the ROUTER (e.g. "tcp://0.0.0.0:7946"). Returns 0, or -1 with errno set.
int ocf_transport_bind (ocf_transport_t *self, const char *endpoint);

//  Receives what waits on every socket (as the loop does when one is readable), the
//  messages urgent picks first: a timer calls it before it judges who has not answered.
void ocf_transport_receive (ocf_transport_t *self);
void ocf_transport_set_urgent (ocf_transport_t *self, ocf_transport_urgent_fn *urgent);

//  The peer sent something malformed: enough of that in a minute cuts it off.
void ocf_transport_strike (ocf_transport_t *self, const char *peer, int64_t now);

//  Where a node can be reached ("tcp://host:port"); NULL forgets it and closes the connection.
void ocf_transport_set_endpoint (ocf_transport_t *self, const char *id, const char *endpoint);
bool ocf_transport_knows (ocf_transport_t *self, const char *id);
//  Sends without blocking. Returns 0, or -1 when the message was dropped or waits (for a
//  few seconds) for the node's endpoint to become known.
int ocf_transport_send (ocf_transport_t *self, const char *id, const void *data, size_t size, int64_t now);
//  Closes idle connections (after a minute those to the peers that active says the protocol
//  keeps talking to, after 10 s the others; active may be NULL: all are), ends cut-offs
//  that are over.
typedef bool (ocf_transport_active_fn) (void *arg, const char *id);
void ocf_transport_tick (ocf_transport_t *self, int64_t now, ocf_transport_active_fn *active, void *arg);

//  True when id may be part of the cluster (always, without authorized keys).
bool ocf_transport_authorized (ocf_transport_t *self, const char *id);
bool ocf_transport_enforcing (ocf_transport_t *self);
const ocf_transport_stats_t *ocf_transport_stats (ocf_transport_t *self);

//  "tcp://host:port" into endpoint, an IPv6 host in brackets.
void ocf_transport_endpoint (const char *host, int port, char *endpoint, size_t size);

#endif

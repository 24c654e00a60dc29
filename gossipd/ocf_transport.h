/*  ocf_transport: the sockets between hosts (ZeroMQ over TCP, CURVE).
    One ROUTER, a CURVE server with this node's key, bound on [gossipd] bind, receives every
    message from every peer. Its ZAP handler runs in this thread: it admits a connecting key
    only when it is authorized (when [gossipd] authorized_keys is set) and not cut off, and
    names it as the connection's User-Id, so every message arrives with the sender's
    authenticated node id. Towards each peer we talk to, a DEALER (CURVE client, pinned to
    the peer's id as server key) connects to the peer's endpoint and only sends; idle ones
    are closed. A peer that floods (more than flood_limit messages a second) or keeps
    sending garbage is cut off for a minute: refused by ZAP, its messages dropped unread,
    and logged. Frames above max_frame never get in: ZeroMQ drops them with the connection.  */
#ifndef OCF_TRANSPORT_H
#define OCF_TRANSPORT_H

#include "ocf_config.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t msgs_in, bytes_in, msgs_out, bytes_out;
    uint64_t send_dropped;           //  a peer's queue was full
    uint64_t no_endpoint;            //  nowhere to send to, even after waiting a moment
    uint64_t zap_allowed, zap_denied;
    uint64_t cut_off;                //  peers cut off for flooding or garbage
    uint64_t dropped_cut_off;        //  messages dropped from cut-off peers
    size_t connections;              //  open DEALERs
} ocf_transport_stats_t;

typedef struct _ocf_transport_t ocf_transport_t;

//  Reads the authorized keys (config and file). NULL with a message in error on failure.
ocf_transport_t *ocf_transport_new (zcert_t *cert, const ocf_gossipd_config_t *config, char *error, size_t error_size);
void ocf_transport_destroy (ocf_transport_t **self_p);
//  Binds the ROUTER (e.g. "tcp://0.0.0.0:7946"). Returns 0, or -1 with errno set.
int ocf_transport_bind (ocf_transport_t *self, const char *endpoint);

zsock_t *ocf_transport_router (ocf_transport_t *self);
zsock_t *ocf_transport_zap (ocf_transport_t *self);
//  Answers the ZAP requests waiting.
void ocf_transport_on_zap (ocf_transport_t *self, int64_t now);
//  Receives one message. Returns the frame (the caller destroys it) and the sender's id in
//  peer, or NULL when nothing is waiting or the message was dropped (check again while the
//  socket is readable).
zframe_t *ocf_transport_recv (ocf_transport_t *self, char *peer, int64_t now);
//  The peer sent something malformed: enough of that in a minute cuts it off.
void ocf_transport_strike (ocf_transport_t *self, const char *peer, int64_t now);

//  Where a node can be reached ("tcp://host:port"); NULL forgets it and closes the connection.
void ocf_transport_set_endpoint (ocf_transport_t *self, const char *id, const char *endpoint);
bool ocf_transport_knows (ocf_transport_t *self, const char *id);
//  Sends without blocking. Returns 0, or -1 when the message was dropped or waits (for a
//  few seconds) for the node's endpoint to become known.
int ocf_transport_send (ocf_transport_t *self, const char *id, const void *data, size_t size, int64_t now);
//  Closes idle connections, ends cut-offs that are over.
void ocf_transport_tick (ocf_transport_t *self, int64_t now);

//  True when id may be part of the cluster (always, without authorized keys).
bool ocf_transport_authorized (ocf_transport_t *self, const char *id);
bool ocf_transport_enforcing (ocf_transport_t *self);
const ocf_transport_stats_t *ocf_transport_stats (ocf_transport_t *self);

#endif

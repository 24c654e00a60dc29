/*  ocf_introducer: how a node learns the key of a seed given as plain host:port.
    CURVE needs the server's public key before the first byte. Every node serves its own id,
    read-only and unencrypted, on its introducer port (default: the gossip port + 1); a
    joiner asks each plain seed there for it and pins the answer in state_dir/known_seeds,
    one "host:port key" per line: trust on first use, as ssh does. A later answer with
    another key is refused and logged until the line is removed; with authorized_keys set,
    a key not in it is refused too, which closes the first-use window. Seeds given as
    pubkey@host:port never use it.  */
#ifndef OCF_INTRODUCER_H
#define OCF_INTRODUCER_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _ocf_introducer_t ocf_introducer_t;

//  A seed's key is known: id, and the gossip endpoint ("tcp://host:port").
typedef void (ocf_introducer_fn) (void *arg, const char *id, const char *endpoint);
//  Whether a key may be trusted at all (authorized keys); NULL: any.
typedef bool (ocf_introducer_check_fn) (void *arg, const char *id);

//  id: this node's. bind: where to serve it ("tcp://host:port"), NULL for no server.
//  Returns NULL with a message in error when the server cannot bind.
ocf_introducer_t *ocf_introducer_new (const char *id, const char *bind, const char *state_dir,
                                      ocf_introducer_fn *found, ocf_introducer_check_fn *check, void *arg,
                                      char *error, size_t error_size);
void ocf_introducer_destroy (ocf_introducer_t **self_p);

//  Readers for the event loop: the server socket (NULL without one) and one per lookup.
zsock_t *ocf_introducer_server (ocf_introducer_t *self);
void ocf_introducer_on_server (ocf_introducer_t *self);
//  Looks up the key of the seed whose gossip port is host:port, asking host:port+1; the
//  answer comes through `found`. The socket to read is returned (owned by the introducer).
zsock_t *ocf_introducer_ask (ocf_introducer_t *self, const char *host, int port);
void ocf_introducer_on_answer (ocf_introducer_t *self, zsock_t *sock);
//  Asks again the seeds that did not answer yet (call every second or so).
void ocf_introducer_tick (ocf_introducer_t *self);

#endif

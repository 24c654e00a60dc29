/*  ocf_seeds: the nodes this one joins through ([gossipd] seeds), and the key introducer.
    A seed given as id@host:port is known at once; a plain host:port has its key asked from
    the introducer on the next port (ocf_introducer: trusted on first use, authorized keys
    permitting). Each seed found gets its endpoint on the transport. Once the view is loaded
    and a seed is known, a node that knows no other live member pulls a snapshot through
    them (ocf_gossip_join); one that does (a restart) catches up by anti-entropy instead.
    It also serves this node's own key on the introducer port ([gossipd] introducer).  */
#ifndef OCF_SEEDS_H
#define OCF_SEEDS_H

#include "ocf_config.h"
#include "ocf_gossip.h"
#include "ocf_members.h"
#include "ocf_transport.h"

#include <czmq.h>

typedef struct _ocf_seeds_t ocf_seeds_t;

//  Binds the introducer (unless "off") and starts resolving the seeds; their readers go into
//  loop. Returns NULL with error set when the introducer cannot bind.
ocf_seeds_t *ocf_seeds_new (const ocf_gossipd_config_t *config, const char *state_dir, const char *self_id,
                            ocf_gossip_t *core, ocf_transport_t *transport, ocf_members_t *view, zloop_t *loop,
                            char *error, size_t error_size);
void ocf_seeds_destroy (ocf_seeds_t **self_p);
//  The introducer's endpoint ("tcp://host:port"), "" when off.
const char *ocf_seeds_introducer (ocf_seeds_t *self);
//  The view is loaded: join once a seed is known.
void ocf_seeds_ready (ocf_seeds_t *self);
//  Asks again the seeds that did not answer yet (call every second or so).
void ocf_seeds_tick (ocf_seeds_t *self);

#endif

/*  ocf_gossipd_stats: the answer to STATS on gossipd.api: this node's peers by status, the
    protocol core's, the transport's and the bridge's counters, messages by type, the nodes it
    watches (phi) and its observers. The names are an interface: proxyd's /metrics and the
    tests read them.  */
#ifndef OCF_GOSSIPD_STATS_H
#define OCF_GOSSIPD_STATS_H

#include "ocf_bridge.h"
#include "ocf_gossip.h"
#include "ocf_members.h"
#include "ocf_transport.h"

#include <jansson.h>

//  gossip and transport are NULL until the node gossips (tabled not answered yet): the
//  counters are left out then.
json_t *ocf_gossipd_stats (const char *id, int64_t uptime_ms, bool ready, const ocf_members_t *view,
                           ocf_bridge_t *bridge, ocf_gossip_t *gossip, ocf_transport_t *transport);

#endif

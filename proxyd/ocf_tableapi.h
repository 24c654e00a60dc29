/*  ocf_tableapi: the routes about the network itself, answered from the loop's routing view
    (never waiting on tabled), in OpenFabric's response shapes where it has them:
      GET /v1/health              liveness, node id, version, uptime, peers alive, table size
      GET /v1/dnt/table           {"/<id>": peer} of live nodes (?all=1: every node)
      GET /v1/dnt/peers           {"peers": [{"ID", "Addrs"}]}, live nodes but this one
      GET /v1/dnt/peers_status    {"peers": [{"id", "connectedness", "status", "name"}]}
      GET /v1/dnt/bootstraps      {"bootstraps": ["<id>@host:port"]}: gossip seeds
      GET /v1/dnt/stats           counts and details of the above
      GET /v1/models[/{id}]       OpenAI's model list, from the llm services of live nodes
    and the one that writes, through tabled:
      POST /v1/dnt/_node          register services of this node (SERVICE.UP, status ready)
      DELETE /v1/dnt/_node        withdraw them (SERVICE.DOWN), all when none are named  */
#ifndef OCF_TABLEAPI_H
#define OCF_TABLEAPI_H

#include "ocf_request.h"
#include "ocf_loop.h"

#include <h2o.h>

//  Registers these routes: the views open to anyone (monitoring, the dashboard) but the
//  models (public: API keys apply), /v1/dnt/_node for admins only.
void ocf_tableapi_routes (ocf_routetable_t *routes);

#endif

/*  ocf_routes: the routes that forward, and how each picks where a request goes.
      /v1/service/{svc}/{path}   a provider of svc whose identity groups hold the request's
                                 identity (X-Ocf-Identity, or "model" in a JSON body); this
                                 host's backend directly, another host through its proxyd
                                 (/v1/_service/{svc}/{path}); retried on another provider
      /v1/chat/completions, /v1/completions, /v1/embeddings
                                 the same with service llm and identity model=<body.model>
      /v1/_service/{svc}/{path}  this host's own backend for svc, as its row registers it
      /v1/p2p/{node}/{path}      the proxyd of a node (by id or unique name), at {path}
    Unknown services or identities are a 404 that lists what exists; known ones without a live,
    ready provider a 503 with Retry-After. The choice itself is ocf_choose's.  */
#ifndef OCF_ROUTES_H
#define OCF_ROUTES_H

#include "ocf_request.h"
#include "ocf_loop.h"

#include <h2o.h>

//  Registers the forwarding routes: public (API keys apply) but /v1/_service, the fabric's.
void ocf_routes_register (ocf_routetable_t *routes);

#endif

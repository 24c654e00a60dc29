/*  ocf_access: who may call what, decided before a route's handler runs.
    Owns the access check of every request by its route's class (ocf_request.h):
      open     anyone
      public   anyone; with [proxyd] api_keys_file, a valid "Authorization: Bearer <key>"
               (401 invalid_api_key), within its limits (429 rate_limit_exceeded, Retry-After)
      admin    a local client, or "Authorization: Bearer <admin key>" ([proxyd] admin_key_file)
      fabric   a local client, or a hop of another host's proxyd through the fabric listener
               (mutual TLS, [proxyd] fabric_listen); any peer when fabric_listen is off, since
               hosts then reach each other's /v1/_service on the API port (403 fabric_only)
    The fabric listener serves its hops (ocf_fabric_hop) the fabric class and the p2p route
    naming this node's own id (the spec's own_node_hop), nothing else (404). A p2p hop's
    handler serves the client's request it carries again (reprocessed): that request still
    came through the listener but is no hop, and is judged by its own route's class, from the
    forwarding host: public routes need this host's API keys, admin routes the admin key,
    the fabric class is refused (403).
    A local client is a peer in 127.0.0.0/8 or ::1 whose request was not relayed (no
    X-Forwarded-For) and did not come through the fabric listener: a proxy on this host,
    proxyd's own /v1/p2p hop included, speaks for clients that are not local. Refusals are
    403 forbidden in OpenAI's error shape.
    Also owns the API key set (ocf_apikeys: swapped on SIGHUP, each loop adopting the new set
    on its next request), CORS ([proxyd] allowed_origins: preflights answered here, headers
    added to every answer by a filter) and the counters of refusals for /metrics.
    Without API keys the check costs a comparison per request.  */
#ifndef OCF_ACCESS_H
#define OCF_ACCESS_H

#include "ocf_config.h"
#include "ocf_promtext.h"
#include "ocf_request.h"

#include <h2o.h>
#include <stdbool.h>

typedef struct _ocf_access_t ocf_access_t;

//  Reads the admin key and API keys files. NULL with error set when one cannot be read or is
//  malformed. Logs a warning when proxyd listens beyond this host without API keys.
ocf_access_t *ocf_access_new (ocf_config_t *config, int loops, char *error, size_t error_size);
void ocf_access_destroy (ocf_access_t **self_p);
//  The configuration check of --check-config: the same files, read and decoded.
int ocf_access_check_config (ocf_config_t *config, char *error, size_t error_size);
//  SIGHUP: reads the API keys file again. A file that cannot be read or is malformed leaves
//  the keys in use as they are; the reason is logged. Connections are not touched.
void ocf_access_reload (ocf_access_t *self);

//  Adds the CORS filter to the path that serves the routes.
void ocf_access_register (ocf_access_t *self, h2o_pathconf_t *path);
//  A CORS preflight (OPTIONS with Access-Control-Request-Method, not through the fabric
//  listener): answers it (204, or 403 for an origin not allowed) and returns true.
bool ocf_access_preflight (ocf_access_t *self, h2o_req_t *req);
//  Whether the request may call the route (matched: route->spec set); when not, the refusal
//  was answered. loop: the index of the loop serving it.
bool ocf_access_check (ocf_access_t *self, h2o_req_t *req, int loop, const ocf_route_t *route);

//  Whether the request comes from a local client (see above).
bool ocf_access_local (h2o_req_t *req);
//  Whether the request may call the admin routes (a local client, or the admin key): the
//  dashboard shows its controls only then.
bool ocf_access_admin (ocf_access_t *self, h2o_req_t *req);
//  Whether the request is a hop over the fabric: another host of the network, authenticated
//  by the fabric listener (or anyone, with fabric_listen off).
bool ocf_access_fabric (ocf_access_t *self, h2o_req_t *req);

//  Adds the refusal counters and the API keys' families to a page.
void ocf_access_render (ocf_access_t *self, ocf_promtext_t *page);

#endif

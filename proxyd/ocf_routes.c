/*  ocf_routes: forwarding routes and their routers.  */
#include "ocf_routes.h"
#include "ocf_alloc.h"
#include "ocf_forward.h"
#include "ocf_prefix.h"
#include "ocf_proxyd.h"
#include "ocf_respond.h"
#include "ocf_time.h"

#define MAX_TRIED 17             //  [proxyd] retries is at most 16
#define LOCAL ((void *) 1)       //  target.data of an attempt on this host's own backend

//  --------------------------------------------------------------------------
//  Providers of a service (and identity): this host or another one

typedef struct {
    ocf_loop_t *loop;
    const char *service;
    size_t service_len;
    const char *identity;        //  NULL: any provider of the service
    h2o_iovec_t local_path;      //  the path at a backend
    h2o_iovec_t remote_path;     //  the same through another host's proxyd
    char tried[MAX_TRIED][OCF_NODE_ID_LEN + 1];   //  node ids, also the targets' node_id
    size_t tried_count;
    int slot;                    //  this host's load slot for the service
    int backend_slot;            //  ... and for the backend's address, once chosen
    uint64_t key;                //  the prefix key (policy prefix); 0: none
    int model;                   //  the model's slot in the dashboard's statistics; -1: none
} providers_t;

static bool
s_tried (providers_t *self, const char *id)
{
    for (size_t i = 0; i < self->tried_count; i++)
        if (strcmp (self->tried[i], id) == 0)
            return true;
    return false;
}

//  The way to another host's backends: its fabric listener (mutual TLS, the node's id as the
//  name it must prove) when it has one, else its proxy.
static ocf_pool_t *
s_node_pool (ocf_loop_t *loop, ocf_view_node_t *node)
{
    if (node->fabric_port)
        return ocf_pools_get (loop->pools, node->fabric_host, strlen (node->fabric_host), node->fabric_port, node->id);
    return ocf_pools_get (loop->pools, node->proxy_host, strlen (node->proxy_host), node->proxy_port, NULL);
}

//  The slot of a local backend's address in the per-backend counts (-1: the table is full).
static int
s_backend_slot (ocf_loop_t *loop, const char *host, int port)
{
    char address[80];
    int len = snprintf (address, sizeof address, "%s:%d", host, port);
    return len < (int) sizeof address ? ocf_load_slot (loop->backends, address, (size_t) len) : -1;
}

static bool
s_providers_next (void *arg, ocf_target_t *target, char *why, size_t why_size)
{
    providers_t *self = arg;
    ocf_loop_t *loop = self->loop;
    const ocf_provider_t *providers;
    size_t count = ocf_view_providers (loop->view, self->service, self->service_len, self->identity, &providers);
    const char *self_id = ocf_view_self_id (loop->view);
    ocf_candidate_t few[64];
    ocf_candidate_t *candidates = count <= 64 ? few : ocf_malloc (count * sizeof *candidates);
    for (size_t i = 0; i < count; i++) {
        const ocf_provider_t *provider = &providers[i];
        bool local = strcmp (provider->node->id, self_id) == 0;
        candidates[i] = (ocf_candidate_t) {
            .self = local,
            .excluded = s_tried (self, provider->node->id) || self->tried_count >= MAX_TRIED,
            //  Here: what this host's backend carries now. Elsewhere: what this loop sends
            //  there plus what that host last reported.
            .load = local ? ocf_load_get (loop->load, self->slot)
                          : provider->node->inflight + provider->service->inflight + provider->service->queue_depth,
            .capacity = provider->service->max_inflight,
            .id_hash = ocf_choose_id_hash (provider->node->id),
            .rtt_ms = local ? 0 : provider->node->rtt_ms,
            .recent = provider->service->recent
        };
    }
    int chosen = ocf_choose (&loop->chooser, candidates, count, self->key);
    if (loop->chooser.policy == OCF_POLICY_PREFIX && chosen >= 0)
        for (size_t i = 0; i < count; i++)
            ocf_choose_count (&providers[i].service->recent, (int) i == chosen);
    if (candidates != few)
        free (candidates);
    if (chosen < 0) {
        snprintf (why, why_size, "no live provider of %.*s%s%s is left to try", (int) self->service_len, self->service,
                  self->identity ? " for " : "", self->identity ? self->identity : "");
        return false;
    }
    ocf_view_node_t *node = providers[chosen].node;
    ocf_view_service_t *service = providers[chosen].service;
    ocf_metrics_choice (loop->metrics, loop->chooser.policy, loop->chooser.last, node->id);
    char *id = self->tried[self->tried_count++];
    snprintf (id, sizeof self->tried[0], "%s", node->id);
    target->node_id = id;
    if (strcmp (node->id, self_id) == 0) {
        target->pool = ocf_pools_get (loop->pools, service->host, strlen (service->host), service->port, NULL);
        target->path = self->local_path;
        target->data = LOCAL;
        ocf_load_add (loop->load, self->slot, 1);
        self->backend_slot = s_backend_slot (loop, service->host, service->port);
        ocf_load_add (loop->backends, self->backend_slot, 1);
    }
    else {
        target->pool = s_node_pool (loop, node);
        target->path = self->remote_path;
        target->data = NULL;
        node->inflight++;
    }
    return target->pool != NULL;
}

static void
s_providers_release (void *arg, ocf_target_t *target)
{
    providers_t *self = arg;
    if (target->data == LOCAL) {
        ocf_load_add (self->loop->load, self->slot, -1);
        ocf_load_add (self->loop->backends, self->backend_slot, -1);
    }
    else {
        ocf_view_node_t *node = ocf_view_lookup (self->loop->view, target->node_id);
        if (node && node->inflight > 0)
            node->inflight--;
    }
}

static void
s_providers_ended (void *arg, int status, bool broken, int64_t first_byte_us)
{
    providers_t *self = arg;
    ocf_modelstats_end (ocf_proxyd_modelstats (self->loop->server), self->model, ocf_time_mono_ms (), status, broken,
                        first_byte_us);
}

static const ocf_router_t s_providers_router = { s_providers_next, s_providers_release, s_providers_ended };

//  404 when nothing in the table names the service or identity, 503 when something does but
//  no live, ready node serves it now.
static void
s_no_provider (ocf_loop_t *loop, h2o_req_t *req, const char *service, size_t service_len, const char *identity)
{
    ocf_view_t *view = loop->view;
    if (ocf_view_knows (view, service, service_len, identity)) {
        ocf_respond_error (req, 503, "no_live_provider", NULL, "no live provider of %.*s%s%s right now; retry shortly",
                           (int) service_len, service, identity ? " for " : "", identity ? identity : "");
        return;
    }
    char name[72];
    snprintf (name, sizeof name, "%.*s", (int) service_len, service);
    if (identity && ocf_view_knows (view, service, service_len, NULL)) {
        const char *equals = strchr (identity, '=');
        char key[64];
        snprintf (key, sizeof key, "%.*s", (int) (equals - identity), identity);
        json_t *values = ocf_view_group_values (view, name, key, false);
        char *list = json_dumps (values, JSON_COMPACT);
        bool model = strcmp (key, "model") == 0;
        ocf_respond_error (req, 404, model ? "model_not_found" : "identity_not_found",
                           json_pack ("{s:o}", model ? "available_models" : "available", values),
                           "%s '%s' is not served by any node of the network; available: %s", model ? "model" : key,
                           equals + 1, list);
        free (list);
        return;
    }
    json_t *services = ocf_view_service_names (view);
    char *list = json_dumps (services, JSON_COMPACT);
    ocf_respond_error (req, 404, "service_not_found", json_pack ("{s:o}", "available_services", services),
                       "service '%s' is not offered by any node of the network; available: %s", name, list);
    free (list);
}

//  Whether the request is routed by its prefix key: the policy routes by it and the route
//  carries a prompt.
static bool
s_prefix_wanted (ocf_loop_t *loop, int prefix_kind)
{
    return loop->chooser.policy == OCF_POLICY_PREFIX && prefix_kind >= 0;
}

//  The request's prefix key (0: none, and the choice is p2c's), from the body as the identity
//  read it when it did (index: one validation per request), else validated here (the identity
//  came from a header or a form). A body the key cannot be read from is the backend's to
//  refuse: it is routed without a key.
static uint64_t
s_prefix_key (ocf_loop_t *loop, h2o_req_t *req, int prefix_kind, const ocf_json_index_t *index)
{
    if (!s_prefix_wanted (loop, prefix_kind))
        return 0;
    ocf_prefix_key_t key;
    char error[256];
    size_t block = (size_t) loop->config->proxyd.prefix_block, blocks = (size_t) loop->config->proxyd.prefix_blocks;
    int rc = index->text && index->text == req->entity.base
           ? ocf_prefix_key_json (ocf_json_root (req->entity.base, req->entity.len, index), (ocf_prefix_kind_t) prefix_kind,
                                  block, blocks, &key, error, sizeof error)
           : ocf_prefix_key (req->entity.base, req->entity.len, (ocf_prefix_kind_t) prefix_kind, block, blocks, &key,
                             error, sizeof error);
    return rc == 0 ? key.anchor : 0;
}

//  prefix_kind: an ocf_prefix_kind_t when the route carries a prompt, else -1.
static void
s_route_providers (ocf_loop_t *loop, h2o_req_t *req, const char *service, size_t service_len, h2o_iovec_t path,
                   bool openai, int prefix_kind)
{
    h2o_iovec_t header = ocf_respond_req_header (req, "x-ocf-identity");
    h2o_iovec_t content_type = ocf_respond_req_header (req, "content-type");
    char identity[OCF_IDENTITY_MAX], error[512];
    ocf_json_index_t index = { 0 };
    ocf_identity_result_t found = ocf_request_identity (header.base, header.len, content_type.base, content_type.len,
                                                        req->entity.base, req->entity.len, "model", openai,
                                                        s_prefix_wanted (loop, prefix_kind) ? &index : NULL, identity,
                                                        sizeof identity, error, sizeof error);
    if (found == OCF_IDENTITY_ERROR) {
        ocf_json_index_clear (&index);
        ocf_respond_error (req, 400, "invalid_request", NULL, "%s", error);
        return;
    }
    const char *wanted = found == OCF_IDENTITY_OK ? h2o_strdup (&req->pool, identity, strlen (identity)).base : NULL;
    const ocf_provider_t *providers;
    if (ocf_view_providers (loop->view, service, service_len, wanted, &providers) == 0) {
        ocf_json_index_clear (&index);
        s_no_provider (loop, req, service, service_len, wanted);
        return;
    }
    providers_t *self = h2o_mem_alloc_pool (&req->pool, sizeof *self);
    memset (self, 0, sizeof *self);
    self->loop = loop;
    self->service = service;
    self->service_len = service_len;
    self->identity = wanted;
    self->local_path = path;
    self->remote_path = h2o_concat (&req->pool, h2o_iovec_init (H2O_STRLIT ("/v1/_service/")),
                                    h2o_iovec_init (service, service_len), path);
    self->slot = ocf_load_slot (loop->load, service, service_len);
    self->key = s_prefix_key (loop, req, prefix_kind, &index);
    ocf_json_index_clear (&index);
    self->model = wanted && strncmp (wanted, "model=", 6) == 0
                ? ocf_modelstats_begin (ocf_proxyd_modelstats (loop->server), wanted + 6, ocf_time_mono_ms ()) : -1;
    ocf_forward (loop, req, &s_providers_router, self, 1 + (unsigned) loop->config->proxyd.retries);
}

//  --------------------------------------------------------------------------
//  One fixed target: this host's backend (/v1/_service) or a node's proxyd (/v1/p2p)

typedef struct {
    ocf_loop_t *loop;
    ocf_target_t target;
    bool given;
    int slot;                    //  >= 0: a local backend, counted in the load
    int backend_slot;            //  ... and by its address
} fixed_t;

static bool
s_fixed_next (void *arg, ocf_target_t *target, char *why, size_t why_size)
{
    fixed_t *self = arg;
    if (self->given || !self->target.pool) {
        snprintf (why, why_size, "%s cannot be reached", self->target.node_id);
        return false;
    }
    self->given = true;
    *target = self->target;
    ocf_load_add (self->loop->load, self->slot, 1);
    ocf_load_add (self->loop->backends, self->backend_slot, 1);
    return true;
}

static void
s_fixed_release (void *arg, ocf_target_t *target)
{
    fixed_t *self = arg;
    ocf_load_add (self->loop->load, self->slot, -1);
    ocf_load_add (self->loop->backends, self->backend_slot, -1);
}

static const ocf_router_t s_fixed_router = { s_fixed_next, s_fixed_release, NULL };

static void
s_route_fixed (ocf_loop_t *loop, h2o_req_t *req, ocf_pool_t *pool, h2o_iovec_t path, const char *node_id, int slot,
               int backend_slot)
{
    fixed_t *self = h2o_mem_alloc_pool (&req->pool, sizeof *self);
    *self = (fixed_t) { loop, { pool, path, h2o_strdup (&req->pool, node_id, strlen (node_id)).base, NULL }, false, slot,
                        backend_slot };
    ocf_forward (loop, req, &s_fixed_router, self, 1);
}

static void
s_route_local (ocf_loop_t *loop, h2o_req_t *req, ocf_route_t *route, h2o_iovec_t path)
{
    ocf_view_node_t *me = ocf_view_self (loop->view);
    if (!me) {
        ocf_respond_error (req, 503, "table_unavailable", NULL, "this node's record is not known yet (is ocf-tabled running?)");
        return;
    }
    ocf_view_service_t *service = ocf_view_node_service (me, route->service, route->service_len);
    if ((!service || service->port <= 0) && ocf_view_knows (loop->view, route->service, route->service_len, NULL)) {
        //  Another host's proxyd routed here on a view that still lists the service on this
        //  node: withdrawn a moment ago (workerd stopping, or a new generation of this node
        //  not yet re-registered). A 503 makes that proxyd try another provider; a 404 would
        //  be final, and the request lost.
        ocf_respond_error (req, 503, "service_not_here", NULL, "service '%.*s' is not registered on this node (%s) now",
                           (int) route->service_len, route->service, me->name);
        return;
    }
    if (!service || service->port <= 0) {
        json_t *names = json_array ();
        for (size_t i = 0; i < me->service_count; i++)
            json_array_append_new (names, json_string (me->services[i].name));
        char *list = json_dumps (names, JSON_COMPACT);
        ocf_respond_error (req, 404, "service_not_found", json_pack ("{s:o}", "available_services", names),
                           "service '%.*s' is not registered on this node (%s); its services: %s", (int) route->service_len,
                           route->service, me->name, list);
        free (list);
        return;
    }
    ocf_pool_t *pool = ocf_pools_get (loop->pools, service->host, strlen (service->host), service->port, NULL);
    s_route_fixed (loop, req, pool, path, me->id, ocf_load_slot (loop->load, route->service, route->service_len),
                   s_backend_slot (loop, service->host, service->port));
}

static void
s_route_p2p (ocf_loop_t *loop, h2o_req_t *req, ocf_route_t *route, h2o_iovec_t path)
{
    ocf_view_node_t *node = ocf_view_find (loop->view, route->node);
    if (!node) {
        size_t count;
        ocf_view_node_t **nodes = ocf_view_nodes (loop->view, &count);
        json_t *known = json_array ();
        for (size_t i = 0; i < count; i++)
            json_array_append_new (known, json_pack ("{s:s, s:s}", "id", nodes[i]->id, "name", nodes[i]->name));
        free (nodes);
        ocf_respond_error (req, 404, "node_not_found", json_pack ("{s:o}", "available_nodes", known),
                           "no node has the id or unique name '%s'", route->node);
        return;
    }
    if (ocf_fabric_hop (req)) {
        //  Another host's hop for its client (the node is this one): served as this node's
        //  public API serves the rest, and judged as a request from that host's address. The
        //  authority is the host's own: h2o matches it to a host again, without a fallback.
        h2o_reprocess_request_deferred (req, req->method, req->scheme, req->hostconf->authority.hostport, path, NULL, 0);
        return;
    }
    if (!ocf_view_node_live (node) || !ocf_view_node_reachable (node)) {
        ocf_respond_error (req, 503, "node_unavailable", NULL, "node %s (%s) is %s", node->name, node->id,
                           !ocf_view_node_live (node) ? "not alive" : "without a proxy address");
        return;
    }
    //  The node's public API: through its fabric listener, which serves it under its own p2p
    //  route, else (no fabric) as any client reaches it.
    if (node->fabric_port)
        path = h2o_concat (&req->pool, h2o_iovec_init (H2O_STRLIT ("/v1/p2p/")), h2o_iovec_init (node->id, strlen (node->id)),
                           path);
    s_route_fixed (loop, req, s_node_pool (loop, node), path, node->id, -1, -1);
}

//  The path at the target: "/" in front of a bare query.
static h2o_iovec_t
s_rest (h2o_req_t *req, ocf_route_t *route)
{
    return route->rest_slash ? h2o_concat (&req->pool, h2o_iovec_init (H2O_STRLIT ("/")), h2o_iovec_init (route->rest, route->rest_len))
                             : h2o_iovec_init (route->rest, route->rest_len);
}

static void
s_service (h2o_req_t *req, ocf_route_t *route)
{
    s_route_providers (ocf_loop_of (req), req, route->service, route->service_len, s_rest (req, route), false, -1);
}

static void
s_local (h2o_req_t *req, ocf_route_t *route)
{
    s_route_local (ocf_loop_of (req), req, route, s_rest (req, route));
}

static void
s_p2p (h2o_req_t *req, ocf_route_t *route)
{
    s_route_p2p (ocf_loop_of (req), req, route, s_rest (req, route));
}

//  The OpenAI routes keep their path (the backend serves the same API), without the trailing
//  slash the route table forgave: backends may not.
static void
s_openai (h2o_req_t *req, ocf_route_t *route)
{
    h2o_iovec_t path = req->path;
    const char *query = memchr (path.base, '?', path.len);
    size_t path_len = query ? (size_t) (query - path.base) : path.len;
    if (path_len > 1 && path.base[path_len - 1] == '/')
        path = h2o_concat (&req->pool, h2o_iovec_init (path.base, path_len - 1),
                           h2o_iovec_init (path.base + path_len, path.len - path_len));
    s_route_providers (ocf_loop_of (req), req, H2O_STRLIT ("llm"), path, true, route->spec->variant);
}

void
ocf_routes_register (ocf_routetable_t *routes)
{
    static const ocf_route_spec_t specs[] = {
        { "service", "/v1/service/{svc}/{path}", NULL, OCF_ACCESS_PUBLIC, s_service, 0, false },
        { "local_service", "/v1/_service/{svc}/{path}", NULL, OCF_ACCESS_FABRIC, s_local, 0, false },
        { "p2p", "/v1/p2p/{node}/{path}", NULL, OCF_ACCESS_PUBLIC, s_p2p, 0, true },
        //  variant: the prefix kind of the prompt the route carries (-1: none, routed as p2c)
        { "chat_completions", "/v1/chat/completions", "POST", OCF_ACCESS_PUBLIC, s_openai, OCF_PREFIX_CHAT, false },
        { "completions", "/v1/completions", "POST", OCF_ACCESS_PUBLIC, s_openai, OCF_PREFIX_COMPLETION, false },
        { "embeddings", "/v1/embeddings", "POST", OCF_ACCESS_PUBLIC, s_openai, -1, false },
        { "responses", "/v1/responses", "POST", OCF_ACCESS_PUBLIC, s_openai, -1, false },
        { "audio_transcriptions", "/v1/audio/transcriptions", "POST", OCF_ACCESS_PUBLIC, s_openai, -1, false },
        { "audio_translations", "/v1/audio/translations", "POST", OCF_ACCESS_PUBLIC, s_openai, -1, false },
        { "audio_speech", "/v1/audio/speech", "POST", OCF_ACCESS_PUBLIC, s_openai, -1, false },
        { "moderations", "/v1/moderations", "POST", OCF_ACCESS_PUBLIC, s_openai, -1, false },
        //  vLLM's cross-encoder routes (Jina's and Cohere's rerank shape, and its own score)
        { "rerank", "/v1/rerank", "POST", OCF_ACCESS_PUBLIC, s_openai, -1, false },
        { "score", "/v1/score", "POST", OCF_ACCESS_PUBLIC, s_openai, -1, false },
    };
    ocf_routetable_add (routes, specs, sizeof specs / sizeof specs[0]);
}

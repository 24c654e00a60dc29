/*  ocf_tableapi: table views, health, models, and service registration over HTTP.  */
#include "ocf_tableapi.h"
#include "ocf_request.h"
#include "ocf_respond.h"
#include "ocf_proxyd.h"
#include "ocf_record.h"
#include "ocf_time.h"

#define MAX_NODE_SERVICES 64     //  services one POST /v1/dnt/_node may name
#define OWNER "ocf-proxyd"       //  of the services registered here (tabled keeps others' apart)

//  --------------------------------------------------------------------------
//  Views

//  A flag of the query: "?all" or "?all=..." other than "?all=0".
static bool
s_query_flag (h2o_req_t *req, const char *name)
{
    const char *value;
    size_t len;
    return req->query_at != SIZE_MAX
        && ocf_query_param (req->path.base + req->query_at + 1, req->path.len - req->query_at - 1, name, &value, &len)
        && !(len == 1 && value[0] == '0');
}

//  The host part of "http://host:port".
static json_t *
s_public_address (ocf_view_node_t *node)
{
    return json_string (node->proxy_host[0] ? node->proxy_host : "");
}

//  rtt_ms: this host's round-trip time to the node (gossipd's, via tabled), where measured; the
//  row under "ocf" carries it as of the row's last change, so it gets the current one too.
static json_t *
s_with_rtt (json_t *object, ocf_view_node_t *node, json_t *row)
{
    if (row)
        json_object_del (row, "rtt_ms");
    if (node->rtt_ms >= 0) {
        json_object_set_new (object, "rtt_ms", json_real (node->rtt_ms));
        if (row)
            json_object_set_new (row, "rtt_ms", json_real (node->rtt_ms));
    }
    return object;
}

//  One node in OpenFabric's "Peer" shape, with this implementation's row under "ocf".
//  last_seen: this node answers now; of the others, when this host last heard from them.
static json_t *
s_peer (ocf_view_node_t *node, bool self)
{
    json_t *row = node->row ? json_loads (node->row, 0, NULL) : NULL;
    if (!row)
        row = json_object ();
    json_t *services = json_array (), *offering = json_array (), *loads = json_array ();
    size_t index;
    json_t *item;
    json_array_foreach (json_object_get (row, "services"), index, item) {
        json_t *service = json_deep_copy (item);
        json_t *port = json_object_get (item, "port");
        char text[16];
        snprintf (text, sizeof text, "%" JSON_INTEGER_FORMAT, json_is_integer (port) ? json_integer_value (port) : 0);
        json_object_set_new (service, "port", json_string (text));      //  OpenFabric sends ports as strings
        if (!json_object_get (service, "status"))
            json_object_set_new (service, "status", json_string ("ready"));
        if (!json_object_get (service, "identity_group"))
            json_object_set_new (service, "identity_group", json_array ());
        json_array_append_new (services, service);
        json_array_append (offering, json_object_get (item, "name"));
        json_t *inflight = json_object_get (json_object_get (item, "load"), "inflight");
        json_array_append_new (loads, json_integer (json_is_integer (inflight) ? json_integer_value (inflight) : 0));
    }
    //  GPUs under OpenFabric's names (memory, memory_used in MiB; workerd's name is its name
    //  too) and the names this API gave them first (total_memory, used_memory), beside
    //  workerd's own fields.
    json_t *hardware = json_object_get (row, "hardware"), *gpus = json_array ();
    json_array_foreach (json_object_get (hardware, "gpus"), index, item) {
        json_t *gpu = json_deep_copy (item);
        json_object_set (gpu, "memory", json_object_get (item, "memory_total_mb"));
        json_object_set (gpu, "memory_used", json_object_get (item, "memory_used_mb"));
        json_object_set (gpu, "total_memory", json_object_get (item, "memory_total_mb"));
        json_object_set (gpu, "used_memory", json_object_get (item, "memory_used_mb"));
        json_array_append_new (gpus, gpu);
    }
    json_t *memory = json_object_get (hardware, "memory_mb"), *memory_used = json_object_get (hardware, "memory_used_mb");
    int64_t last_seen = self ? ocf_time_wall_ms () / 1000 : node->last_alive / 1000;
    json_t *peer = json_pack ("{s:s, s:s, s:s, s:b, s:o, s:O?, s:I, s:o, s:o, s:o, s:o, s:[], s:s, s:i, s:b, "
                              "s:{s:o, s:I, s:O?, s:O?}, s:o}",
        "id", node->id, "name", node->name ? node->name : "", "status", ocf_status_name ((ocf_status_t) node->status),
        "connected", ocf_view_node_live (node), "public_address", s_public_address (node),
        "version", json_object_get (row, "software"), "last_seen", (json_int_t) last_seen,
        "service", services, "current_offering", offering, "available_offering", json_deep_copy (offering),
        "load", loads, "role", "owner", "", "latency", 0, "privileged", false,
        "hardware", "gpus", gpus, "host_memory", (json_int_t) (json_is_integer (memory) ? json_integer_value (memory) : 0),
        "host_memory_used", json_is_integer (memory_used) ? memory_used : NULL, "cpus", json_object_get (hardware, "cpus"),
        "ocf", row);
    return s_with_rtt (peer, node, row);
}

static json_t *
s_peer_status (ocf_view_node_t *node)
{
    return s_with_rtt (json_pack ("{s:s, s:s, s:s, s:s}", "id", node->id, "name", node->name ? node->name : "",
                                  "connectedness", ocf_view_node_live (node) ? "Connected" : "NotConnected",
                                  "status", ocf_status_name ((ocf_status_t) node->status)), node, NULL);
}

//  "tcp://10.0.0.5:7946" -> "/ip4/10.0.0.5/tcp/7946<protocols>/p2p/<id>", libp2p's form, which
//  OpenFabric's clients parse (the id is this fabric's, not a libp2p peer id). NULL when the
//  URL has no host and port.
static json_t *
s_multiaddr (const char *url, const char *protocols, const char *id)
{
    const char *host = url ? strstr (url, "://") : NULL;
    if (!host)
        return NULL;
    host += 3;
    const char *colon = strrchr (host, ':');
    if (!colon || colon == host || !colon[1])
        return NULL;
    size_t host_len = (size_t) (colon - host);
    bool v6 = host[0] == '[' && host_len > 2 && host[host_len - 1] == ']';
    if (v6) {
        host++;
        host_len -= 2;
    }
    bool numeric = true;
    for (size_t i = 0; i < host_len; i++)
        numeric &= (host[i] >= '0' && host[i] <= '9') || host[i] == '.';
    char text[512];
    snprintf (text, sizeof text, "/%s/%.*s/tcp/%s%s/p2p/%s", v6 ? "ip6" : numeric ? "ip4" : "dns", (int) host_len, host,
              colon + 1, protocols, id);
    return json_string (text);
}

//  libp2p's AddrInfo: {"ID", "Addrs": [multiaddrs]}, and the same addresses as URLs.
static json_t *
s_peer_addrs (ocf_view_node_t *node)
{
    json_t *row = node->row ? json_loads (node->row, 0, NULL) : NULL;
    json_t *addr = json_object_get (row, "addr");
    static const struct { const char *key; const char *protocols; } kinds[] = {
        { "gossip", "" }, { "proxy", "/http" }, { "fabric", "/tls/http" },
    };
    json_t *addrs = json_array (), *urls = json_object ();
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        json_t *url = json_object_get (addr, kinds[i].key);
        json_t *multiaddr = s_multiaddr (json_string_value (url), kinds[i].protocols, node->id);
        if (multiaddr) {
            json_array_append_new (addrs, multiaddr);
            json_object_set (urls, kinds[i].key, url);
        }
    }
    json_decref (row);
    return s_with_rtt (json_pack ("{s:s, s:o, s:o}", "ID", node->id, "Addrs", addrs, "urls", urls), node, NULL);
}

static const char *
s_gossip_url (ocf_view_node_t *node, json_t **row)
{
    *row = node->row ? json_loads (node->row, 0, NULL) : NULL;
    return json_string_value (json_object_get (json_object_get (*row, "addr"), "gossip"));
}

//  The gossip address as OpenFabric's bootstrap multiaddr.
static json_t *
s_bootstrap (ocf_view_node_t *node)
{
    json_t *row;
    json_t *multiaddr = s_multiaddr (s_gossip_url (node, &row), "", node->id);
    json_decref (row);
    return multiaddr;
}

//  "tcp://10.0.0.5:7946" -> "<id>@10.0.0.5:7946", the seed form gossipd accepts.
static json_t *
s_seed (ocf_view_node_t *node)
{
    json_t *row;
    const char *gossip = s_gossip_url (node, &row);
    json_t *seed = NULL;
    if (gossip) {
        const char *hostport = strstr (gossip, "://");
        char text[400];
        snprintf (text, sizeof text, "%s@%s", node->id, hostport ? hostport + 3 : gossip);
        seed = json_string (text);
    }
    json_decref (row);
    return seed;
}

typedef struct {
    size_t count;
    ocf_view_node_t **nodes;
    const char *self_id;
} nodes_t;

static json_t *
s_collect (nodes_t *nodes, json_t *(*render) (ocf_view_node_t *node), bool live_only, bool others_only)
{
    json_t *list = json_array ();
    for (size_t i = 0; i < nodes->count; i++) {
        ocf_view_node_t *node = nodes->nodes[i];
        if ((live_only && !ocf_view_node_live (node)) || (others_only && strcmp (node->id, nodes->self_id) == 0))
            continue;
        json_t *item = render (node);
        if (item)
            json_array_append_new (list, item);
    }
    return list;
}

static json_t *
s_model (const char *id, json_int_t created, size_t providers)
{
    return json_pack ("{s:s, s:s, s:I, s:s, s:I}", "id", id, "object", "model", "created", created,
                      "owned_by", "openfabric", "providers", (json_int_t) providers);
}

//  The models of the llm services that live nodes serve now.
static json_t *
s_models (ocf_loop_t *loop)
{
    json_t *ids = ocf_view_group_values (loop->view, "llm", "model", true), *data = json_array ();
    size_t index;
    json_t *id;
    json_array_foreach (ids, index, id) {
        char identity[OCF_IDENTITY_MAX];
        snprintf (identity, sizeof identity, "model=%s", json_string_value (id));
        const ocf_provider_t *providers;
        size_t count = ocf_view_providers (loop->view, "llm", 3, identity, &providers);
        if (count)
            //  A generation is the milliseconds of its node's start; OpenAI's created is seconds.
            json_array_append_new (data, s_model (json_string_value (id), (json_int_t) (providers[0].node->generation / 1000),
                                                  count));
    }
    json_decref (ids);
    return data;
}

enum { VIEW_HEALTH, VIEW_TABLE, VIEW_PEERS, VIEW_PEERS_STATUS, VIEW_BOOTSTRAPS, VIEW_STATS, VIEW_MODELS, VIEW_MODEL };

static void
s_view (h2o_req_t *req, ocf_route_t *route)
{
    ocf_loop_t *loop = ocf_loop_of (req);
    nodes_t nodes = { 0, NULL, ocf_view_self_id (loop->view) };
    nodes.nodes = ocf_view_nodes (loop->view, &nodes.count);
    size_t live = 0;
    for (size_t i = 0; i < nodes.count; i++)
        live += ocf_view_node_live (nodes.nodes[i]);
    ocf_view_node_t *me = ocf_view_self (loop->view);
    bool me_live = me && ocf_view_node_live (me);
    json_t *reply = NULL;
    switch (route->spec->variant) {
        case VIEW_HEALTH:
            reply = json_pack ("{s:s, s:s?, s:s?, s:s, s:I, s:I, s:I, s:b, s:i}", "status", "ok", "id", me ? me->id : NULL,
                               "name", me ? me->name : NULL, "version", OCF_VERSION,
                               "uptime_seconds", (json_int_t) (ocf_proxyd_uptime_ms (loop->server) / 1000),
                               "peers_alive", (json_int_t) (live - (me_live ? 1 : 0)), "table_size", (json_int_t) nodes.count,
                               "tabled", ocf_viewsync_connected (loop->viewsync), "workers", (int) loop->config->proxyd.workers);
            break;
        case VIEW_TABLE: {
            bool all = s_query_flag (req, "all");
            reply = json_object ();
            for (size_t i = 0; i < nodes.count; i++)
                if (all || ocf_view_node_live (nodes.nodes[i])) {
                    char key[OCF_NODE_ID_LEN + 2];
                    snprintf (key, sizeof key, "/%s", nodes.nodes[i]->id);
                    json_object_set_new (reply, key, s_peer (nodes.nodes[i], nodes.nodes[i] == me));
                }
            break;
        }
        case VIEW_PEERS:
            reply = json_pack ("{s:o}", "peers", s_collect (&nodes, s_peer_addrs, true, true));
            break;
        case VIEW_PEERS_STATUS:
            reply = json_pack ("{s:o}", "peers", s_collect (&nodes, s_peer_status, false, true));
            break;
        case VIEW_BOOTSTRAPS:
            reply = json_pack ("{s:o, s:o}", "bootstraps", s_collect (&nodes, s_bootstrap, true, false),
                               "seeds", s_collect (&nodes, s_seed, true, false));
            break;
        case VIEW_STATS: {
            size_t by_status[4] = { 0 };
            for (size_t i = 0; i < nodes.count; i++)
                by_status[nodes.nodes[i]->status & 3]++;
            char message[128];
            snprintf (message, sizeof message, "%zu of %zu known peers connected", live - (me_live ? 1 : 0),
                      nodes.count - (me ? 1 : 0));
            reply = json_pack ("{s:s, s:I, s:I, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:o}", "message", message,
                               "connected_peers", (json_int_t) (live - (me_live ? 1 : 0)),
                               "total_peers_known", (json_int_t) (nodes.count - (me ? 1 : 0)),
                               "connected_peer_details", s_collect (&nodes, s_peer_addrs, true, true),
                               "all_peer_details", s_collect (&nodes, s_peer_status, false, true),
                               "table", "rows", (json_int_t) nodes.count, "alive", (json_int_t) by_status[OCF_STATUS_ALIVE],
                               "suspect", (json_int_t) by_status[OCF_STATUS_SUSPECT],
                               "dead", (json_int_t) by_status[OCF_STATUS_DEAD], "left", (json_int_t) by_status[OCF_STATUS_LEFT],
                               "tabled", ocf_viewsync_stats (loop->viewsync));
            break;
        }
        case VIEW_MODELS:
            reply = json_pack ("{s:s, s:o}", "object", "list", "data", s_models (loop));
            break;
        default: {
            json_t *models = s_models (loop);
            size_t index;
            json_t *model;
            json_array_foreach (models, index, model)
                if (strcmp (json_string_value (json_object_get (model, "id")), route->node) == 0)
                    reply = json_incref (model);
            if (!reply) {
                json_t *ids = ocf_view_group_values (loop->view, "llm", "model", true);
                ocf_respond_error (req, 404, "model_not_found", json_pack ("{s:o}", "available_models", ids),
                                   "model '%s' is not served by any live node", route->node);
            }
            json_decref (models);
            break;
        }
    }
    free (nodes.nodes);
    if (reply)
        ocf_respond_json (req, 200, reply);
}

//  --------------------------------------------------------------------------
//  POST / DELETE /v1/dnt/_node

typedef struct _node_op_t node_op_t;

typedef struct {
    node_op_t *op;
    ocf_zcall_t *call;           //  NULL once answered
} node_call_t;

struct _node_op_t {
    h2o_req_t *req;
    node_call_t calls[MAX_NODE_SERVICES];
    size_t count;
    size_t waiting;
    json_t *names;               //  services registered or withdrawn
    char error[512];             //  the first failure, if any
    int status;                  //  its HTTP status
    bool post;
};

static void
s_node_op_dispose (void *data)
{
    node_op_t *op = data;
    for (size_t i = 0; i < op->count; i++)
        if (op->calls[i].call)
            ocf_zcall_cancel (op->calls[i].call);
    json_decref (op->names);
}

//  What the first failure was, by the code of tabled's refusal (docs/protocol.md): a
//  service of another daemon's (409), table.db failing on this host (503: the client did
//  nothing wrong, and may retry), anything else the request's fault (400).
static void
s_node_op_reply (void *arg, ocf_zreply_t status, json_t *body, const char *error)
{
    node_call_t *call = arg;
    node_op_t *op = call->op;
    call->call = NULL;
    if (status != OCF_ZREPLY_OK && !op->status) {
        const char *code = status == OCF_ZREPLY_ERR ? json_string_value (json_object_get (body, "code")) : NULL;
        op->status = status != OCF_ZREPLY_ERR ? 504 : !code ? 400 : strcmp (code, "not_yours") == 0 ? 409
                   : strcmp (code, "storage") == 0 ? 503 : 400;
        snprintf (op->error, sizeof op->error, "%s", error ? error : "tabled failed");
    }
    if (--op->waiting)
        return;
    if (op->status == 504)
        ocf_respond_error (op->req, 503, "table_unavailable", NULL, "tabled did not answer: %s", op->error);
    else
    if (op->status == 503)
        ocf_respond_error (op->req, 503, "storage_unavailable", NULL, "this host cannot store the change now (nothing "
                           "was changed; retry later): %s", op->error);
    else
    if (op->status == 409)
        ocf_respond_error (op->req, 409, "service_owned", NULL, "%s: a service that another daemon of this host "
                           "registered is changed only by it (ocf-workerd: its [service.NAME] configuration)", op->error);
    else
    if (op->status)
        ocf_respond_error (op->req, 400, "invalid_service", NULL, "tabled refused the change: %s", op->error);
    else
        ocf_respond_json (op->req, 200, json_pack ("{s:s, s:O}", "status", "ok", op->post ? "registered" : "withdrawn",
                                                   op->names));
}

//  One service of OpenFabric's body: {"name", "host", "port" (number or string),
//  "identity_group": ["k=v"], "max_inflight"?} -> the service object of a row.
static json_t *
s_service_from_body (json_t *item, char *error, size_t error_size)
{
    const char *name = json_string_value (json_object_get (item, "name"));
    if (!ocf_record_service_name_valid (name)) {
        snprintf (error, error_size, "each service needs a \"name\" of 1-64 characters of A-Z a-z 0-9 - _ .");
        return NULL;
    }
    json_t *port_value = json_object_get (item, "port");
    long long port = -1;
    if (json_is_integer (port_value))
        port = json_integer_value (port_value);
    else
    if (json_is_string (port_value)) {
        char *end;
        port = strtoll (json_string_value (port_value), &end, 10);
        if (*end || end == json_string_value (port_value))
            port = -1;
    }
    if (port < 1 || port > 65535) {
        snprintf (error, error_size, "service %s: \"port\" must be a port number (1-65535), as a number or a string", name);
        return NULL;
    }
    json_t *host = json_object_get (item, "host");
    if (host && (!json_is_string (host) || !*json_string_value (host))) {
        snprintf (error, error_size, "service %s: \"host\" must be a non-empty string", name);
        return NULL;
    }
    json_t *groups = json_object_get (item, "identity_group");
    if (groups && !json_is_array (groups)) {
        snprintf (error, error_size, "service %s: \"identity_group\" must be an array of \"key=value\" strings", name);
        return NULL;
    }
    size_t index;
    json_t *group;
    json_array_foreach (groups, index, group) {
        const char *text = json_string_value (group);
        const char *equals = text ? strchr (text, '=') : NULL;
        if (!equals || equals == text || !equals[1]) {
            snprintf (error, error_size, "service %s: identity_group[%zu] must be \"key=value\"", name, index);
            return NULL;
        }
    }
    json_t *service = json_pack ("{s:s, s:s, s:I, s:s, s:o, s:s}", "name", name,
                                 "host", host ? json_string_value (host) : "127.0.0.1", "port", (json_int_t) port,
                                 "status", "ready", "identity_group", groups ? json_deep_copy (groups) : json_array (),
                                 "owner", OWNER);
    json_t *max_inflight = json_object_get (item, "max_inflight");
    if (json_is_integer (max_inflight) && json_integer_value (max_inflight) > 0)
        json_object_set_new (service, "load", json_pack ("{s:O}", "max_inflight", max_inflight));
    return service;
}

static void
s_node (h2o_req_t *req, ocf_route_t *route)
{
    ocf_loop_t *loop = ocf_loop_of (req);
    bool post = h2o_memis (req->method.base, req->method.len, H2O_STRLIT ("POST"));
    json_t *body;
    if (!ocf_respond_parse_body (req, &body))
        return;
    json_t *services = json_object_get (body, "service");
    if ((body && !json_is_object (body)) || (services && !json_is_array (services))
    ||  (post && json_array_size (services) == 0) || json_array_size (services) > MAX_NODE_SERVICES) {
        json_decref (body);
        ocf_respond_error (req, 400, "invalid_request", NULL, "the body must be {\"service\": [{\"name\", \"host\", \"port\", "
                           "\"identity_group\"}, ...]} with 1 to %d services%s", MAX_NODE_SERVICES,
                           post ? "" : " (or empty, to withdraw them all)");
        return;
    }
    json_t *changes = json_array ();
    size_t index;
    json_t *item;
    char error[512];
    json_array_foreach (services, index, item) {
        json_t *change = post ? s_service_from_body (item, error, sizeof error)
                              : ocf_record_service_name_valid (json_string_value (json_object_get (item, "name")))
                              ? json_pack ("{s:O, s:s}", "name", json_object_get (item, "name"), "owner", OWNER) : NULL;
        if (!change) {
            if (!post)
                snprintf (error, sizeof error, "service[%zu] needs a valid \"name\"", index);
            json_decref (changes);
            json_decref (body);
            ocf_respond_error (req, 400, "invalid_service", NULL, "%s", error);
            return;
        }
        json_array_append_new (changes, change);
    }
    json_decref (body);
    ocf_view_node_t *me = ocf_view_self (loop->view);
    //  "Every service" is every service this API registered: those that ocf-workerd (or
    //  another owner) registered stay.
    if (!post && json_array_size (changes) == 0) {
        json_t *row = me && me->row ? json_loads (me->row, 0, NULL) : NULL;
        json_array_foreach (json_object_get (row, "services"), index, item) {
            const char *owner = json_string_value (json_object_get (item, "owner"));
            if (!owner || strcmp (owner, OWNER) == 0)
                json_array_append_new (changes, json_pack ("{s:O, s:s}", "name", json_object_get (item, "name"), "owner", OWNER));
        }
        json_decref (row);
    }
    node_op_t *op = h2o_mem_alloc_shared (&req->pool, sizeof *op, s_node_op_dispose);
    memset (op, 0, sizeof *op);
    op->req = req;
    op->post = post;
    op->names = json_array ();
    op->count = op->waiting = json_array_size (changes);
    if (op->count == 0) {
        json_decref (changes);
        ocf_respond_json (req, 200, json_pack ("{s:s, s:[]}", "status", "ok", "withdrawn"));
        return;
    }
    json_array_foreach (changes, index, item) {
        json_array_append (op->names, json_object_get (item, "name"));
        op->calls[index].op = op;
        op->calls[index].call = ocf_zclient_call (loop->tabled, post ? "SERVICE.UP" : "SERVICE.DOWN",
                                                  post ? json_pack ("{s:O}", "service", item) : json_incref (item),
                                                  s_node_op_reply, &op->calls[index]);
    }
    json_decref (changes);
}

void
ocf_tableapi_routes (ocf_routetable_t *routes)
{
    static const ocf_route_spec_t specs[] = {
        { "health", "/v1/health", "GET, HEAD", OCF_ACCESS_OPEN, s_view, VIEW_HEALTH, false },
        { "dnt_table", "/v1/dnt/table", "GET, HEAD", OCF_ACCESS_OPEN, s_view, VIEW_TABLE, false },
        { "dnt_peers", "/v1/dnt/peers", "GET, HEAD", OCF_ACCESS_OPEN, s_view, VIEW_PEERS, false },
        { "dnt_peers_status", "/v1/dnt/peers_status", "GET, HEAD", OCF_ACCESS_OPEN, s_view, VIEW_PEERS_STATUS, false },
        { "dnt_bootstraps", "/v1/dnt/bootstraps", "GET, HEAD", OCF_ACCESS_OPEN, s_view, VIEW_BOOTSTRAPS, false },
        { "dnt_stats", "/v1/dnt/stats", "GET, HEAD", OCF_ACCESS_OPEN, s_view, VIEW_STATS, false },
        { "dnt_node", "/v1/dnt/_node", "POST, DELETE", OCF_ACCESS_ADMIN, s_node, 0, false },
        { "models", "/v1/models", "GET, HEAD", OCF_ACCESS_PUBLIC, s_view, VIEW_MODELS, false },
        { "model", "/v1/models/{id}", "GET, HEAD", OCF_ACCESS_PUBLIC, s_view, VIEW_MODEL, false },
    };
    ocf_routetable_add (routes, specs, sizeof specs / sizeof specs[0]);
}

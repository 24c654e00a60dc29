/*  ocf_dashboard: the embedded page and its data.  */
#include "ocf_dashboard.h"
#include "ocf_loop.h"
#include "ocf_proxyd.h"
#include "ocf_record.h"
#include "ocf_respond.h"
#include "ocf_time.h"

#include <stdlib.h>

//  Generated at build time from dashboard.html (see embed.cmake).
extern const char ocf_dashboard_html[];
extern const size_t ocf_dashboard_html_len;

enum { DASHBOARD_PAGE, DASHBOARD_DATA };

//  The value of ?since=N into *since (0 when absent). False when it is no number.
static bool
s_since (h2o_req_t *req, uint64_t *since)
{
    *since = 0;
    const char *value;
    size_t len;
    return req->query_at == SIZE_MAX
        || !ocf_query_param (req->path.base + req->query_at + 1, req->path.len - req->query_at - 1, "since", &value, &len)
        || ocf_parse_uint (value, len, since);
}

//  A service of the node: its row's entry (status, models) with the load the view holds.
static json_t *
s_service (json_t *entry, ocf_view_service_t *service)
{
    json_t *models = json_array (), *group;
    size_t index;
    json_array_foreach (json_object_get (entry, "identity_group"), index, group) {
        const char *text = json_string_value (group);
        if (text && strncmp (text, "model=", 6) == 0)
            json_array_append_new (models, json_string (text + 6));
    }
    json_t *status = json_object_get (entry, "status");
    json_t *item = json_pack ("{s:O?, s:o, s:o}", "name", json_object_get (entry, "name"),
                              "status", json_is_string (status) ? json_incref (status) : json_string ("ready"),
                              "models", models);
    if (service) {
        json_object_set_new (item, "inflight", json_integer (service->inflight));
        if (service->max_inflight)
            json_object_set_new (item, "max_inflight", json_integer (service->max_inflight));
        if (service->prefix_hit_rate >= 0)
            json_object_set_new (item, "prefix_hit_rate", json_real (service->prefix_hit_rate));
    }
    return item;
}

//  A node: what people look at. Draining: live, with services, none of them ready.
static json_t *
s_node (ocf_view_node_t *node, bool self)
{
    json_t *row = node->row ? json_loads (node->row, 0, NULL) : NULL;
    json_t *services = json_array (), *entry;
    size_t index;
    bool any_ready = false;
    json_array_foreach (json_object_get (row, "services"), index, entry) {
        const char *name = json_string_value (json_object_get (entry, "name"));
        ocf_view_service_t *service = name ? ocf_view_node_service (node, name, strlen (name)) : NULL;
        any_ready |= service && service->ready;
        json_array_append_new (services, s_service (entry, service));
    }
    json_t *gpus = json_object_get (json_object_get (row, "hardware"), "gpus");
    json_t *address = json_object_get (json_object_get (row, "addr"), "proxy");
    json_t *item = json_pack ("{s:s, s:s, s:s, s:b, s:b, s:b, s:o, s:o, s:O?, s:O?}", "id", node->id,
                              "name", node->name ? node->name : "", "status", ocf_status_name ((ocf_status_t) node->status),
                              "live", ocf_view_node_live (node), "self", self,
                              "draining", ocf_view_node_live (node) && json_array_size (services) && !any_ready,
                              "services", services, "gpus", json_is_array (gpus) ? json_incref (gpus) : json_array (),
                              "software", json_object_get (row, "software"), "address", address);
    //  This host's round-trip time to another, where gossipd measured it (the graph's links).
    if (!self && node->rtt_ms >= 0)
        json_object_set_new (item, "rtt_ms", json_real (node->rtt_ms));
    json_decref (row);
    return item;
}

//  Every model the table names, with its providers, and the statistics of those routed here.
static json_t *
s_models (ocf_loop_t *loop, ocf_view_node_t **nodes, size_t count)
{
    json_t *models = json_object ();
    for (size_t i = 0; i < count; i++) {
        ocf_view_node_t *node = nodes[i];
        for (size_t s = 0; s < node->service_count; s++) {
            ocf_view_service_t *service = &node->services[s];
            for (size_t g = 0; g < service->group_count; g++) {
                if (strncmp (service->groups[g], "model=", 6) != 0)
                    continue;
                const char *name = service->groups[g] + 6;
                json_t *model = json_object_get (models, name);
                if (!model) {
                    model = json_pack ("{s:[]}", "providers");
                    json_object_set_new (models, name, model);
                }
                json_t *provider = json_pack ("{s:s, s:s, s:b}", "node", node->id, "service", service->name,
                                              "ready", service->ready && ocf_view_node_live (node));
                if (service->prefix_hit_rate >= 0)
                    json_object_set_new (provider, "prefix_hit_rate", json_real (service->prefix_hit_rate));
                json_array_append_new (json_object_get (model, "providers"), provider);
            }
        }
    }
    json_t *stats = ocf_modelstats_json (ocf_proxyd_modelstats (loop->server), ocf_time_mono_ms ());
    const char *name;
    json_t *figures;
    json_object_foreach (stats, name, figures) {
        json_t *model = json_object_get (models, name);
        if (!model) {
            model = json_pack ("{s:[]}", "providers");
            json_object_set_new (models, name, model);
        }
        json_object_update (model, figures);
    }
    json_decref (stats);
    return models;
}

static void
s_data (h2o_req_t *req)
{
    uint64_t since;
    if (!s_since (req, &since)) {
        ocf_respond_error (req, 400, "invalid_request", NULL, "since: the seq of an event (a number) is expected");
        return;
    }
    ocf_loop_t *loop = ocf_loop_of (req);
    ocf_eventlog_t *eventlog = ocf_proxyd_eventlog (loop->server);
    size_t count;
    ocf_view_node_t **nodes = ocf_view_nodes (loop->view, &count);
    ocf_view_node_t *me = ocf_view_self (loop->view);
    json_t *list = json_array ();
    for (size_t i = 0; i < count; i++)
        json_array_append_new (list, s_node (nodes[i], nodes[i] == me));
    json_t *reply = json_pack ("{s:s?, s:s?, s:s, s:I, s:b, s:b, s:o, s:o, s:o, s:I}", "self", me ? me->id : NULL,
                               "name", me ? me->name : NULL, "version", OCF_VERSION, "time", (json_int_t) ocf_time_wall_ms (),
                               "tabled", ocf_viewsync_connected (loop->viewsync),
                               "control", ocf_access_admin (ocf_proxyd_access (loop->server), req),
                               "nodes", list, "models", s_models (loop, nodes, count),
                               "events", ocf_eventlog_json (eventlog, since),
                               "events_seq", (json_int_t) ocf_eventlog_last (eventlog));
    free (nodes);
    h2o_add_header (&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT ("no-store"));
    ocf_respond_json (req, 200, reply);
}

static void
s_serve (h2o_req_t *req, ocf_route_t *route)
{
    if (route->spec->variant == DASHBOARD_DATA) {
        s_data (req);
        return;
    }
    h2o_add_header (&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT ("no-cache"));
    ocf_respond_send (req, 200, "text/html; charset=utf-8", ocf_dashboard_html, ocf_dashboard_html_len);
}

void
ocf_dashboard_routes (ocf_routetable_t *routes)
{
    //  Open, as the views they read (/v1/dnt/table): people look at them without a key. The
    //  controls the page shows call the admin routes, which check the caller themselves.
    static const ocf_route_spec_t specs[] = {
        { "dashboard", "/", "GET, HEAD", OCF_ACCESS_OPEN, s_serve, DASHBOARD_PAGE, false },
        { "dashboard_data", "/v1/dashboard", "GET, HEAD", OCF_ACCESS_OPEN, s_serve, DASHBOARD_DATA, false },
    };
    ocf_routetable_add (routes, specs, sizeof specs / sizeof specs[0]);
}

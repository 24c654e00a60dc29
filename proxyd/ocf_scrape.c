/*  ocf_scrape: the /metrics page.  */
#include "ocf_scrape.h"
#include "ocf_respond.h"
#include "ocf_proxyd.h"

#include <sys/stat.h>

static const char *s_daemons[OCF_SCRAPE_COUNT] = { "tabled", "gossipd", "workerd" };

typedef struct _scrape_t scrape_t;

typedef struct {
    scrape_t *scrape;
    ocf_zcall_t *call;           //  NULL once answered
    json_t *stats;               //  the reply, or NULL when the daemon did not answer
} scrape_call_t;

struct _scrape_t {
    ocf_loop_t *loop;
    h2o_req_t *req;
    scrape_call_t calls[OCF_SCRAPE_COUNT];
    size_t waiting;
};

static void
s_scrape_dispose (void *data)
{
    scrape_t *scrape = data;
    for (int i = 0; i < OCF_SCRAPE_COUNT; i++) {
        if (scrape->calls[i].call)
            ocf_zcall_cancel (scrape->calls[i].call);
        json_decref (scrape->calls[i].stats);
    }
}

static void
s_gauge (ocf_promtext_t *page, const char *name, const char *help, double value, const char *const *labels)
{
    ocf_promtext_family (page, name, "gauge", help);
    ocf_promtext_sample (page, name, "", value, labels);
}

//  Per model of each service, the live nodes ready to serve it: 0 while a model's every
//  provider is down or starting, which an alert needs (docs/prometheus/ocf-rules.yml). The
//  models are those the table names, so the label set is bounded by the table.
static void
s_model_providers (ocf_promtext_t *page, ocf_view_t *view)
{
    ocf_promtext_family (page, "ocf_proxyd_model_providers", "gauge",
                         "Live nodes ready to serve the model (identity group model=M of the service)");
    json_t *services = ocf_view_service_names (view), *service;
    size_t index;
    json_array_foreach (services, index, service) {
        const char *name = json_string_value (service);
        json_t *models = ocf_view_group_values (view, name, "model", false), *model;
        size_t item;
        json_array_foreach (models, item, model) {
            char identity[1024];
            snprintf (identity, sizeof identity, "model=%s", json_string_value (model));
            const ocf_provider_t *providers;
            size_t count = ocf_view_providers (view, name, strlen (name), identity, &providers);
            const char *labels[] = { "service", name, "model", json_string_value (model), NULL };
            ocf_promtext_sample (page, "ocf_proxyd_model_providers", "", (double) count, labels);
        }
        json_decref (models);
    }
    json_decref (services);
}

static void
s_render (scrape_t *scrape)
{
    ocf_loop_t *loop = scrape->loop;
    ocf_promtext_t *page = ocf_promtext_new ();
    ocf_promtext_family (page, "ocf_daemon_up", "gauge", "Whether the daemon answered (1) or is down (0)");
    const char *proxyd[] = { "daemon", "proxyd", NULL };
    ocf_promtext_sample (page, "ocf_daemon_up", "", 1, proxyd);
    for (int i = 0; i < OCF_SCRAPE_COUNT; i++) {
        const char *labels[] = { "daemon", s_daemons[i], NULL };
        ocf_promtext_sample (page, "ocf_daemon_up", "", scrape->calls[i].stats ? 1 : 0, labels);
    }
    ocf_metrics_render (loop->metrics, page);
    ocf_access_render (ocf_proxyd_access (loop->server), page);
    s_gauge (page, "ocf_proxyd_uptime_seconds", "Seconds since ocf-proxyd started",
             (double) ocf_proxyd_uptime_ms (loop->server) / 1000.0, NULL);
    s_gauge (page, "ocf_proxyd_workers", "Event loops serving requests", (double) loop->config->proxyd.workers, NULL);
    s_gauge (page, "ocf_proxyd_view_nodes", "Nodes in the routing view", (double) ocf_view_size (loop->view), NULL);
    s_gauge (page, "ocf_proxyd_view_live_nodes", "Live (alive or suspect) nodes in the routing view",
             (double) ocf_view_live_count (loop->view), NULL);
    s_gauge (page, "ocf_proxyd_tabled_connected", "Whether the routing view follows tabled's events now",
             ocf_viewsync_connected (loop->viewsync), NULL);
    ocf_promtext_family (page, "ocf_proxyd_service_inflight_requests", "gauge",
                         "Requests in flight to this host's own backends, by service");
    for (size_t slot = 0; slot < ocf_load_count (loop->load); slot++) {
        const char *labels[] = { "service", ocf_load_name (loop->load, (int) slot), NULL };
        ocf_promtext_sample (page, "ocf_proxyd_service_inflight_requests", "", (double) ocf_load_get (loop->load, (int) slot),
                             labels);
    }
    //  What each provider's workerd reports of its backend's prefix cache (the view of the loop
    //  that serves the scrape: every loop's view follows the same table).
    const char *ratio = "ocf_proxyd_provider_prefix_cache_hit_ratio";
    ocf_promtext_family (page, ratio, "gauge",
                         "Prefix-cache hit rate of each live provider's backend, as its workerd last reported it (0-1)");
    size_t node_count;
    ocf_view_node_t **nodes = ocf_view_nodes (loop->view, &node_count);
    for (size_t i = 0; i < node_count; i++)
        for (size_t k = 0; ocf_view_node_live (nodes[i]) && k < nodes[i]->service_count; k++)
            if (nodes[i]->services[k].prefix_hit_rate >= 0) {
                const char *labels[] = { "node", nodes[i]->id, "service", nodes[i]->services[k].name, NULL };
                ocf_promtext_sample (page, ratio, "", nodes[i]->services[k].prefix_hit_rate, labels);
            }
    free (nodes);
    s_model_providers (page, loop->view);
    json_t *viewsync = ocf_viewsync_stats (loop->viewsync);
    ocf_promtext_family (page, "ocf_proxyd_table_loads_total", "counter", "Full loads of the routing view from tabled");
    ocf_promtext_sample (page, "ocf_proxyd_table_loads_total", "", (double) json_integer_value (json_object_get (viewsync, "loads")), NULL);
    ocf_promtext_family (page, "ocf_proxyd_table_events_total", "counter", "Table events applied to the routing view");
    ocf_promtext_sample (page, "ocf_proxyd_table_events_total", "", (double) json_integer_value (json_object_get (viewsync, "events")), NULL);
    json_decref (viewsync);
    for (int i = 0; i < OCF_SCRAPE_COUNT; i++)
        if (scrape->calls[i].stats)
            ocf_promtext_stats (page, s_daemons[i], scrape->calls[i].stats);
    size_t len;
    char *text = ocf_promtext_render (page, &len);
    ocf_promtext_destroy (&page);
    ocf_respond_send (scrape->req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
    free (text);
}

static void
s_on_stats (void *arg, ocf_zreply_t status, json_t *body, const char *error)
{
    scrape_call_t *call = arg;
    scrape_t *scrape = call->scrape;
    call->call = NULL;
    if (status == OCF_ZREPLY_OK)
        call->stats = json_incref (body);
    if (--scrape->waiting == 0)
        s_render (scrape);
}

static void
s_serve (h2o_req_t *req, ocf_route_t *route)
{
    ocf_loop_t *loop = ocf_loop_of (req);
    scrape_t *scrape = h2o_mem_alloc_shared (&req->pool, sizeof *scrape, s_scrape_dispose);
    memset (scrape, 0, sizeof *scrape);
    scrape->loop = loop;
    scrape->req = req;
    for (int i = 0; i < OCF_SCRAPE_COUNT; i++) {
        scrape->calls[i].scrape = scrape;
        //  No socket file: the daemon is not running, no need to wait for its deadline.
        char path[400];
        struct stat info;
        snprintf (path, sizeof path, "%s/%s.api", loop->config->node.run_dir, s_daemons[i]);
        if (stat (path, &info) != 0)
            continue;
        scrape->waiting++;
        scrape->calls[i].call = ocf_zclient_call (ocf_loop_scrape (loop, (ocf_scrape_target_t) i), "STATS", NULL,
                                                  s_on_stats, &scrape->calls[i]);
    }
    if (scrape->waiting == 0)
        s_render (scrape);
}

void
ocf_scrape_routes (ocf_routetable_t *routes)
{
    //  Open: monitoring scrapes it without an API key (it names no client and no key).
    static const ocf_route_spec_t spec = { "metrics", "/metrics", "GET, HEAD", OCF_ACCESS_OPEN, s_serve, 0, false };
    ocf_routetable_add (routes, &spec, 1);
}

/*  ocf_gossipd_stats: STATS on gossipd.api.  */
#include "ocf_gossipd_stats.h"

#include <string.h>

static void
s_census (const ocf_members_t *view, const char *self_id, size_t counts[4])
{
    memset (counts, 0, 4 * sizeof counts[0]);
    for (size_t i = 0; i < ocf_members_size (view); i++) {
        const ocf_peer_t *member = ocf_members_at (view, i);
        if (strcmp (member->id, self_id) != 0 && member->status <= OCF_STATUS_LEFT)
            counts[member->status]++;
    }
}

static void
s_watched_json (void *arg, const char *id, double phi, size_t samples, bool suspected)
{
    json_array_append_new (arg, json_pack ("{s:s, s:f, s:I, s:b}", "id", id, "phi", phi > 1e6 ? 1e6 : phi,
                                           "samples", (json_int_t) samples, "suspected", suspected));
}

json_t *
ocf_gossipd_stats (const char *id, int64_t uptime_ms, bool ready, const ocf_members_t *view,
                   ocf_bridge_t *bridge, ocf_gossip_t *gossip, ocf_transport_t *transport)
{
    size_t census[4];
    s_census (view, id, census);
    json_t *stats = json_pack ("{s:s, s:I, s:b, s:b, s:{s:I, s:I, s:I, s:I}}", "id", id,
                               "uptime_ms", (json_int_t) uptime_ms,
                               "ready", ready, "tabled_up", ocf_bridge_up (bridge),
                               "peers", "alive", (json_int_t) census[OCF_STATUS_ALIVE], "suspect", (json_int_t) census[OCF_STATUS_SUSPECT],
                               "dead", (json_int_t) census[OCF_STATUS_DEAD], "left", (json_int_t) census[OCF_STATUS_LEFT]);
    if (!gossip)
        return stats;
    const ocf_gossip_stats_t *core = ocf_gossip_stats (gossip);
    const ocf_transport_stats_t *net = ocf_transport_stats (transport);
    const ocf_bridge_stats_t *table = ocf_bridge_stats (bridge);
    json_object_set_new (stats, "joined", json_boolean (ocf_gossip_joined (gossip)));
    json_object_set_new (stats, "local_health", json_integer (core->local_health));
    json_t *counters = json_object ();
    #define COUNT(name, value) json_object_set_new (counters, name, json_integer ((json_int_t) (value)))
    COUNT ("msgs_in", core->msgs_in); COUNT ("msgs_out", core->msgs_out);
    COUNT ("bytes_in", core->bytes_in); COUNT ("bytes_out", core->bytes_out);
    COUNT ("bad_msgs", core->bad_msgs);
    COUNT ("heartbeats_in", core->heartbeats_in); COUNT ("heartbeats_out", core->heartbeats_out);
    COUNT ("probes", core->probes); COUNT ("probe_failures", core->probe_failures); COUNT ("probes_extended", core->probes_extended);
    COUNT ("suspicions", core->suspicions); COUNT ("deaths_declared", core->deaths_declared);
    COUNT ("refutations", core->refutations);
    COUNT ("rumours_originated", core->rumours_originated); COUNT ("rumours_new", core->rumours_new);
    COUNT ("rumours_duplicate", core->rumours_duplicate); COUNT ("rumours_forwarded", core->rumours_forwarded);
    COUNT ("catch_ups", core->catch_ups);
    COUNT ("wants_sent", core->wants_sent); COUNT ("wants_served", core->wants_served);
    COUNT ("ae_started", core->ae_started); COUNT ("ae_in_sync", core->ae_in_sync); COUNT ("ae_repaired", core->ae_repaired);
    COUNT ("ae_items_in", core->ae_items_in); COUNT ("ae_items_out", core->ae_items_out);
    COUNT ("snapshots_served", core->snapshots_served); COUNT ("snapshots_busy", core->snapshots_busy);
    COUNT ("snapshot_pages_in", core->snapshot_pages_in); COUNT ("snapshots_completed", core->snapshots_completed);
    COUNT ("table_queries", core->queries); COUNT ("table_queries_failed", core->queries_failed);
    COUNT ("send_dropped", net->send_dropped); COUNT ("no_endpoint", net->no_endpoint);
    COUNT ("zap_allowed", net->zap_allowed); COUNT ("zap_denied", net->zap_denied);
    COUNT ("peers_cut_off", net->cut_off); COUNT ("dropped_cut_off", net->dropped_cut_off);
    COUNT ("unproven", net->unproven); COUNT ("dropped_unauthorized", net->dropped_unauthorized);
    COUNT ("connections", net->connections); COUNT ("peers_connected_to_us", net->routes);
    COUNT ("sent_back", net->sent_back);
    COUNT ("tabled_requests", table->requests); COUNT ("tabled_timeouts", table->timeouts);
    COUNT ("tabled_events", table->events); COUNT ("tabled_reloads", table->reloads);
    COUNT ("merges", table->merges); COUNT ("merged_items", table->merged_items);
    COUNT ("merge_buffered", table->buffered_items); COUNT ("merge_dropped", table->merge_items_dropped);
    #undef COUNT
    json_object_set_new (stats, "counters", counters);
    json_t *in = json_object (), *out = json_object ();
    for (int type = 1; type <= OCF_WIRE_TYPE_MAX; type++) {
        json_object_set_new (in, ocf_wire_type_name (type), json_integer ((json_int_t) core->msgs_in_by_type[type]));
        json_object_set_new (out, ocf_wire_type_name (type), json_integer ((json_int_t) core->msgs_out_by_type[type]));
    }
    json_object_set_new (stats, "messages", json_pack ("{s:o, s:o}", "in", in, "out", out));
    json_t *watched = json_array ();
    ocf_gossip_foreach_watched (gossip, s_watched_json, watched);
    json_object_set_new (stats, "watched", watched);
    char observers[16][OCF_ID_SIZE];
    size_t count = ocf_gossip_observers (gossip, observers, 16);
    json_t *list = json_array ();
    for (size_t i = 0; i < count; i++)
        json_array_append_new (list, json_string (observers[i]));
    json_object_set_new (stats, "observers", list);
    return stats;
}

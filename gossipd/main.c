/*  ocf-gossipd: talks to the other hosts for this one.
    The runner: it wires the protocol core (ocf_gossip) to the network (ocf_transport,
    ocf_introducer), to ocf-tabled (ocf_bridge) and to time, in one zloop; serves HELLO
    and STATS on run_dir/gossipd.api; notifies systemd; leaves the cluster on SIGTERM.
    It starts serving once ocf-tabled has answered and the view is loaded: the node key is
    read only then (tabled creates it), so the two daemons never race to create it.  */
#include "ocf_daemon.h"
#include "ocf_gossip.h"
#include "ocf_client.h"
#include "ocf_identity.h"
#include "ocf_introducer.h"
#include "ocf_lock.h"
#include "ocf_log.h"
#include "ocf_msg.h"
#include "ocf_sdnotify.h"
#include "ocf_signals.h"
#include "ocf_bridge.h"
#include "ocf_time.h"
#include "ocf_transport.h"

#include <czmq.h>
#include <inttypes.h>
#include <sys/random.h>

#define MAX_SEEDS 16
#define LEAVE_TIMEOUT_MS 1000
#define SLOW_TICK_MS 1000            //  introducer retries, idle connections

typedef struct {
    ocf_config_t *config;
    ocf_signals_t *signals;
    zloop_t *loop;
    zsock_t *api;
    ocf_members_t *view;
    ocf_bridge_t *bridge;
    ocf_identity_t *identity;
    char id[OCF_ID_SIZE];
    ocf_transport_t *transport;
    ocf_introducer_t *introducer;
    ocf_gossip_t *core;
    ocf_gossip_config_t core_config;
    char seeds[MAX_SEEDS][OCF_ID_SIZE];
    size_t seed_count;
    bool ready;
    bool join_started;
    bool failed;                     //  a fatal problem found in a callback: stop
    int64_t started;
    int64_t next_slow_tick;
} server_t;

//  --------------------------------------------------------------------------
//  The core's surroundings

static void
s_env_send (void *arg, const char *peer, const uint8_t *data, size_t size)
{
    server_t *server = arg;
    ocf_transport_send (server->transport, peer, data, size, ocf_time_mono_ms ());
}

static void
s_env_merge (void *arg, const char *from, const ocf_item_t *items, size_t count)
{
    server_t *server = arg;
    ocf_bridge_merge (server->bridge, from, items, count);
}

static void
s_env_query (void *arg, uint64_t token, const ocf_query_t *query)
{
    server_t *server = arg;
    ocf_bridge_query (server->bridge, token, query, ocf_time_mono_ms ());
}

static void
s_env_introduce (void *arg, const char *id, const char *endpoint)
{
    server_t *server = arg;
    if (ocf_transport_authorized (server->transport, id) && !ocf_transport_knows (server->transport, id))
        ocf_transport_set_endpoint (server->transport, id, endpoint);
}

static bool
s_env_admit (void *arg, const ocf_item_t *item)
{
    server_t *server = arg;
    if (!ocf_transport_authorized (server->transport, item->id))
        return false;
    return item->kind != OCF_ITEM_ROW || ocf_bridge_row_valid (item, (size_t) server->config->tabled.max_record);
}

static void
s_env_log (void *arg, int level, const char *text)
{
    ocf_log (level, "%s", text);
}

//  --------------------------------------------------------------------------
//  Joining

static void
s_maybe_join (server_t *server)
{
    if (server->join_started || !server->ready || !server->seed_count)
        return;
    server->join_started = true;
    //  A node that knows live members already (a restart) catches up by anti-entropy; an
    //  empty one pulls a snapshot first.
    if (ocf_members_live (server->view) <= 1) {
        ocf_log_info ("joining through %zu seed(s)", server->seed_count);
        ocf_gossip_join (server->core, ocf_time_mono_ms (), (const char (*)[OCF_ID_SIZE]) server->seeds, server->seed_count);
    }
}

static void
s_seed_found (void *arg, const char *id, const char *endpoint)
{
    server_t *server = arg;
    if (strcmp (id, server->id) == 0 || server->seed_count >= MAX_SEEDS)
        return;
    for (size_t i = 0; i < server->seed_count; i++)
        if (strcmp (server->seeds[i], id) == 0)
            return;
    ocf_transport_set_endpoint (server->transport, id, endpoint);
    memcpy (server->seeds[server->seed_count++], id, OCF_ID_SIZE);
    s_maybe_join (server);
}

static bool
s_seed_check (void *arg, const char *id)
{
    server_t *server = arg;
    return ocf_transport_authorized (server->transport, id);
}

static int
s_on_introducer_answer (zloop_t *loop, zsock_t *sock, void *arg)
{
    server_t *server = arg;
    ocf_introducer_on_answer (server->introducer, sock);
    return 0;
}

static void
s_resolve_seeds (server_t *server)
{
    char *copy = strdup (server->config->gossipd.seeds), *saveptr = NULL;
    for (char *seed = strtok_r (copy, ", \t", &saveptr); seed; seed = strtok_r (NULL, ", \t", &saveptr)) {
        char key[OCF_NODE_ID_LEN + 1], host[256], endpoint[300];
        int port;
        if (ocf_config_parse_seed (seed, key, host, sizeof host, &port) != 0)
            continue;                //  --check-config rejected it already
        bool v6 = strchr (host, ':') != NULL;
        snprintf (endpoint, sizeof endpoint, "tcp://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
        if (*key)
            s_seed_found (server, key, endpoint);
        else
            zloop_reader (server->loop, ocf_introducer_ask (server->introducer, host, port), s_on_introducer_answer, server);
    }
    free (copy);
}

//  --------------------------------------------------------------------------
//  Starting, once tabled answered

static void
s_on_message (void *arg, const char *peer, zframe_t **frame)
{
    server_t *server = arg;
    int64_t now = ocf_time_mono_ms ();
    ocf_bridge_seen (server->bridge, peer);
    if (ocf_gossip_receive (server->core, now, peer, zframe_data (*frame), zframe_size (*frame)) != 0)
        ocf_transport_strike (server->transport, peer, now);
}

static int
s_on_introducer (zloop_t *loop, zsock_t *sock, void *arg)
{
    server_t *server = arg;
    ocf_introducer_on_server (server->introducer);
    return 0;
}

static void
s_core_config (ocf_gossipd_config_t *config, ocf_gossip_config_t *core)
{
    ocf_gossip_config_defaults (core);
    core->heartbeat_interval_ms = config->heartbeat_interval_ms;
    core->observers = (int) config->observers;
    core->phi_threshold = config->phi_threshold;
    core->phi_min_std_ms = config->phi_min_std_ms;
    core->acceptable_pause_ms = config->acceptable_pause_ms;
    core->probe_timeout_ms = config->probe_timeout_ms;
    core->suspicion_min_ms = config->suspicion_min_ms;
    core->suspicion_max_ms = config->suspicion_max_ms;
    core->gossip_interval_ms = config->gossip_interval_ms;
    core->fanout = (int) config->fanout;
    core->retransmit_mult = (int) config->retransmit_mult;
    core->anti_entropy_interval_ms = config->anti_entropy_interval_ms;
    core->dead_contact_interval_ms = 10 * config->heartbeat_interval_ms;
    core->max_snapshots = (int) config->max_snapshots;
    core->max_frame = (size_t) config->max_frame;
    //  Ticks fine enough for the shortest interval, never a busy loop.
    int64_t shortest = config->heartbeat_interval_ms < config->gossip_interval_ms ? config->heartbeat_interval_ms
                                                                                   : config->gossip_interval_ms;
    core->tick_ms = shortest / 4 < 10 ? 10 : shortest / 4 > 100 ? 100 : shortest / 4;
}

//  "tcp://host:port" for a configured host:port (port + delta).
static void
s_tcp_endpoint (const char *hostport, int delta, char *endpoint, size_t size)
{
    char host[256];
    int port;
    ocf_config_parse_hostport (hostport, host, sizeof host, &port);
    bool v6 = strchr (host, ':') != NULL;
    snprintf (endpoint, size, "tcp://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port + delta);
}

//  tabled is there: read the key it made, then open the gossip sockets and start the core.
static int
s_start_gossip (server_t *server, const char *tabled_id)
{
    ocf_gossipd_config_t *config = &server->config->gossipd;
    char error[1024], endpoint[300];
    server->identity = ocf_identity_load (server->config->node.state_dir, error, sizeof error);
    if (!server->identity || strcmp (ocf_identity_id (server->identity), tabled_id) != 0) {
        ocf_log_error ("%s/node.key %s; ocf-tabled is %s: both daemons must share [node] state_dir",
                       server->config->node.state_dir, server->identity ? "holds another key" : error, tabled_id);
        return -1;
    }
    snprintf (server->id, sizeof server->id, "%s", tabled_id);
    server->transport = ocf_transport_new (server->identity, config, server->loop, s_on_message, server, error, sizeof error);
    if (!server->transport) {
        ocf_log_error ("%s", error);
        return -1;
    }
    s_tcp_endpoint (config->bind, 0, endpoint, sizeof endpoint);
    if (ocf_transport_bind (server->transport, endpoint) != 0) {
        ocf_log_error ("cannot bind the gossip socket on %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    char introducer[300] = "";
    if (strcmp (config->introducer, "off") != 0)
        s_tcp_endpoint (*config->introducer ? config->introducer : config->bind, *config->introducer ? 0 : 1,
                        introducer, sizeof introducer);
    server->introducer = ocf_introducer_new (server->id, *introducer ? introducer : NULL, server->config->node.state_dir,
                                             s_seed_found, s_seed_check, server, error, sizeof error);
    if (!server->introducer) {
        ocf_log_error ("%s", error);
        return -1;
    }
    s_core_config (config, &server->core_config);
    ocf_gossip_env_t env = { .arg = server, .send = s_env_send, .merge = s_env_merge, .query = s_env_query,
                             .introduce = s_env_introduce, .admit = s_env_admit, .log = s_env_log };
    uint64_t seed = 0;
    if (getrandom (&seed, sizeof seed, 0) != sizeof seed)
        seed = (uint64_t) ocf_time_wall_ms () ^ ((uint64_t) getpid () << 32);
    server->core = ocf_gossip_new (server->id, &server->core_config, server->view, &env, seed, ocf_time_mono_ms ());
    ocf_bridge_set_core (server->bridge, server->core);
    if (ocf_introducer_server (server->introducer))
        zloop_reader (server->loop, ocf_introducer_server (server->introducer), s_on_introducer, server);
    ocf_log_info ("gossip on %s%s%s, %s", endpoint, *introducer ? ", key introducer on " : "", introducer,
                  ocf_transport_enforcing (server->transport) ? "authorized keys only" : "open to any key");
    s_resolve_seeds (server);
    return 0;
}

//  --------------------------------------------------------------------------
//  tabled's side

static void
s_on_hello (void *arg, json_t *hello)
{
    server_t *server = arg;
    const char *id = json_string_value (json_object_get (hello, "id"));
    if (!ocf_identity_id_valid (id)) {
        ocf_log_error ("ocf-tabled answered HELLO without a node id");
        server->failed = true;
        return;
    }
    if (!server->core) {
        if (s_start_gossip (server, id) != 0)
            server->failed = true;
    }
    else
    if (strcmp (id, server->id) != 0) {
        ocf_log_error ("ocf-tabled came back as %s, but this daemon is %s; stopping", id, server->id);
        server->failed = true;
    }
}

static void
s_on_loaded (void *arg)
{
    server_t *server = arg;
    if (server->ready || !server->core)
        return;
    server->ready = true;
    ocf_log_info ("ready: node %s, %zu member(s) known, %zu live", server->id, ocf_members_size (server->view),
                  ocf_members_live (server->view));
    ocf_sdnotify_status ("gossiping, %zu live member(s)", ocf_members_live (server->view));
    ocf_sdnotify ("READY=1");
    s_maybe_join (server);
}

static void
s_on_member (void *arg, const char *id, const ocf_peer_t *member)
{
    server_t *server = arg;
    if (!server->core || strcmp (id, server->id) == 0) {
        if (server->core)
            ocf_gossip_member_changed (server->core, ocf_time_mono_ms (), id);
        return;
    }
    //  A tombstoned node is gone: its connection too. A dead one keeps its address, to be
    //  tried now and then (a partition heals that way).
    if (!member)
        ocf_transport_set_endpoint (server->transport, id, NULL);
    else
    if (member->endpoint && ocf_transport_authorized (server->transport, id))
        ocf_transport_set_endpoint (server->transport, id, member->endpoint);
    ocf_gossip_member_changed (server->core, ocf_time_mono_ms (), id);
}

static void
s_on_own_change (void *arg, const ocf_item_t *item)
{
    server_t *server = arg;
    if (server->core)
        ocf_gossip_local_change (server->core, ocf_time_mono_ms (), item);
}

static void
s_on_root (void *arg, uint64_t root, uint64_t entries)
{
    server_t *server = arg;
    if (server->core)
        ocf_gossip_set_root (server->core, root, entries);
}

static int
s_on_table_api (zloop_t *loop, zsock_t *sock, void *arg)
{
    server_t *server = arg;
    ocf_bridge_on_api (server->bridge, ocf_time_mono_ms ());
    return server->failed ? -1 : 0;
}

static int
s_on_table_events (zloop_t *loop, zsock_t *sock, void *arg)
{
    server_t *server = arg;
    ocf_bridge_on_events (server->bridge, ocf_time_mono_ms ());
    return 0;
}

//  --------------------------------------------------------------------------
//  The local API: HELLO, STATS

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

static json_t *
s_stats (server_t *server)
{
    size_t census[4];
    s_census (server->view, server->id, census);
    json_t *stats = json_pack ("{s:s, s:I, s:b, s:b, s:{s:I, s:I, s:I, s:I}}", "id", server->id,
                               "uptime_ms", (json_int_t) (ocf_time_mono_ms () - server->started),
                               "ready", server->ready, "tabled_up", ocf_bridge_up (server->bridge),
                               "peers", "alive", (json_int_t) census[OCF_STATUS_ALIVE], "suspect", (json_int_t) census[OCF_STATUS_SUSPECT],
                               "dead", (json_int_t) census[OCF_STATUS_DEAD], "left", (json_int_t) census[OCF_STATUS_LEFT]);
    if (!server->core)
        return stats;
    const ocf_gossip_stats_t *core = ocf_gossip_stats (server->core);
    const ocf_transport_stats_t *net = ocf_transport_stats (server->transport);
    const ocf_bridge_stats_t *table = ocf_bridge_stats (server->bridge);
    json_object_set_new (stats, "joined", json_boolean (ocf_gossip_joined (server->core)));
    json_object_set_new (stats, "local_health", json_integer (core->local_health));
    json_t *counters = json_object ();
    #define COUNT(name, value) json_object_set_new (counters, name, json_integer ((json_int_t) (value)))
    COUNT ("msgs_in", core->msgs_in); COUNT ("msgs_out", core->msgs_out);
    COUNT ("bytes_in", core->bytes_in); COUNT ("bytes_out", core->bytes_out);
    COUNT ("bad_msgs", core->bad_msgs);
    COUNT ("heartbeats_in", core->heartbeats_in); COUNT ("heartbeats_out", core->heartbeats_out);
    COUNT ("probes", core->probes); COUNT ("probe_failures", core->probe_failures);
    COUNT ("suspicions", core->suspicions); COUNT ("deaths_declared", core->deaths_declared);
    COUNT ("refutations", core->refutations);
    COUNT ("rumours_originated", core->rumours_originated); COUNT ("rumours_new", core->rumours_new);
    COUNT ("rumours_duplicate", core->rumours_duplicate); COUNT ("rumours_forwarded", core->rumours_forwarded);
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
    ocf_gossip_foreach_watched (server->core, s_watched_json, watched);
    json_object_set_new (stats, "watched", watched);
    char observers[16][OCF_ID_SIZE];
    size_t count = ocf_gossip_observers (server->core, observers, 16);
    json_t *list = json_array ();
    for (size_t i = 0; i < count; i++)
        json_array_append_new (list, json_string (observers[i]));
    json_object_set_new (stats, "observers", list);
    return stats;
}

static int
s_on_api (zloop_t *loop, zsock_t *sock, void *arg)
{
    server_t *server = arg;
    while (zsock_events (sock) & ZMQ_POLLIN) {
        zmsg_t *request = zmsg_recv_nowait (sock);
        if (!request)
            break;
        zmsg_t *reply = ocf_msg_take_envelope (request);
        ocf_msg_t msg;
        char error[512];
        if (ocf_msg_decode_zmsg (&msg, request, 65536, error, sizeof error) != 0)
            ocf_msg_append (reply, "ERR", ocf_msg_error_body ("%s", error));
        else {
            if (strcmp (msg.verb, "HELLO") == 0)
                ocf_msg_append (reply, "OK", json_pack ("{s:s, s:s, s:b, s:s}", "id", server->id,
                                                        "name", server->config->node.name, "ready", server->ready,
                                                        "software", "ocf " OCF_VERSION));
            else
            if (strcmp (msg.verb, "STATS") == 0)
                ocf_msg_append (reply, "OK", s_stats (server));
            else
                ocf_msg_append (reply, "ERR", ocf_msg_error_body ("unknown verb %s (known: HELLO STATS)", msg.verb));
            ocf_msg_clear (&msg);
        }
        if (zmsg_send (&reply, sock) != 0)
            zmsg_destroy (&reply);
        zmsg_destroy (&request);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Time, signals, leaving

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    server_t *server = arg;
    int64_t now = ocf_time_mono_ms ();
    ocf_bridge_tick (server->bridge, now);
    if (server->core && server->ready)
        ocf_gossip_tick (server->core, now);
    if (server->transport && now >= server->next_slow_tick) {
        server->next_slow_tick = now + SLOW_TICK_MS;
        ocf_transport_tick (server->transport, now);
        ocf_introducer_tick (server->introducer);
    }
    return server->failed ? -1 : 0;
}

static int
s_on_watchdog (zloop_t *loop, int timer_id, void *arg)
{
    ocf_sdnotify ("WATCHDOG=1");
    return 0;
}

static int
s_on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    server_t *server = arg;
    int signal_number;
    while ((signal_number = ocf_signals_next (server->signals)))
        if (signal_number == SIGTERM || signal_number == SIGINT) {
            ocf_log_info ("received %s, leaving the cluster", strsignal (signal_number));
            return -1;
        }
        else
        if (signal_number == SIGHUP && server->transport) {
            char error[1024];
            if (ocf_transport_reload_keys (server->transport, &server->config->gossipd, error, sizeof error) != 0)
                ocf_log_error ("SIGHUP: %s; the authorized keys in force stay", error);
            else
                ocf_log_notice ("SIGHUP: authorized keys reloaded (%s)", ocf_transport_enforcing (server->transport)
                                ? "closed cluster" : "open to any key");
        }
    return 0;
}

//  tabled tombstones this generation (and starts the next); the tombstone goes to everyone.
//  Without tabled, we tombstone ourselves from what the view says: it learns on return.
static void
s_leave (server_t *server)
{
    if (!server->core || !server->ready)
        return;
    char endpoint[300], error[512];
    snprintf (endpoint, sizeof endpoint, "ipc://%s/tabled.api", server->config->node.run_dir);
    ocf_client_t *client = ocf_client_new (endpoint);
    json_t *reply = NULL;
    uint8_t payload[OCF_WIRE_PAYLOAD_MAX];
    ocf_item_t item = { .kind = OCF_ITEM_TOMBSTONE, .data = payload };
    memcpy (item.id, server->id, OCF_ID_SIZE);
    ocf_wire_tombstone_t tombstone = { 0, OCF_REASON_LEFT, ocf_time_wall_ms () };
    ocf_tombstone_in_t signed_leave;
    bool has_sig = false;
    if (ocf_client_call (client, "LEAVE", NULL, LEAVE_TIMEOUT_MS, &reply, error, sizeof error) == 0
    &&  ocf_record_parse_tombstone (json_object_get (reply, "tombstone"), &signed_leave, error, sizeof error) == 0) {
        //  tabled signed it: every table on the way checks that this node wrote it.
        tombstone.generation = signed_leave.generation;
        tombstone.declared_at = signed_leave.declared_at;
        has_sig = signed_leave.has_sig;
    }
    else {
        const ocf_peer_t *me = ocf_members_get (server->view, server->id);
        ocf_log_warning ("LEAVE: %s; announcing the leave without ocf-tabled: unsigned, the others will see this "
                         "node dead rather than gone", error);
        tombstone.generation = me ? me->generation : 0;
    }
    json_decref (reply);
    ocf_client_destroy (&client);
    if (!tombstone.generation)
        return;
    item.size = (uint32_t) ocf_wire_tombstone_encode_signed (&tombstone, has_sig ? signed_leave.sig : NULL, payload);
    ocf_gossip_leave (server->core, ocf_time_mono_ms (), &item);
    ocf_log_notice ("left the cluster as generation %" PRIu64, tombstone.generation);
}

int
main (int argc, char **argv)
{
    ocf_config_t *config = ocf_daemon_start (argc, argv, "ocf-gossipd",
                                             "Talks to the other hosts: membership, failure detection, table replication.");
    static const int signals[] = { SIGTERM, SIGINT, SIGHUP, 0 };
    server_t server = { .config = config, .signals = ocf_signals_new (signals), .started = ocf_time_mono_ms () };
    char endpoint[4200];
    int status = 1;
    ocf_lock_t *lock = NULL;
    lock = ocf_daemon_claim (config, "gossipd");
    if (!lock)
        goto done;
    server.api = zsock_new (ZMQ_ROUTER);
    zsock_set_sndtimeo (server.api, 0);
    zsock_set_maxmsgsize (server.api, 1 << 20);
    if (zsock_bind (server.api, "%s", ocf_daemon_endpoint (config, "gossipd.api", endpoint, sizeof endpoint)) != 0) {
        ocf_log_error ("cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        goto stop;
    }
    server.view = ocf_members_new ();
    ocf_bridge_handler_t handler = { .arg = &server, .hello = s_on_hello, .loaded = s_on_loaded,
                                        .member_changed = s_on_member, .own_change = s_on_own_change, .root = s_on_root };
    server.bridge = ocf_bridge_new (config->node.run_dir, server.view, &handler, (size_t) config->tabled.max_message);
    server.loop = zloop_new ();
    zloop_reader (server.loop, server.api, s_on_api, &server);
    zloop_reader (server.loop, ocf_bridge_api (server.bridge), s_on_table_api, &server);
    zloop_reader (server.loop, ocf_bridge_events (server.bridge), s_on_table_events, &server);
    zmq_pollitem_t signal_item = { NULL, ocf_signals_fd (server.signals), ZMQ_POLLIN, 0 };
    zloop_poller (server.loop, &signal_item, s_on_signal, &server);
    ocf_gossip_config_t timing;
    s_core_config (&config->gossipd, &timing);
    zloop_timer (server.loop, (size_t) timing.tick_ms, 0, s_on_tick, &server);
    int64_t watchdog = ocf_sdnotify_watchdog_interval_ms ();
    if (watchdog > 0)
        zloop_timer (server.loop, (size_t) watchdog, 0, s_on_watchdog, &server);
    ocf_log_info ("waiting for ocf-tabled at %s/tabled.api", config->node.run_dir);
    zloop_start (server.loop);
    ocf_sdnotify ("STOPPING=1");
    if (!server.failed) {
        s_leave (&server);
        status = 0;
    }
stop:
    ocf_gossip_destroy (&server.core);
    //  The transport lingers a moment for what is still queued: the leave's tombstone. It
    //  takes its sockets out of the loop, so it goes first.
    ocf_transport_destroy (&server.transport);
    zloop_destroy (&server.loop);
    ocf_introducer_destroy (&server.introducer);
    ocf_bridge_destroy (&server.bridge);
    ocf_members_destroy (&server.view);
    ocf_identity_destroy (&server.identity);
    zsock_destroy (&server.api);
    ocf_log_info ("stopped");
done:
    ocf_lock_destroy (&lock);
    ocf_signals_destroy (&server.signals);
    ocf_config_destroy (&config);
    return status;
}

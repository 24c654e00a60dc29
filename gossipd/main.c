/*  ocf-gossipd: talks to the other hosts for this one.
    The runner: it wires the protocol core (ocf_gossip) to the network (ocf_transport,
    ocf_introducer), to ocf-tabled (ocf_bridge) and to time, in one zloop; serves HELLO
    and STATS on run_dir/gossipd.api; notifies systemd; leaves the cluster on SIGTERM.
    It starts serving once ocf-tabled has answered and the view is loaded: the node key is
    read only then (tabled creates it), so the two daemons never race to create it.  */
#include "ocf_bridge.h"
#include "ocf_daemon.h"
#include "ocf_gossip.h"
#include "ocf_gossipd_stats.h"
#include "ocf_identity.h"
#include "ocf_lock.h"
#include "ocf_log.h"
#include "ocf_msg.h"
#include "ocf_sdnotify.h"
#include "ocf_seeds.h"
#include "ocf_signals.h"
#include "ocf_statedir.h"
#include "ocf_time.h"
#include "ocf_transport.h"
#include "ocf_zreader.h"

#include <czmq.h>
#include <inttypes.h>
#include <malloc.h>
#include <sys/random.h>

#define LEAVE_TIMEOUT_MS 1000
#define SLOW_TICK_MS 1000            //  introducer retries, idle connections
#define TRIM_MS 10000                //  freed heap pages handed back to the system

typedef struct {
    ocf_config_t *config;
    ocf_signals_t *signals;
    zloop_t *loop;
    zsock_t *api;
    ocf_zreader_t *api_reader;
    ocf_zreader_t *table_api_reader;
    ocf_zreader_t *table_events_reader;
    ocf_members_t *view;
    ocf_bridge_t *bridge;
    ocf_identity_t *identity;
    char id[OCF_ID_SIZE];
    ocf_transport_t *transport;
    ocf_seeds_t *seeds;
    ocf_gossip_t *core;
    ocf_gossip_config_t core_config;
    bool ready;
    bool failed;                     //  a fatal problem found in a callback: stop
    int64_t started;
    int64_t next_slow_tick;
    int64_t next_trim;
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

static void
s_on_drained (void *arg)
{
    server_t *server = arg;
    if (server->core)
        ocf_gossip_flush (server->core);
}

//  tabled is there: read the key it made, then open the gossip sockets and start the core.
static int
s_start_gossip (server_t *server, const char *tabled_id)
{
    ocf_gossipd_config_t *config = &server->config->gossipd;
    char error[1024], endpoint[300];
    server->identity = ocf_identity_load (server->config->node.state_dir, error, sizeof error);
    if (!server->identity || strcmp (ocf_identity_id (server->identity), tabled_id) != 0) {
        char path[4200];
        ocf_log_error ("%s %s; ocf-tabled is %s: both daemons must share [node] state_dir",
                       ocf_statedir_path (server->config->node.state_dir, OCF_STATE_NODE_KEY, path, sizeof path),
                       server->identity ? "holds another key" : error, tabled_id);
        return -1;
    }
    snprintf (server->id, sizeof server->id, "%s", tabled_id);
    server->transport = ocf_transport_new (server->identity, config, server->loop, s_on_message, s_on_drained, server,
                                           error, sizeof error);
    if (!server->transport) {
        ocf_log_error ("%s", error);
        return -1;
    }
    ocf_transport_set_urgent (server->transport, ocf_wire_timely);
    char host[256];
    int port;
    ocf_config_parse_hostport (config->bind, host, sizeof host, &port);
    ocf_transport_endpoint (host, port, endpoint, sizeof endpoint);
    if (ocf_transport_bind (server->transport, endpoint) != 0) {
        ocf_log_error ("cannot bind the gossip socket on %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    ocf_gossip_config_from (&server->core_config, config);
    ocf_gossip_env_t env = { .arg = server, .send = s_env_send, .merge = s_env_merge, .query = s_env_query,
                             .introduce = s_env_introduce, .admit = s_env_admit, .log = s_env_log };
    uint64_t seed = 0;
    if (getrandom (&seed, sizeof seed, 0) != sizeof seed)
        seed = (uint64_t) ocf_time_wall_ms () ^ ((uint64_t) getpid () << 32);
    server->core = ocf_gossip_new (server->id, &server->core_config, server->view, &env, seed, ocf_time_mono_ms ());
    ocf_bridge_set_core (server->bridge, server->core);
    server->seeds = ocf_seeds_new (config, server->config->node.state_dir, server->id, server->core, server->transport,
                                   server->view, server->loop, error, sizeof error);
    if (!server->seeds) {
        ocf_log_error ("%s", error);
        return -1;
    }
    const char *introducer = ocf_seeds_introducer (server->seeds);
    ocf_log_info ("gossip on %s%s%s, %s", endpoint, *introducer ? ", key introducer on " : "", introducer,
                  ocf_transport_enforcing (server->transport) ? "authorized keys only" : "open to any key");
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
    ocf_seeds_ready (server->seeds);
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

static void
s_on_api_replaced (void *arg, zsock_t *old_api, zsock_t *new_api)
{
    server_t *server = arg;
    ocf_zreader_set_socket (server->table_api_reader, new_api);
}

static void
s_on_api_sent (void *arg)
{
    server_t *server = arg;
    if (server->table_api_reader)
        ocf_zreader_sent (server->table_api_reader);
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
                ocf_msg_append (reply, "OK", ocf_gossipd_stats (server->id, ocf_time_mono_ms () - server->started, server->ready,
                                                                server->view, server->bridge, server->core, server->transport));
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

static bool
s_active (void *arg, const char *id)
{
    server_t *server = arg;
    return ocf_gossip_is_active (server->core, id);
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    server_t *server = arg;
    //  zloop runs its timers before its readers: an answer that has arrived meanwhile is
    //  read before the tick judges who did not answer (only then: reading every socket
    //  costs a system call each).
    if (server->core && ocf_gossip_awaits_answers (server->core))
        ocf_transport_receive (server->transport);
    int64_t now = ocf_time_mono_ms ();
    ocf_bridge_tick (server->bridge, now);
    if (server->core && server->ready)
        ocf_gossip_tick (server->core, now);
    if (server->transport && now >= server->next_slow_tick) {
        server->next_slow_tick = now + SLOW_TICK_MS;
        ocf_transport_tick (server->transport, now, server->core && server->ready ? s_active : NULL, server);
        ocf_seeds_tick (server->seeds);
    }
    //  Every connection gossipd ever held (a joiner served, a probe, a peer that asked)
    //  left its buffers, freed when it closed, in libzmq's I/O thread's malloc arena, and
    //  glibc gives back only the top of a heap: private memory kept the high-water mark of
    //  connections (at N = 64: 1.7-4.6 MB, the most at the seeds every joiner talked to),
    //  not the ~2 log2(N) + K now open. malloc_trim hands every free page of every arena
    //  back (madvise), so what stays is what is in use.
    if (now >= server->next_trim) {
        server->next_trim = now + TRIM_MS;
        malloc_trim (0);
    }
    return server->failed ? -1 : 0;
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

static void
s_leave (server_t *server)
{
    if (!server->core || !server->ready)
        return;
    uint8_t payload[OCF_WIRE_PAYLOAD_MAX];
    ocf_item_t item;
    uint64_t generation = ocf_bridge_leave (server->bridge, server->id, LEAVE_TIMEOUT_MS, &item, payload);
    if (!generation)
        return;
    ocf_gossip_leave (server->core, ocf_time_mono_ms (), &item);
    ocf_log_notice ("left the cluster as generation %" PRIu64, generation);
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
                                        .member_changed = s_on_member, .own_change = s_on_own_change, .root = s_on_root,
                                        .api_replaced = s_on_api_replaced, .api_sent = s_on_api_sent };
    server.bridge = ocf_bridge_new (config->node.run_dir, server.view, &handler, (size_t) config->tabled.max_message);
    server.loop = zloop_new ();
    server.api_reader = ocf_zreader_new (server.loop, server.api, s_on_api, &server);
    server.table_api_reader = ocf_zreader_new (server.loop, ocf_bridge_api (server.bridge), s_on_table_api, &server);
    server.table_events_reader = ocf_zreader_new (server.loop, ocf_bridge_events (server.bridge), s_on_table_events, &server);
    zmq_pollitem_t signal_item = { NULL, ocf_signals_fd (server.signals), ZMQ_POLLIN, 0 };
    zloop_poller (server.loop, &signal_item, s_on_signal, &server);
    ocf_gossip_config_t timing;
    ocf_gossip_config_from (&timing, &config->gossipd);
    zloop_timer (server.loop, (size_t) timing.tick_ms, 0, s_on_tick, &server);
    ocf_daemon_watchdog (server.loop);
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
    ocf_seeds_destroy (&server.seeds);
    ocf_zreader_destroy (&server.api_reader);
    ocf_zreader_destroy (&server.table_api_reader);
    ocf_zreader_destroy (&server.table_events_reader);
    zloop_destroy (&server.loop);
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

/*  One real ocf-gossipd (with its ocf-tabled): its local API, its start-up order with tabled,
    one instance per run directory, and how it takes hostile peers: garbage, floods and
    oversize frames over a real CURVE connection.  */
#include "cluster.h"
#include "ocf_config.h"
#include "ocf_time.h"
#include "ocf_transport.h"
#include "ocf_wire.h"

#include <criterion/criterion.h>
#include <czmq.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static cluster_t s_cluster;

static void
s_setup (void)
{
    zsys_init ();
    cr_assert (cluster_start (&s_cluster, 1, NULL));
}

static void
s_teardown (void)
{
    cluster_stop (&s_cluster);
}

TestSuite (gossip_daemon, .init = s_setup, .fini = s_teardown, .timeout = 60);

static json_t *
s_stats (void)
{
    json_t *stats = cluster_call (&s_cluster, 0, "gossipd", "STATS", NULL);
    cr_assert (stats, "STATS got no answer: the daemon is gone");
    return stats;
}

static json_int_t
s_counter (json_t *stats, const char *name)
{
    return json_integer_value (json_object_get (json_object_get (stats, "counters"), name));
}

Test (gossip_daemon, hello_and_stats_describe_the_node)
{
    json_t *hello = cluster_call (&s_cluster, 0, "gossipd", "HELLO", NULL);
    cr_assert_str_eq (json_string_value (json_object_get (hello, "id")), s_cluster.nodes[0].id);
    cr_assert (json_is_true (json_object_get (hello, "ready")));
    json_decref (hello);
    json_t *stats = s_stats ();
    cr_assert (json_is_object (json_object_get (stats, "peers")));
    cr_assert (json_is_array (json_object_get (stats, "watched")));
    cr_assert (json_is_object (json_object_get (json_object_get (stats, "messages"), "in")));
    cr_assert (json_is_true (json_object_get (stats, "tabled_up")));
    json_decref (stats);
    bool ok;
    json_t *reply = ocf_test_call (&s_cluster.nodes[0].node, "gossipd", "NOPE", NULL, &ok);
    cr_assert_not (ok);
    cr_assert (strstr (json_string_value (json_object_get (reply, "error")), "HELLO STATS"));
    json_decref (reply);
}

Test (gossip_daemon, a_second_instance_refuses_to_start)
{
    pid_t second = ocf_test_spawn (&s_cluster.nodes[0].node, "ocf-gossipd", NULL);
    int status = ocf_test_stop (second, 0, 5000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) != 0, "a second ocf-gossipd on one run directory started");
    char *log = cluster_log (&s_cluster, 0, "gossipd");
    cr_assert (strstr (log, "refusing to start"), "the second instance did not say why it stopped");
    free (log);
}

Test (gossip_daemon, waits_for_tabled_before_it_is_ready)
{
    //  A second node whose gossipd starts first: tabled creates the key, gossipd only reads it.
    cluster_t *cluster = &s_cluster;
    cluster_node_t *node = &cluster->nodes[1];
    ocf_test_node_init (&node->node, "gossip-early");
    node->port = s_cluster.nodes[0].port + 2;
    char config[256];
    snprintf (config, sizeof config, "[node]\npublic_addr = 127.0.0.1\n[gossipd]\nbind = 127.0.0.1:%d\nintroducer = off\n",
              ocf_test_free_port ());
    ocf_test_node_config (&node->node, config);
    cluster->count = 2;
    node->gossipd = ocf_test_spawn (&node->node, "ocf-gossipd", NULL);
    cr_assert_not (ocf_test_wait_notify (&node->node, "READY=1", 1000), "gossipd was ready without tabled");
    node->tabled = ocf_test_start (&node->node, "ocf-tabled", NULL, 10000);
    cr_assert_gt (node->tabled, 0);
    bool ready = ocf_test_wait_notify (&node->node, "READY=1", 10000);
    char *log = cluster_log (cluster, 1, "gossipd");
    cr_assert (ready, "gossipd did not become ready once tabled was; its log:\n%s", log);
    free (log);
}

//  A client with a key of its own, talking to node 0's gossip port as a peer would, and
//  calling itself claimed_id.
static zsock_t *
s_rogue (ocf_identity_t *identity, const char *claimed_id)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    zcert_apply (ocf_identity_curve (identity), sock);
    char server_key[41], property[128];
    cr_assert (ocf_identity_id_curve (s_cluster.nodes[0].id, server_key));
    zsock_set_curve_serverkey (sock, server_key);
    snprintf (property, sizeof property, "%s:%s", OCF_TRANSPORT_ID_PROPERTY, claimed_id);
    zmq_setsockopt (zsock_resolve (sock), 95 /* ZMQ_METADATA, a draft in zmq.h */, property, strlen (property));
    zsock_set_sndhwm (sock, 100000);
    zsock_set_linger (sock, 2000);
    zsock_connect (sock, "tcp://127.0.0.1:%d", s_cluster.nodes[0].port);
    return sock;
}

//  Node 0's daemon logged text.
typedef struct {
    const char *daemon;
    const char *text;
} logged_t;

static bool
s_logged (void *arg)
{
    logged_t *logged = arg;
    char *log = cluster_log (&s_cluster, 0, logged->daemon);
    bool found = strstr (log, logged->text) != NULL;
    free (log);
    return found;
}

Test (gossip_daemon, garbage_is_counted_then_cut_off)
{
    ocf_identity_t *identity = ocf_identity_new_ephemeral ();
    zsock_t *rogue = s_rogue (identity, ocf_identity_id (identity));
    for (int i = 0; i < 12; i++) {
        uint8_t garbage[64];
        for (size_t b = 0; b < sizeof garbage; b++)
            garbage[b] = (uint8_t) (i * 31 + b * 7);
        zmq_send (zsock_resolve (rogue), garbage, sizeof garbage, 0);
    }
    cr_assert (ocf_test_wait_for (s_logged, &(logged_t) { "gossipd", "malformed messages" }, 5000), "the garbage sender was not cut off");
    json_t *stats = s_stats ();
    cr_assert_geq (s_counter (stats, "bad_msgs"), 10);
    cr_assert_geq (s_counter (stats, "peers_cut_off"), 1);
    json_decref (stats);
    zsock_destroy (&rogue);
    ocf_identity_destroy (&identity);
}

Test (gossip_daemon, a_flood_is_cut_off)
{
    ocf_config_t *config = ocf_config_new ();
    int64_t limit = config->gossipd.flood_limit;
    ocf_config_destroy (&config);
    ocf_identity_t *identity = ocf_identity_new_ephemeral ();
    zsock_t *rogue = s_rogue (identity, ocf_identity_id (identity));
    ocf_wire_msg_t syn = { .type = OCF_WIRE_AE_SYN, .root = 1 };
    ocf_wire_buf_t buf = { .max = 1024 };
    ocf_wire_encode (&syn, &buf);
    for (int64_t i = 0; i < 4 * limit; i++)
        zmq_send (zsock_resolve (rogue), buf.data, buf.len, 0);
    cr_assert (ocf_test_wait_for (s_logged, &(logged_t) { "gossipd", "messages a second" }, 10000), "the flood was not cut off");
    json_t *stats = s_stats ();
    cr_assert_geq (s_counter (stats, "peers_cut_off"), 1);
    json_decref (stats);
    ocf_wire_buf_free (&buf);
    zsock_destroy (&rogue);
    ocf_identity_destroy (&identity);
}

static bool
s_unproven_counted (void *arg)
{
    json_t *stats = s_stats ();
    bool counted = s_counter (stats, "unproven") >= 1;
    json_decref (stats);
    return counted;
}

Test (gossip_daemon, a_peer_cannot_speak_under_another_nodes_id)
{
    //  Its CURVE key is its own, so the handshake succeeds; the id it claims is another's.
    ocf_identity_t *impostor = ocf_identity_new_ephemeral (), *victim = ocf_identity_new_ephemeral ();
    zsock_t *rogue = s_rogue (impostor, ocf_identity_id (victim));
    ocf_wire_msg_t syn = { .type = OCF_WIRE_AE_SYN, .root = 1 };
    ocf_wire_buf_t buf = { .max = 1024 };
    ocf_wire_encode (&syn, &buf);
    zmq_send (zsock_resolve (rogue), buf.data, buf.len, 0);
    cr_assert (ocf_test_wait_for (s_unproven_counted, NULL, 5000), "a message under a stolen id was not dropped");
    json_t *stats = s_stats ();
    cr_assert_eq (s_counter (stats, "msgs_in"), 0, "the impostor's message was received");
    json_decref (stats);
    ocf_wire_buf_free (&buf);
    zsock_destroy (&rogue);
    ocf_identity_destroy (&impostor);
    ocf_identity_destroy (&victim);
}

Test (gossip_daemon, a_forged_row_relayed_by_a_peer_is_refused_and_the_peer_named)
{
    //  A peer (a real member as far as the transport goes: its own key, its own id) spreads
    //  a row about another node that it signed itself.
    ocf_identity_t *relay = ocf_identity_new_ephemeral (), *victim = ocf_identity_new_ephemeral ();
    json_t *row = json_pack ("{s:s, s:s, s:i, s:i}", "id", ocf_identity_id (victim), "name", "victim",
                             "generation", 5, "version", 1);
    char error[256];
    cr_assert_eq (ocf_record_sign_row_json (row, relay, error, sizeof error), 0, "%s", error);
    char *text = json_dumps (row, JSON_COMPACT);
    ocf_item_t item = { .kind = OCF_ITEM_ROW, .data = (const uint8_t *) text, .size = (uint32_t) strlen (text) };
    snprintf (item.id, sizeof item.id, "%s", ocf_identity_id (victim));
    ocf_wire_msg_t rumour = { .type = OCF_WIRE_RUMOUR, .items = &item, .item_count = 1 };
    snprintf (rumour.target, sizeof rumour.target, "%s", s_cluster.nodes[0].id);
    ocf_wire_buf_t buf = { .max = 65536 };
    cr_assert_eq (ocf_wire_encode (&rumour, &buf), 0);
    zsock_t *rogue = s_rogue (relay, ocf_identity_id (relay));
    zmq_send (zsock_resolve (rogue), buf.data, buf.len, 0);
    char expected[200];
    snprintf (expected, sizeof expected, "MERGE from %s: refused the signed item of %s", ocf_identity_id (relay),
              ocf_identity_id (victim));
    cr_assert (ocf_test_wait_for (s_logged, &(logged_t) { "tabled", expected }, 5000), "tabled did not refuse the row naming the relay");
    json_t *reply = cluster_call (&s_cluster, 0, "tabled", "GET", json_pack ("{s:s}", "id", ocf_identity_id (victim)));
    cr_assert (reply && json_is_null (json_object_get (reply, "row")), "the forged row was stored");
    json_decref (reply);
    zsock_destroy (&rogue);
    ocf_wire_buf_free (&buf);
    free (text);
    json_decref (row);
    ocf_identity_destroy (&relay);
    ocf_identity_destroy (&victim);
}

Test (gossip_daemon, an_oversize_frame_closes_the_connection)
{
    ocf_config_t *config = ocf_config_new ();
    size_t max_frame = (size_t) config->gossipd.max_frame;
    ocf_config_destroy (&config);
    ocf_identity_t *identity = ocf_identity_new_ephemeral ();
    zsock_t *rogue = s_rogue (identity, ocf_identity_id (identity));
    uint8_t *huge = calloc (1, max_frame + 1);
    huge[0] = OCF_WIRE_VERSION;
    huge[1] = OCF_WIRE_RUMOUR;
    zmq_send (zsock_resolve (rogue), huge, max_frame + 1, 0);
    free (huge);
    zsock_destroy (&rogue);
    ocf_identity_destroy (&identity);
    //  ZeroMQ refuses it before it is read (with the connection): it never even reaches the
    //  decoder, which would count it as a bad message. The daemon serves on.
    usleep (300 * 1000);
    json_t *stats = s_stats ();
    cr_assert_eq (s_counter (stats, "bad_msgs"), 0);
    json_decref (stats);
}

static void
s_send (zsock_t *sock, const ocf_wire_msg_t *msg)
{
    ocf_wire_buf_t buf = { .max = 1024 };
    cr_assert_eq (ocf_wire_encode (msg, &buf), 0);
    cr_assert_eq (zmq_send (zsock_resolve (sock), buf.data, buf.len, 0), (int) buf.len);
    ocf_wire_buf_free (&buf);
}

//  The next message on sock, decoded (type 0 after timeout_ms without one).
static ocf_wire_msg_t
s_receive (zsock_t *sock, int timeout_ms)
{
    ocf_wire_msg_t msg = { 0 };
    zsock_set_rcvtimeo (sock, timeout_ms);
    zframe_t *frame = zframe_recv (sock);
    if (frame) {
        char error[256];
        cr_assert_eq (ocf_wire_decode (&msg, zframe_data (frame), zframe_size (frame), 1 << 20, error, sizeof error), 0,
                      "gossipd sent something malformed: %s", error);
        zframe_destroy (&frame);
    }
    return msg;
}

Test (gossip_daemon, a_probe_behind_a_burst_is_answered_first)
{
    //  A node that did not run for a while (here: stopped) finds a burst waiting; a probe
    //  in it is answered before the rest is handled, not after, where it would have come
    //  past the prober's timeout on a loaded machine.
    ocf_identity_t *identity = ocf_identity_new_ephemeral ();
    zsock_t *peer = s_rogue (identity, ocf_identity_id (identity));
    s_send (peer, &(ocf_wire_msg_t) { .type = OCF_WIRE_PING, .nonce = 1 });
    ocf_wire_msg_t first = s_receive (peer, 5000);
    cr_assert_eq (first.type, OCF_WIRE_ACK, "the first ping got no answer");
    ocf_wire_clear (&first);
    cr_assert_eq (kill (s_cluster.nodes[0].gossipd, SIGSTOP), 0);
    //  Adverts of rumours it never heard of: each is answered with a WANT.
    enum { ADVERTS = 30 };
    for (uint64_t i = 0; i < ADVERTS; i++)
        s_send (peer, &(ocf_wire_msg_t) { .type = OCF_WIRE_IHAVE, .keys = &(uint64_t) { 0x5eed0000 + i }, .key_count = 1 });
    s_send (peer, &(ocf_wire_msg_t) { .type = OCF_WIRE_PING, .nonce = 2 });
    usleep (200 * 1000);                 //  all of it in the stopped daemon's socket buffer
    cr_assert_eq (kill (s_cluster.nodes[0].gossipd, SIGCONT), 0);
    int ack_at = -1, wants = 0;
    for (int i = 0; i < ADVERTS + 1; i++) {
        ocf_wire_msg_t reply = s_receive (peer, 5000);
        cr_assert_neq (reply.type, 0, "only %d of %d answers came", i, ADVERTS + 1);
        if (reply.type == OCF_WIRE_ACK && reply.nonce == 2)
            ack_at = i;
        else
        if (reply.type == OCF_WIRE_WANT)
            wants++;
        ocf_wire_clear (&reply);
    }
    cr_assert_eq (wants, ADVERTS);
    //  Answered before the adverts read with it: first when the daemon's I/O thread had the
    //  whole burst in the socket when the main thread read it (mostly), after the adverts of
    //  an earlier read when it had only some. Handled in turn it came after all of them.
    cr_assert_lt (ack_at, ADVERTS, "the ping sent after %d adverts was answered after %d of their WANTs", ADVERTS, ack_at);
    zsock_destroy (&peer);
    ocf_identity_destroy (&identity);
}

Test (gossip_daemon, tabled_refutes_a_death_carried_by_its_own_row)
{
    //  After a partition heals, a node can learn it was declared dead from its own row sent
    //  back by anti-entropy: the row's record part is ignored, its membership refuted.
    json_t *got = cluster_get (&s_cluster, 0, 0);
    json_t *row = json_deep_copy (json_object_get (got, "row"));
    json_decref (got);
    json_object_set_new (row, "status", json_string ("dead"));
    json_object_del (row, "last_alive");
    json_t *reply = cluster_call (&s_cluster, 0, "tabled", "MERGE", json_pack ("{s:[o]}", "rows", row));
    cr_assert (reply);
    json_decref (reply);
    got = cluster_get (&s_cluster, 0, 0);
    row = json_object_get (got, "row");
    cr_assert_str_eq (json_string_value (json_object_get (row, "status")), "alive");
    cr_assert_geq (json_integer_value (json_object_get (row, "incarnation")), 1);
    json_decref (got);
    cr_assert (ocf_test_wait_for (s_logged, &(logged_t) { "tabled", "refuted being dead" }, 2000),
               "tabled's log does not say what it refuted");
}

typedef struct {
    json_int_t before;
} timeouts_t;

static bool
s_tabled_timed_out (void *arg)
{
    json_t *stats = cluster_call (&s_cluster, 0, "gossipd", "STATS", NULL);
    bool more = stats && s_counter (stats, "tabled_timeouts") > ((timeouts_t *) arg)->before;
    json_decref (stats);
    return more;
}

Test (gossip_daemon, a_silent_tabled_does_not_stop_gossipd)
{
    //  tabled stopped for longer than a request may take: the bridge gives the link up and
    //  connects a new socket. gossipd goes on, and is answered again once tabled is. (It
    //  ended here once: its loop still polled the socket the bridge had replaced, failed on
    //  it and stopped as if told to, leaving the cluster.)
    cluster_node_t *node = &s_cluster.nodes[0];
    json_t *stats = s_stats ();
    timeouts_t timeouts = { s_counter (stats, "tabled_timeouts") };
    json_int_t requests = s_counter (stats, "tabled_requests");
    json_decref (stats);
    kill (node->tabled, SIGSTOP);
    bool timed_out = ocf_test_wait_for (s_tabled_timed_out, &timeouts, 15000);
    kill (node->tabled, SIGCONT);
    cr_assert (timed_out, "no request to tabled timed out while it was stopped (or gossipd is gone: %d)", kill (node->gossipd, 0));
    usleep (500 * 1000);
    cr_assert_eq (kill (node->gossipd, 0), 0, "gossipd is gone");
    stats = s_stats ();
    json_int_t asked = s_counter (stats, "tabled_requests"), timeouts_after = s_counter (stats, "tabled_timeouts");
    json_decref (stats);
    cr_assert_gt (asked, requests);
    char path[600];
    snprintf (path, sizeof path, "%s/ocf-gossipd.log", node->node.root);
    char *log = ocf_test_read_file (path);
    cr_assert (log && !strstr (log, "left the cluster"), "%s", log ? log : "(no log)");
    free (log);
    //  Asked again and answered: requests go on (the table's root at least every few seconds),
    //  and none times out for longer than a request may take.
    sleep (4);
    stats = s_stats ();
    cr_assert_gt (s_counter (stats, "tabled_requests"), asked, "tabled is not asked again");
    cr_assert_eq (s_counter (stats, "tabled_timeouts"), timeouts_after, "tabled is not answering the new socket");
    json_decref (stats);
}

/*  Real ocf-tabled + ocf-gossipd pairs on 127.0.0.1, each node with its own state and run
    directories and SQLite file: joining, record changes, crashes, leaves, restarts. Every
    deadline comes from the protocol's parameters (the configuration defaults the daemons
    run with), never from what a run happened to take.  */
#include "cluster.h"
#include "ocf_config.h"
#include "ocf_rtt.h"
#include "ocf_statedir.h"
#include "ocf_time.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define NODES 8

static cluster_t s_cluster;
static ocf_gossipd_config_t s_params;    //  the defaults the daemons run with

static void
s_setup (void)
{
    ocf_config_t *config = ocf_config_new ();
    s_params = config->gossipd;
    ocf_config_destroy (&config);
    cr_assert (cluster_start (&s_cluster, NODES, NULL), "the cluster did not start (see /tmp/ocf-test-gossip*)");
}

static void
s_teardown (void)
{
    cluster_stop (&s_cluster);
}

TestSuite (gossip_cluster, .init = s_setup, .fini = s_teardown, .timeout = 120);

//  Anything the push and the IHAVE rounds missed is repaired by anti-entropy, which
//  observers start when heartbeats show differing roots for (at most) five intervals.
static int
s_repair_deadline_ms (void)
{
    return (int) (6 * s_params.heartbeat_interval_ms);
}

typedef struct {
    int about;
    const char *status;          //  wanted membership status, or NULL: a row must be there
    uint64_t version;            //  at least this record version (0: any)
    bool tombstone;              //  a tombstone must be there instead
    uint64_t generation;         //  at least this generation (0: any)
} seen_t;

//  True when every running node other than `about` sees what is wanted.
static bool
s_all_see (void *arg)
{
    seen_t *want = arg;
    for (int i = 0; i < s_cluster.count; i++) {
        if (i == want->about || !cluster_up (&s_cluster, i))
            continue;
        json_t *got = cluster_get (&s_cluster, i, want->about);
        json_t *row = json_object_get (got, "row");
        bool ok = got != NULL;
        if (want->tombstone)
            ok = ok && json_is_object (json_object_get (got, "tombstone")) && json_is_null (row);
        else {
            ok = ok && json_is_object (row);
            if (ok && want->status)
                ok = strcmp (json_string_value (json_object_get (row, "status")), want->status) == 0;
            if (ok && want->version)
                ok = (uint64_t) json_integer_value (json_object_get (row, "version")) >= want->version;
            if (ok && want->generation)
                ok = (uint64_t) json_integer_value (json_object_get (row, "generation")) >= want->generation;
        }
        json_decref (got);
        if (!ok)
            return false;
    }
    return true;
}

static int64_t
s_wait_all_see (seen_t *want, int deadline_ms)
{
    int64_t start = ocf_time_mono_ms ();
    return ocf_test_wait_for (s_all_see, want, deadline_ms) ? ocf_time_mono_ms () - start : -1;
}

//  Node *arg's gossipd: every other node alive, joined, heartbeating to `observers` of them.
static bool
s_gossipd_sees_all (void *arg)
{
    json_t *stats = cluster_call (&s_cluster, *(int *) arg, "gossipd", "STATS", NULL);
    bool ok = stats && json_integer_value (json_object_get (json_object_get (stats, "peers"), "alive")) == NODES - 1
           && json_is_true (json_object_get (stats, "joined"))
           && json_array_size (json_object_get (stats, "observers")) == (size_t) s_params.observers;
    json_decref (stats);
    return ok;
}

//  --------------------------------------------------------------------------

Test (gossip_cluster, eight_nodes_join_and_converge)
{
    //  Every node sees every other alive, in its table and in gossipd's view.
    for (int about = 0; about < NODES; about++) {
        seen_t want = { about, "alive", 0, false, 0 };
        cr_assert_geq (s_wait_all_see (&want, s_repair_deadline_ms ()), 0, "node %d is not alive everywhere", about);
    }
    //  gossipd's own view follows tabled's events (and its observers the next tick).
    for (int i = 0; i < NODES; i++)
        cr_assert (ocf_test_wait_for (s_gossipd_sees_all, &i, s_repair_deadline_ms ()),
                   "node %d's gossipd does not see %d alive peers and %d observers", i, NODES - 1, (int) s_params.observers);
}

//  Node *arg's table.db, read with the sqlite3 CLI: a round-trip time for every other node.
static bool
s_rtt_in_table_db (void *arg)
{
    char db[512], command[700];
    ocf_statedir_path (s_cluster.nodes[*(int *) arg].node.state_dir, OCF_STATE_TABLE_DB, db, sizeof db);
    snprintf (command, sizeof command,
              "sqlite3 -readonly %s 'select count(*) from peer_rtt where rtt_ms >= 0 and updated_at is not null' 2>&1", db);
    int status;
    char *output = ocf_test_run (command, &status);
    bool ok = status == 0 && atoi (output) == NODES - 1;
    free (output);
    return ok;
}

//  gossipd pings one peer of its active view (here: every other node) every rtt_interval,
//  the stalest first, and hands changed times to tabled every OCF_RTT_REPORT_MS.
Test (gossip_cluster, round_trip_times_reach_table_db)
{
    int64_t deadline = s_repair_deadline_ms () + (NODES - 1) * s_params.rtt_interval_ms + OCF_RTT_REPORT_MS;
    for (int i = 0; i < NODES; i += NODES - 1)
        cr_assert (ocf_test_wait_for (s_rtt_in_table_db, &i, (int) deadline),
                   "node %d's table.db has no round-trip time for some of the %d others", i, NODES - 1);
    //  In tabled's rows too, as this host's observation.
    json_t *got = cluster_get (&s_cluster, 0, 1);
    json_t *rtt = json_object_get (json_object_get (got, "row"), "rtt_ms");
    cr_assert (json_is_number (rtt) && json_number_value (rtt) >= 0, "no rtt_ms in node 0's row of node 1");
    json_decref (got);
}

Test (gossip_cluster, record_change_reaches_all)
{
    json_t *reply = cluster_call (&s_cluster, 3, "tabled", "SELF.SET", json_pack ("{s:{s:s}}", "labels", "rack", "r7"));
    cr_assert (reply);
    seen_t want = { 3, NULL, (uint64_t) json_integer_value (json_object_get (reply, "version")), false, 0 };
    json_decref (reply);
    int64_t took = s_wait_all_see (&want, s_repair_deadline_ms ());
    cr_assert_geq (took, 0, "the change did not reach every node");
    printf ("record change -> all %d others: %lld ms\n", NODES - 1, (long long) took);
}

static int
s_max_health (void)
{
    int health = 0;
    for (int i = 0; i < s_cluster.count; i++) {
        json_t *stats = cluster_up (&s_cluster, i) ? cluster_call (&s_cluster, i, "gossipd", "STATS", NULL) : NULL;
        int value = (int) json_integer_value (json_object_get (stats, "local_health"));
        health = value > health ? value : health;
        json_decref (stats);
    }
    return health;
}

Test (gossip_cluster, kill_9_is_detected_by_all)
{
    seen_t alive = { 5, "alive", 0, false, 0 };
    cr_assert_geq (s_wait_all_see (&alive, s_repair_deadline_ms ()), 0);
    usleep ((useconds_t) (3 * s_params.heartbeat_interval_ms * 1000));     //  a few heartbeats of history
    cluster_kill (&s_cluster, 5);
    seen_t dead = { 5, "dead", 0, false, 0 };
    int64_t bound = cluster_detection_bound_ms (CLUSTER_HEALTH_MAX);
    int64_t took = s_wait_all_see (&dead, (int) bound);
    int health = s_max_health ();
    cr_assert_geq (took, 0, "not every node declared the killed node dead within %lld ms", (long long) bound);
    cr_expect_leq (took, cluster_detection_bound_ms (health), "detection took %lld ms; the parameters allow %lld at local health %d",
                   (long long) took, (long long) cluster_detection_bound_ms (health), health);
    printf ("kill -9 -> all %d others see it dead: %lld ms (bound %lld ms at local health %d)\n", NODES - 1,
            (long long) took, (long long) cluster_detection_bound_ms (health), health);
}

Test (gossip_cluster, graceful_leave_is_seen_by_all_within_a_second)
{
    seen_t alive = { 6, "alive", 0, false, 0 };
    cr_assert_geq (s_wait_all_see (&alive, s_repair_deadline_ms ()), 0);
    int64_t start = ocf_time_mono_ms ();
    kill (s_cluster.nodes[6].gossipd, SIGTERM);
    cr_assert (ocf_test_wait_notify (&s_cluster.nodes[6].node, "STOPPING=1", 2000));
    int status = ocf_test_stop (s_cluster.nodes[6].gossipd, SIGTERM, 5000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "ocf-gossipd did not exit cleanly");
    s_cluster.nodes[6].gossipd = 0;
    seen_t gone = { 6, NULL, 0, true, 0 };
    int64_t left = 1000 - (ocf_time_mono_ms () - start);
    int64_t took = s_wait_all_see (&gone, left > 0 ? (int) left : 0);
    cr_assert_geq (took, 0, "not every node saw the leave within a second");
    printf ("graceful leave -> all %d others see the tombstone: %lld ms after SIGTERM\n", NODES - 2,
            (long long) (ocf_time_mono_ms () - start));
}

Test (gossip_cluster, restarted_node_rejoins_with_a_new_generation)
{
    seen_t alive = { 2, "alive", 0, false, 0 };
    cr_assert_geq (s_wait_all_see (&alive, s_repair_deadline_ms ()), 0);
    json_t *before = cluster_get (&s_cluster, 0, 2);
    uint64_t old_generation = (uint64_t) json_integer_value (json_object_get (json_object_get (before, "row"), "generation"));
    json_decref (before);
    cr_assert_gt (old_generation, 0);
    cluster_kill (&s_cluster, 2);
    cr_assert (cluster_start_node (&s_cluster, 2, NULL), "node 2 did not restart");
    json_t *hello = cluster_call (&s_cluster, 2, "tabled", "HELLO", NULL);
    uint64_t generation = (uint64_t) json_integer_value (json_object_get (hello, "generation"));
    json_decref (hello);
    cr_assert_gt (generation, old_generation);
    seen_t want = { 2, "alive", 0, false, generation };
    int64_t took = s_wait_all_see (&want, s_repair_deadline_ms ());
    cr_assert_geq (took, 0, "not every node sees the new generation alive");
    printf ("restart -> all %d others see the new generation: %lld ms after it was ready\n", NODES - 1, (long long) took);
}

Test (gossip_cluster, survives_a_tabled_restart)
{
    //  tabled of node 4 goes away; meanwhile node 1 changes its record.
    cr_assert_eq (ocf_test_stop (s_cluster.nodes[4].tabled, SIGTERM, 5000) >= 0, true);
    s_cluster.nodes[4].tabled = 0;
    json_t *reply = cluster_call (&s_cluster, 1, "tabled", "SELF.SET", json_pack ("{s:{s:s}}", "labels", "during", "restart"));
    uint64_t version = (uint64_t) json_integer_value (json_object_get (reply, "version"));
    json_decref (reply);
    usleep (500 * 1000);
    s_cluster.nodes[4].tabled = ocf_test_start (&s_cluster.nodes[4].node, "ocf-tabled", NULL, 10000);
    cr_assert_gt (s_cluster.nodes[4].tabled, 0);
    //  gossipd kept running: it buffered what came in, reloads its view, and anti-entropy
    //  repairs whatever could not wait.
    seen_t want = { 1, NULL, version, false, 0 };
    cr_assert_geq (s_wait_all_see (&want, s_repair_deadline_ms ()), 0, "node 4 never caught up");
    //  And it spreads what the new run of tabled changes.
    reply = cluster_call (&s_cluster, 4, "tabled", "SELF.SET", json_pack ("{s:{s:s}}", "labels", "after", "restart"));
    cr_assert (reply);
    seen_t spread = { 4, NULL, (uint64_t) json_integer_value (json_object_get (reply, "version")), false, 0 };
    json_decref (reply);
    cr_assert_geq (s_wait_all_see (&spread, s_repair_deadline_ms ()), 0, "a change after the restart did not spread");
}

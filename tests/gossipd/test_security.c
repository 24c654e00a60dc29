/*  Who may be part of a cluster: with [gossipd] authorized_keys, a node with another key
    can neither join nor get its row into anybody's table; plain host:port seeds have their
    key learned once and pinned (trust on first use), and a changed key is refused.  */
#include "cluster.h"
#include "ocf_config.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEMBERS 3

static cluster_t s_cluster;
static int64_t s_repair;             //  the bound on anti-entropy repairs (see test_cluster.c)

static void
s_setup (void)
{
    ocf_config_t *config = ocf_config_new ();
    s_repair = 6 * config->gossipd.heartbeat_interval_ms;
    ocf_config_destroy (&config);
    memset (&s_cluster, 0, sizeof s_cluster);
}

static void
s_teardown (void)
{
    cluster_stop (&s_cluster);
}

TestSuite (gossip_security, .init = s_setup, .fini = s_teardown, .timeout = 60);

static bool
s_has_row (int at, int about)
{
    json_t *got = cluster_get (&s_cluster, at, about);
    bool has = got && json_is_object (json_object_get (got, "row"));
    json_decref (got);
    return has;
}

//  Every one of the first *arg nodes has the rows of all of them.
static bool
s_converged (void *arg)
{
    int count = *(int *) arg;
    for (int i = 0; i < count; i++)
        for (int j = 0; j < count; j++)
            if (!s_has_row (i, j))
                return false;
    return true;
}

static bool
s_logged (void *arg)
{
    const char **where = arg;
    char *log = cluster_log (&s_cluster, atoi (where[0]), "gossipd");
    bool found = strstr (log, where[1]) != NULL;
    free (log);
    return found;
}

Test (gossip_security, a_node_with_another_key_cannot_join_or_inject_rows)
{
    //  The members' keys exist once their tabled ran; the intruder's is not among them.
    for (int i = 0; i <= MEMBERS; i++)
        cr_assert (cluster_start_tabled (&s_cluster, i));
    char keys[512] = "gossipd.authorized_keys=";
    for (int i = 0; i < MEMBERS; i++)
        snprintf (keys + strlen (keys), sizeof keys - strlen (keys), "%s%s", i ? "," : "", s_cluster.nodes[i].id);
    snprintf (s_cluster.seeds, sizeof s_cluster.seeds, "%s@127.0.0.1:%d", s_cluster.nodes[0].id, s_cluster.nodes[0].port);
    for (int i = 0; i < MEMBERS; i++)
        cr_assert (cluster_start_gossipd (&s_cluster, i, keys));
    int members = MEMBERS;
    cr_assert (ocf_test_wait_for (s_converged, &members, (int) s_repair));
    //  The intruder runs the same software, seeded with node 0's real key.
    cr_assert (cluster_start_gossipd (&s_cluster, MEMBERS, NULL));
    const char *refused[] = { "0", "is not in authorized_keys" };
    cr_assert (ocf_test_wait_for (s_logged, refused, (int) s_repair), "node 0 did not refuse the intruder");
    //  A row about it planted in a member's own table does not travel either: the others'
    //  gossipd refuse items about unauthorized ids, whichever member sends them.
    json_t *row = cluster_get (&s_cluster, MEMBERS, MEMBERS);
    json_t *planted = json_deep_copy (json_object_get (row, "row"));
    json_decref (row);
    json_object_del (planted, "last_alive");
    json_t *reply = cluster_call (&s_cluster, 1, "tabled", "MERGE", json_pack ("{s:[o]}", "rows", planted));
    cr_assert (reply);
    json_decref (reply);
    cr_assert (s_has_row (1, MEMBERS));
    usleep ((useconds_t) (s_repair * 1000));
    cr_assert_not (s_has_row (0, MEMBERS), "the intruder's row reached node 0");
    cr_assert_not (s_has_row (2, MEMBERS), "the intruder's row reached node 2");
    json_t *stats = cluster_call (&s_cluster, 0, "gossipd", "STATS", NULL);
    cr_assert_gt (json_integer_value (json_object_get (json_object_get (stats, "counters"), "zap_denied")), 0);
    cr_assert_eq (json_integer_value (json_object_get (json_object_get (stats, "peers"), "alive")), MEMBERS - 1);
    json_decref (stats);
    stats = cluster_call (&s_cluster, MEMBERS, "gossipd", "STATS", NULL);
    cr_assert (json_is_false (json_object_get (stats, "joined")), "the intruder got a snapshot");
    json_decref (stats);
}

Test (gossip_security, a_plain_seed_key_is_learned_once_and_pinned)
{
    cr_assert (cluster_start_node (&s_cluster, 0, NULL));
    snprintf (s_cluster.seeds, sizeof s_cluster.seeds, "127.0.0.1:%d", s_cluster.nodes[0].port);
    cr_assert (cluster_start_node (&s_cluster, 1, NULL));
    int two = 2;
    cr_assert (ocf_test_wait_for (s_converged, &two, (int) s_repair), "the node did not join through a plain seed");
    char path[400], expected[400];
    snprintf (path, sizeof path, "%s/known_seeds", s_cluster.nodes[1].node.state_dir);
    snprintf (expected, sizeof expected, "127.0.0.1:%d %s\n", s_cluster.nodes[0].port, s_cluster.nodes[0].id);
    char *pinned = ocf_test_read_file (path);
    cr_assert (pinned && strcmp (pinned, expected) == 0, "known_seeds holds '%s'", pinned ? pinned : "(nothing)");
    free (pinned);
    //  A node that pinned another key for that address refuses to join through it.
    cr_assert (cluster_start_tabled (&s_cluster, 2));
    snprintf (path, sizeof path, "%s/known_seeds", s_cluster.nodes[2].node.state_dir);
    FILE *file = fopen (path, "w");
    fprintf (file, "127.0.0.1:%d %s\n", s_cluster.nodes[0].port, s_cluster.nodes[1].id);
    fclose (file);
    cr_assert (cluster_start_gossipd (&s_cluster, 2, NULL));
    const char *refused[] = { "2", "was pinned for it" };
    cr_assert (ocf_test_wait_for (s_logged, refused, (int) s_repair));
    cr_assert_not (s_has_row (0, 2), "the node joined through a seed whose key changed");
}

//  Node 2 is not alive in node at's view any more (suspect, dead, or gone).
static bool
s_not_alive (void *arg)
{
    json_t *got = cluster_get (&s_cluster, *(int *) arg, 2);
    json_t *row = got ? json_object_get (got, "row") : NULL;
    bool gone = got && (!json_is_object (row) || strcmp (json_string_value (json_object_get (row, "status")), "alive") != 0);
    json_decref (got);
    return gone;
}

Test (gossip_security, a_host_removed_from_authorized_keys_loses_access_at_the_next_reload)
{
    for (int i = 0; i < MEMBERS; i++)
        cr_assert (cluster_start_tabled (&s_cluster, i));
    char path[400], keys[600];
    snprintf (path, sizeof path, "%s/authorized_keys", s_cluster.nodes[0].node.root);
    FILE *file = fopen (path, "w");
    for (int i = 0; i < MEMBERS; i++)
        fprintf (file, "%s\n", s_cluster.nodes[i].id);
    fclose (file);
    snprintf (keys, sizeof keys, "gossipd.authorized_keys_file=%s", path);
    snprintf (s_cluster.seeds, sizeof s_cluster.seeds, "%s@127.0.0.1:%d", s_cluster.nodes[0].id, s_cluster.nodes[0].port);
    for (int i = 0; i < MEMBERS; i++)
        cr_assert (cluster_start_gossipd (&s_cluster, i, keys));
    int members = MEMBERS;
    cr_assert (ocf_test_wait_for (s_converged, &members, (int) s_repair));
    //  Node 2 is struck off; nodes 0 and 1 are told to read the file again.
    file = fopen (path, "w");
    fprintf (file, "# node 2 was here\n%s\n%s\n", s_cluster.nodes[0].id, s_cluster.nodes[1].id);
    fclose (file);
    kill (s_cluster.nodes[0].gossipd, SIGHUP);
    kill (s_cluster.nodes[1].gossipd, SIGHUP);
    //  Its heartbeats are dropped from then on, so it goes the way of a silent node.
    ocf_config_t *config = ocf_config_new ();
    int deadline = (int) (config->gossipd.suspicion_max_ms + 10 * config->gossipd.heartbeat_interval_ms);
    ocf_config_destroy (&config);
    for (int at = 0; at < 2; at++)
        cr_assert (ocf_test_wait_for (s_not_alive, &at, deadline), "node %d still sees node 2 alive", at);
    json_t *stats = cluster_call (&s_cluster, 0, "gossipd", "STATS", NULL);
    cr_assert_gt (json_integer_value (json_object_get (json_object_get (stats, "counters"), "dropped_unauthorized")), 0);
    json_decref (stats);
    const char *reloaded[] = { "0", "authorized keys reloaded" };
    cr_assert (ocf_test_wait_for (s_logged, reloaded, 1000));
}

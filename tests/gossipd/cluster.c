/*  cluster: real daemons for the gossip tests.  */
#include "cluster.h"
#include "ocf_config.h"
#include "ocf_phi.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READY_TIMEOUT_MS 10000

static void
s_write_config (cluster_node_t *node, int index)
{
    FILE *file = fopen (node->node.config, "w");
    fprintf (file, "[node]\nname = n%d\npublic_addr = 127.0.0.1\n[gossipd]\nbind = 127.0.0.1:%d\n", index, node->port);
    fclose (file);
}

//  A daemon that did not become ready says why in its log: show it with the failure.
static bool
s_started (cluster_t *cluster, int index, const char *daemon, pid_t pid)
{
    if (pid > 0)
        return true;
    char *log = cluster_log (cluster, index, daemon);
    fprintf (stderr, "node %d: ocf-%s did not become ready; its log:\n%s\n", index, daemon, log);
    free (log);
    return false;
}

bool
cluster_start_tabled (cluster_t *cluster, int index)
{
    cluster_node_t *node = &cluster->nodes[index];
    if (!node->node.root[0]) {
        char name[32];
        snprintf (name, sizeof name, "gossip%d", index);
        ocf_test_node_init (&node->node, name);
        node->port = ocf_test_free_ports (2);      //  gossip, and the introducer on the next
        s_write_config (node, index);
    }
    if (index >= cluster->count)
        cluster->count = index + 1;
    node->tabled = ocf_test_start (&node->node, "ocf-tabled", NULL, READY_TIMEOUT_MS);
    if (!s_started (cluster, index, "tabled", node->tabled))
        return false;
    json_t *hello = cluster_call (cluster, index, "tabled", "HELLO", NULL);
    snprintf (node->id, sizeof node->id, "%s", hello ? json_string_value (json_object_get (hello, "id")) : "");
    json_decref (hello);
    return strlen (node->id) == OCF_NODE_ID_LEN;
}

bool
cluster_start_gossipd (cluster_t *cluster, int index, const char *extra)
{
    cluster_node_t *node = &cluster->nodes[index];
    char seeds[600];
    snprintf (seeds, sizeof seeds, "gossipd.seeds=%s", index ? cluster->seeds : "");
    //  Extra "section.key=value" lines go on the command line, so a restart can change them.
    const char *sets[8] = { seeds };
    int count = 1;
    char *copy = extra ? strdup (extra) : NULL, *saveptr = NULL;
    for (char *line = copy ? strtok_r (copy, "\n", &saveptr) : NULL; line && count < 7; line = strtok_r (NULL, "\n", &saveptr))
        sets[count++] = line;
    sets[count] = NULL;
    node->gossipd = ocf_test_start (&node->node, "ocf-gossipd", sets, READY_TIMEOUT_MS);
    free (copy);
    return s_started (cluster, index, "gossipd", node->gossipd);
}

bool
cluster_start_node (cluster_t *cluster, int index, const char *extra)
{
    cluster_node_t *node = &cluster->nodes[index];
    for (int attempt = 0; attempt < 3; attempt++) {
        if (!cluster_start_tabled (cluster, index))
            return false;
        if (cluster_start_gossipd (cluster, index, extra))
            return true;
        //  Somebody took the port between our check and gossipd's bind: another port, and
        //  tabled again, since it advertises the port in this node's record.
        char *log = cluster_log (cluster, index, "gossipd");
        bool taken = strstr (log, "Address already in use") != NULL;
        free (log);
        ocf_test_stop (node->tabled, SIGTERM, 5000);
        node->tabled = 0;
        if (!taken)
            return false;
        node->port = ocf_test_free_ports (2);      //  gossip, and the introducer on the next
        s_write_config (node, index);
    }
    return false;
}

bool
cluster_start (cluster_t *cluster, int count, const char *extra)
{
    memset (cluster, 0, sizeof *cluster);
    if (!cluster_start_node (cluster, 0, extra))
        return false;
    snprintf (cluster->seeds, sizeof cluster->seeds, "%s@127.0.0.1:%d", cluster->nodes[0].id, cluster->nodes[0].port);
    for (int i = 1; i < count; i++)
        if (!cluster_start_node (cluster, i, extra))
            return false;
    return true;
}

void
cluster_kill (cluster_t *cluster, int index)
{
    cluster_node_t *node = &cluster->nodes[index];
    kill (node->gossipd, SIGKILL);
    kill (node->tabled, SIGKILL);
    ocf_test_stop (node->gossipd, SIGKILL, 2000);
    ocf_test_stop (node->tabled, SIGKILL, 2000);
    node->gossipd = node->tabled = 0;
}

void
cluster_stop (cluster_t *cluster)
{
    for (int i = 0; i < cluster->count; i++) {
        cluster_node_t *node = &cluster->nodes[i];
        if (node->gossipd > 0)
            ocf_test_stop (node->gossipd, SIGTERM, 5000);
        if (node->tabled > 0)
            ocf_test_stop (node->tabled, SIGTERM, 5000);
        node->gossipd = node->tabled = 0;
    }
    //  Only once every node stopped: a node's cleanup kills whatever children are left, the
    //  other nodes' daemons included.
    for (int i = 0; i < cluster->count; i++)
        if (cluster->nodes[i].node.root[0])
            ocf_test_node_cleanup (&cluster->nodes[i].node);
}

bool
cluster_up (cluster_t *cluster, int index)
{
    return cluster->nodes[index].gossipd > 0 && cluster->nodes[index].tabled > 0;
}

json_t *
cluster_call (cluster_t *cluster, int index, const char *daemon, const char *verb, json_t *body)
{
    bool ok;
    json_t *reply = ocf_test_call (&cluster->nodes[index].node, daemon, verb, body, &ok);
    if (!ok) {
        json_decref (reply);
        return NULL;
    }
    return reply;
}

json_t *
cluster_get (cluster_t *cluster, int at, int about)
{
    return cluster_call (cluster, at, "tabled", "GET", json_pack ("{s:s}", "id", cluster->nodes[about].id));
}

char *
cluster_log (cluster_t *cluster, int index, const char *daemon)
{
    char path[400];
    snprintf (path, sizeof path, "%s/ocf-%s.log", cluster->nodes[index].node.root, daemon);
    char *text = ocf_test_read_file (path);
    return text ? text : strdup ("");
}

int64_t
cluster_detection_bound_ms (int health)
{
    ocf_config_t *config = ocf_config_new ();
    ocf_gossipd_config_t params = config->gossipd;
    ocf_config_destroy (&config);
    ocf_phi_t phi;
    ocf_phi_init (&phi, params.heartbeat_interval_ms);
    for (int i = 0; i <= 10; i++)
        ocf_phi_heartbeat (&phi, i * params.heartbeat_interval_ms);
    ocf_phi_params_t phi_params = { params.phi_min_std_ms, params.acceptable_pause_ms, 1.0 + health };
    return ocf_phi_deadline (&phi, params.phi_threshold, &phi_params)
         + (params.probe_timeout_ms + params.suspicion_max_ms) * (1 + health) + 2 * params.heartbeat_interval_ms;
}

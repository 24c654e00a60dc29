/*  cluster: real ocf-tabled + ocf-gossipd pairs on 127.0.0.1, one temporary node directory
    each (own state, own run dir, own SQLite file), for the multi-process gossip tests.  */
#ifndef CLUSTER_H
#define CLUSTER_H

#include "ocf_identity.h"
#include "ocf_test.h"

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#define CLUSTER_MAX 16
#define CLUSTER_HEALTH_MAX 8         //  the core's highest local health score

typedef struct {
    ocf_test_node_t node;
    pid_t tabled;
    pid_t gossipd;
    int port;                    //  gossip port; the key introducer listens on port + 1
    char id[OCF_NODE_ID_LEN + 1];
} cluster_node_t;

typedef struct {
    cluster_node_t nodes[CLUSTER_MAX];
    int count;
    char seeds[512];             //  what joiners are given
} cluster_t;

//  Starts node index: its tabled, then its gossipd with the cluster's seeds and extra
//  config lines. Returns false when a daemon did not become ready.
bool cluster_start_node (cluster_t *cluster, int index, const char *extra);
//  Starts tabled only (the node key exists afterwards; node->id is set).
bool cluster_start_tabled (cluster_t *cluster, int index);
bool cluster_start_gossipd (cluster_t *cluster, int index, const char *extra);
//  Starts count nodes; node 0 is the seed, pinned by key (pubkey@host:port).
bool cluster_start (cluster_t *cluster, int count, const char *extra);
void cluster_stop (cluster_t *cluster);
//  Kills both daemons of a node at once (a crash).
void cluster_kill (cluster_t *cluster, int index);

//  A call to a node's daemon ("tabled" or "gossipd"); the reply (decref it) or NULL on ERR.
json_t *cluster_call (cluster_t *cluster, int index, const char *daemon, const char *verb, json_t *body);
//  What node `at` has about node `about`: {"row", "member", "tombstone"} (decref it).
json_t *cluster_get (cluster_t *cluster, int at, int about);
//  The running nodes, as a list for loops.
bool cluster_up (cluster_t *cluster, int index);
//  A daemon's log.
char *cluster_log (cluster_t *cluster, int index, const char *daemon);
//  The longest the protocol's default parameters allow from a node's silence to its death
//  declaration, with each timeout stretched by the observers' local health.
int64_t cluster_detection_bound_ms (int health);

#endif

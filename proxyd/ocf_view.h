/*  ocf_view: a loop's in-memory routing view of the node table.
    Fed with the rows, membership updates and tombstones that tabled publishes (and with full
    reloads), it keeps per node what routing needs: liveness, the proxy address, the services
    with their identity groups, readiness, backend address and reported load, plus the row as
    compact JSON for the table views. Updates are merged by (generation, version) and by SWIM
    membership order, so applying them again or late never goes backwards.
    Provider lookups by (service, identity) use an index rebuilt only when the shape of the
    table changes (a service, group, readiness or liveness), not at every load report.
    Sans-I/O: no sockets or timers; one view per loop thread, never shared.  */
#ifndef OCF_VIEW_H
#define OCF_VIEW_H

#include "ocf_identity.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *name;
    char **groups;               //  identity groups, "key=value"
    size_t group_count;
    bool ready;                  //  status "ready" or absent
    char *host;                  //  backend address (meaningful on the node itself)
    int port;
    int64_t inflight;            //  reported by the node's proxyd
    int64_t max_inflight;        //  0: none declared
    int64_t queue_depth;         //  reported by the node's workerd (backend metrics)
    double prefix_hit_rate;      //  its backend's prefix cache, reported by workerd; -1: none
    double recent;               //  requests this loop sent it lately (policy prefix's bound)
} ocf_view_service_t;

typedef struct {
    char id[OCF_NODE_ID_LEN + 1];
    char *name;
    uint64_t generation;
    uint64_t version;
    uint64_t member_generation;  //  the generation the membership below refers to
    uint64_t incarnation;
    int status;                  //  ocf_status_t: alive, suspect, dead, left
    char *proxy_url;             //  addr.proxy, e.g. "http://10.0.0.5:8092"
    char proxy_host[256];        //  parsed from proxy_url ("" when unusable)
    int proxy_port;
    char fabric_host[256];       //  addr.fabric, e.g. "https://10.0.0.5:8093" ("" when absent):
    int fabric_port;             //  its proxyd's mutual-TLS listener, preferred to the proxy
    ocf_view_service_t *services;
    size_t service_count;
    char *row;                   //  the row as received, compact JSON
    int64_t last_alive;          //  ms: when this host last heard from the node (tabled's
                                 //  observation: the row's, then "seen" events); 0: never
    double rtt_ms;               //  round-trip time from this host (tabled's "rtt_ms", then
                                 //  "rtt" events); < 0: not measured
    int64_t inflight;            //  requests this loop has in flight toward this node
    uint64_t shape;              //  hash of what routing depends on
    bool seen;                   //  during a reload: present in the new load
} ocf_view_node_t;

typedef struct {
    ocf_view_node_t *node;
    ocf_view_service_t *service;
} ocf_provider_t;

typedef struct _ocf_view_t ocf_view_t;

ocf_view_t *ocf_view_new (void);
void ocf_view_destroy (ocf_view_t **self_p);

//  This node's id (from tabled's LIST reply).
void ocf_view_set_self (ocf_view_t *self, const char *id);
ocf_view_node_t *ocf_view_self (ocf_view_t *self);
const char *ocf_view_self_id (ocf_view_t *self);

//  Each returns 1 when the view changed, 0 for a stale or unknown update, -1 for a malformed
//  one (error says why).
int ocf_view_apply_row (ocf_view_t *self, json_t *row, char *error, size_t error_size);
int ocf_view_apply_member (ocf_view_t *self, json_t *member, char *error, size_t error_size);
int ocf_view_apply_tombstone (ocf_view_t *self, json_t *tombstone, char *error, size_t error_size);
//  A "seen" event's {id: last_alive ms}: nodes heard from just now. Never goes backwards.
int ocf_view_apply_seen (ocf_view_t *self, json_t *seen, char *error, size_t error_size);
//  An "rtt" event's {id: ms}: round-trip times from this host that changed.
int ocf_view_apply_rtt (ocf_view_t *self, json_t *rtt, char *error, size_t error_size);
//  A full reload: rows applied between begin and end replace the view; nodes not applied in
//  between are dropped at the end.
void ocf_view_reload_begin (ocf_view_t *self);
void ocf_view_reload_end (ocf_view_t *self);

ocf_view_node_t *ocf_view_lookup (ocf_view_t *self, const char *id);
//  By id, or else by name when exactly one node has it.
ocf_view_node_t *ocf_view_find (ocf_view_t *self, const char *id_or_name);
ocf_view_service_t *ocf_view_node_service (ocf_view_node_t *node, const char *name, size_t name_len);
bool ocf_view_node_live (const ocf_view_node_t *node);
//  Whether another host can forward to the node (it has a proxy or fabric address).
bool ocf_view_node_reachable (const ocf_view_node_t *node);

//  Live nodes whose service is ready and carries the identity (any identity when NULL).
//  *providers points into the view: valid until the view next changes.
size_t ocf_view_providers (ocf_view_t *self, const char *service, size_t service_len, const char *identity,
                           const ocf_provider_t **providers);
//  Whether any node of the table (live or not, ready or not) names this service / identity.
bool ocf_view_knows (ocf_view_t *self, const char *service, size_t service_len, const char *identity);
//  Sorted names of every service in the table; sorted values of key=value groups of a service
//  (e.g. the models of "llm"), over live nodes only when live_only.
json_t *ocf_view_service_names (ocf_view_t *self);
json_t *ocf_view_group_values (ocf_view_t *self, const char *service, const char *key, bool live_only);

//  Every node, sorted by id (the array is the caller's to free; the nodes are the view's).
ocf_view_node_t **ocf_view_nodes (ocf_view_t *self, size_t *count);
size_t ocf_view_size (ocf_view_t *self);
size_t ocf_view_live_count (ocf_view_t *self);

#endif

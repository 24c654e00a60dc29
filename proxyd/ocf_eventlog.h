/*  ocf_eventlog: the last changes of the network, for the dashboard: a node joined, became
    suspect, dead or alive again, left, or was removed; a service came up, went down, started
    draining or became ready again. Told by comparing a node of the routing view before and
    after each of tabled's events (the loop that feeds it compares; other loops read). A ring
    of OCF_EVENTLOG_SIZE events with increasing sequence numbers, so that a reader asks only
    for what is newer than what it has; behind a mutex (one writer, readers on any loop).  */
#ifndef OCF_EVENTLOG_H
#define OCF_EVENTLOG_H

#include "ocf_view.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define OCF_EVENTLOG_SIZE 256
#define OCF_EVENTLOG_SERVICES 64     //  services of a node compared (a row holds at most 256)
#define OCF_EVENTLOG_NAME 64         //  names are cut to this

//  What the comparison needs of a node.
typedef struct {
    bool present;
    int status;                  //  ocf_status_t
    char name[OCF_EVENTLOG_NAME];
    size_t service_count;
    struct {
        char name[OCF_EVENTLOG_NAME];
        bool ready;
    } services[OCF_EVENTLOG_SERVICES];
} ocf_eventlog_node_t;

typedef struct _ocf_eventlog_t ocf_eventlog_t;

ocf_eventlog_t *ocf_eventlog_new (void);
void ocf_eventlog_destroy (ocf_eventlog_t **self_p);
//  The node as the view holds it now (NULL: not in the view).
void ocf_eventlog_snapshot (ocf_eventlog_node_t *snapshot, const ocf_view_node_t *node);
//  Records what changed from before to after for node id (wall_ms: the time shown).
void ocf_eventlog_compare (ocf_eventlog_t *self, int64_t wall_ms, const char *id, const ocf_eventlog_node_t *before,
                           const ocf_eventlog_node_t *after);
//  [{"seq", "time" (ms since the epoch), "kind", "node", "name", "service"?}] newer than since,
//  oldest first.
json_t *ocf_eventlog_json (ocf_eventlog_t *self, uint64_t since);
//  The sequence number of the newest event (0: none yet).
uint64_t ocf_eventlog_last (ocf_eventlog_t *self);

#endif

/*  ocf_eventlog: recent changes of the network.  */
#include "ocf_eventlog.h"
#include "ocf_alloc.h"
#include "ocf_record.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t seq;
    int64_t wall_ms;
    const char *kind;            //  a literal
    char id[OCF_NODE_ID_LEN + 1];
    char name[OCF_EVENTLOG_NAME];
    char service[OCF_EVENTLOG_NAME];
} event_t;

struct _ocf_eventlog_t {
    pthread_mutex_t lock;
    uint64_t last;               //  seq of the newest; events[(seq - 1) % SIZE]
    event_t events[OCF_EVENTLOG_SIZE];
};

ocf_eventlog_t *
ocf_eventlog_new (void)
{
    ocf_eventlog_t *self = ocf_calloc (1, sizeof *self);
    pthread_mutex_init (&self->lock, NULL);
    return self;
}

void
ocf_eventlog_destroy (ocf_eventlog_t **self_p)
{
    ocf_eventlog_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

void
ocf_eventlog_snapshot (ocf_eventlog_node_t *snapshot, const ocf_view_node_t *node)
{
    memset (snapshot, 0, sizeof *snapshot);
    if (!node)
        return;
    snapshot->present = true;
    snapshot->status = node->status;
    snprintf (snapshot->name, sizeof snapshot->name, "%s", node->name ? node->name : "");
    for (size_t i = 0; i < node->service_count && i < OCF_EVENTLOG_SERVICES; i++) {
        snprintf (snapshot->services[i].name, sizeof snapshot->services[i].name, "%s", node->services[i].name);
        snapshot->services[i].ready = node->services[i].ready;
        snapshot->service_count++;
    }
}

static void
s_add (ocf_eventlog_t *self, int64_t wall_ms, const char *kind, const char *id, const char *name, const char *service)
{
    pthread_mutex_lock (&self->lock);
    event_t *event = &self->events[self->last % OCF_EVENTLOG_SIZE];
    event->seq = ++self->last;
    event->wall_ms = wall_ms;
    event->kind = kind;
    snprintf (event->id, sizeof event->id, "%s", id);
    snprintf (event->name, sizeof event->name, "%s", name);
    snprintf (event->service, sizeof event->service, "%s", service ? service : "");
    pthread_mutex_unlock (&self->lock);
}

static int
s_find (const ocf_eventlog_node_t *node, const char *service)
{
    for (size_t i = 0; i < node->service_count; i++)
        if (strcmp (node->services[i].name, service) == 0)
            return (int) i;
    return -1;
}

void
ocf_eventlog_compare (ocf_eventlog_t *self, int64_t wall_ms, const char *id, const ocf_eventlog_node_t *before,
                      const ocf_eventlog_node_t *after)
{
    static const char *statuses[] = { "alive", "suspect", "dead", "left" };
    const char *name = after->present ? after->name : before->name;
    if (before->present && !after->present) {
        s_add (self, wall_ms, "removed", id, name, NULL);
        return;                  //  its services with it
    }
    if (!before->present && after->present)
        s_add (self, wall_ms, "joined", id, name, NULL);
    else
    if (before->status != after->status && after->status >= OCF_STATUS_ALIVE && after->status <= OCF_STATUS_LEFT)
        s_add (self, wall_ms, statuses[after->status], id, name, NULL);
    for (size_t i = 0; i < after->service_count; i++) {
        int was = s_find (before, after->services[i].name);
        const char *service = after->services[i].name;
        if (was < 0)
            s_add (self, wall_ms, "service_up", id, name, service);
        else
        if (before->services[was].ready != after->services[i].ready)
            s_add (self, wall_ms, after->services[i].ready ? "service_ready" : "service_draining", id, name, service);
    }
    for (size_t i = 0; i < before->service_count; i++)
        if (s_find (after, before->services[i].name) < 0)
            s_add (self, wall_ms, "service_down", id, name, before->services[i].name);
}

json_t *
ocf_eventlog_json (ocf_eventlog_t *self, uint64_t since)
{
    json_t *events = json_array ();
    pthread_mutex_lock (&self->lock);
    uint64_t first = self->last > OCF_EVENTLOG_SIZE ? self->last - OCF_EVENTLOG_SIZE + 1 : 1;
    if (since + 1 > first)
        first = since + 1;
    for (uint64_t seq = first; seq <= self->last; seq++) {
        event_t *event = &self->events[(seq - 1) % OCF_EVENTLOG_SIZE];
        json_t *item = json_pack ("{s:I, s:I, s:s, s:s, s:s}", "seq", (json_int_t) event->seq,
                                  "time", (json_int_t) event->wall_ms, "kind", event->kind, "node", event->id,
                                  "name", event->name);
        if (*event->service)
            json_object_set_new (item, "service", json_string (event->service));
        json_array_append_new (events, item);
    }
    pthread_mutex_unlock (&self->lock);
    return events;
}

uint64_t
ocf_eventlog_last (ocf_eventlog_t *self)
{
    pthread_mutex_lock (&self->lock);
    uint64_t last = self->last;
    pthread_mutex_unlock (&self->lock);
    return last;
}

/*  sim: the event-driven network and the nodes' surroundings.  */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { EV_DELIVER, EV_TICK, EV_ANSWER, EV_MERGE } event_type_t;

typedef struct {
    int64_t time;
    uint64_t seq;                //  ties broken by creation order: determinism
    event_type_t type;
    uint32_t node;
    uint32_t from;
    uint32_t epoch;
    uint8_t *data;               //  DELIVER: the message; MERGE: items + payloads
    size_t size;
    uint64_t token;              //  ANSWER
    ocf_query_t *query;          //  ANSWER: a copy
} event_t;

struct _sim_t {
    sim_options_t options;
    sim_universe_t *universe;
    sim_base_t *base;            //  the converged start
    sim_base_t *empty;           //  what a joiner starts from
    ocf_members_t *shared_view;
    sim_node_t *nodes;
    size_t size;
    event_t *heap;
    size_t heap_count, heap_cap;
    uint64_t seq;
    int64_t now;
    uint64_t rng;
    bool verbose;
    uint8_t *peers;              //  track_peers: size x size bits, [a][b] set when a and b talked
    size_t *rank;                //  each node's place in a shuffle fixed by the seed (sim_cut_off)
    struct env_arg *args;        //  one per node: what the env callbacks get
    uint32_t *holding;           //  nodes that received at this time: flushed when time moves on
    size_t holding_count;
};

typedef struct env_arg {
    sim_t *sim;
    size_t index;
} env_arg_t;

static uint64_t
s_random (sim_t *self)
{
    uint64_t z = (self->rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double
s_uniform (sim_t *self)
{
    return (double) (s_random (self) >> 11) / (double) (1ULL << 53);
}

//  --------------------------------------------------------------------------
//  Event queue: a binary heap ordered by (time, seq)

static bool
s_before (const event_t *a, const event_t *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static void
s_push (sim_t *self, event_t event)
{
    event.seq = self->seq++;
    if (self->heap_count == self->heap_cap) {
        self->heap_cap = self->heap_cap ? self->heap_cap * 2 : 1024;
        self->heap = realloc (self->heap, self->heap_cap * sizeof *self->heap);
    }
    size_t at = self->heap_count++;
    while (at > 0 && s_before (&event, &self->heap[(at - 1) / 2])) {
        self->heap[at] = self->heap[(at - 1) / 2];
        at = (at - 1) / 2;
    }
    self->heap[at] = event;
}

static event_t
s_pop (sim_t *self)
{
    event_t top = self->heap[0];
    event_t last = self->heap[--self->heap_count];
    size_t at = 0;
    while (true) {
        size_t child = 2 * at + 1;
        if (child >= self->heap_count)
            break;
        if (child + 1 < self->heap_count && s_before (&self->heap[child + 1], &self->heap[child]))
            child++;
        if (!s_before (&self->heap[child], &last))
            break;
        self->heap[at] = self->heap[child];
        at = child;
    }
    if (self->heap_count)
        self->heap[at] = last;
    return top;
}

static void
s_event_free (event_t *event)
{
    free (event->data);
    if (event->query) {
        free ((void *) event->query->buckets);
        free ((void *) event->query->ids);
        free ((void *) event->query->after);
        free (event->query);
    }
}

//  --------------------------------------------------------------------------
//  The env of each core

static void
s_env_send (void *arg, const char *peer, const uint8_t *data, size_t size)
{
    env_arg_t *env = arg;
    sim_t *self = env->sim;
    sim_node_t *node = &self->nodes[env->index];
    node->msgs_out++;
    node->bytes_out += size;
    long target = sim_universe_find (self->universe, peer);
    if (self->peers && target >= 0) {
        size_t a = env->index, b = (size_t) target;
        self->peers[(a * self->size + b) / 8] |= (uint8_t) (1u << ((a * self->size + b) % 8));
        self->peers[(b * self->size + a) / 8] |= (uint8_t) (1u << ((b * self->size + a) % 8));
    }
    if (target < 0 || self->nodes[target].group != node->group || s_uniform (self) < self->options.loss)
        return;
    int64_t span = self->options.delay_max_ms - self->options.delay_min_ms;
    int64_t delay = self->options.delay_min_ms + (span > 0 ? (int64_t) (s_random (self) % (uint64_t) (span + 1)) : 0);
    event_t event = { .time = self->now + node->slow_ms + delay, .type = EV_DELIVER, .node = (uint32_t) target,
                      .from = (uint32_t) env->index, .data = malloc (size ? size : 1), .size = size };
    memcpy (event.data, data, size);
    s_push (self, event);
}

static void
s_env_merge (void *arg, const char *from, const ocf_item_t *items, size_t count)
{
    env_arg_t *env = arg;
    size_t bytes = count * sizeof (ocf_item_t);
    for (size_t i = 0; i < count; i++)
        bytes += items[i].size;
    event_t event = { .time = env->sim->now + env->sim->options.table_delay_ms, .type = EV_MERGE, .node = (uint32_t) env->index,
                      .data = malloc (bytes ? bytes : 1), .size = count };
    ocf_item_t *copies = (ocf_item_t *) event.data;
    uint8_t *payload = event.data + count * sizeof (ocf_item_t);
    for (size_t i = 0; i < count; i++) {
        copies[i] = items[i];
        memcpy (payload, items[i].data, items[i].size);
        copies[i].data = payload;
        payload += items[i].size;
    }
    s_push (env->sim, event);
}

static void
s_env_query (void *arg, uint64_t token, const ocf_query_t *query)
{
    env_arg_t *env = arg;
    ocf_query_t *copy = calloc (1, sizeof *copy);
    *copy = *query;
    if (query->bucket_count) {
        copy->buckets = malloc (query->bucket_count);
        memcpy ((void *) copy->buckets, query->buckets, query->bucket_count);
    }
    if (query->id_count) {
        copy->ids = malloc (query->id_count * OCF_ID_SIZE);
        memcpy ((void *) copy->ids, query->ids, query->id_count * OCF_ID_SIZE);
    }
    if (query->after)
        copy->after = strdup (query->after);
    s_push (env->sim, (event_t) { .time = env->sim->now, .type = EV_ANSWER, .node = (uint32_t) env->index,
                                  .token = token, .query = copy });
}

static void
s_env_log (void *arg, int level, const char *text)
{
    env_arg_t *env = arg;
    if (env->sim->verbose)
        fprintf (stderr, "%8.3f s node %zu: %s\n", env->sim->now / 1000.0, env->index, text);
}

//  --------------------------------------------------------------------------
//  Nodes

static void
s_apply_effects (sim_t *self, size_t index, sim_effects_t *effects)
{
    sim_node_t *node = &self->nodes[index];
    if (!node->core)
        return;
    if (effects->view_replaced)
        ocf_gossip_set_view (node->core, sim_table_view (node->table));
    ocf_gossip_set_root (node->core, sim_table_root (node->table), sim_table_entries (node->table));
    for (size_t i = 0; i < effects->changed_count; i++)
        ocf_gossip_member_changed (node->core, self->now, self->universe->ids[effects->changed[i]]);
    for (size_t i = 0; i < effects->own_count; i++)
        ocf_gossip_local_change (node->core, self->now, &effects->own[i]);
}

static void
s_schedule_tick (sim_t *self, size_t index, int64_t at)
{
    s_push (self, (event_t) { .time = at, .type = EV_TICK, .node = (uint32_t) index, .epoch = self->nodes[index].epoch });
}

//  Starts the protocol core of a node whose table exists.
static void
s_boot (sim_t *self, size_t index)
{
    sim_node_t *node = &self->nodes[index];
    ocf_gossip_env_t env = { .arg = &self->args[index], .send = s_env_send, .merge = s_env_merge, .query = s_env_query,
                             .log = s_env_log };
    node->epoch++;
    uint64_t seed = self->options.seed ^ (index * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t) node->epoch << 48);
    node->core = ocf_gossip_new (self->universe->ids[index], &self->options.config, sim_table_view (node->table), &env,
                                 seed, self->now);
    ocf_gossip_set_root (node->core, sim_table_root (node->table), sim_table_entries (node->table));
    int64_t phase = (int64_t) (s_random (self) % (uint64_t) self->options.config.tick_ms);
    s_schedule_tick (self, index, self->now + phase);
}

static void
s_dispatch (sim_t *self, event_t *event)
{
    sim_node_t *node = &self->nodes[event->node];
    if (!node->core)
        return;                  //  down: whatever reaches it is lost
    if (node->stalled_until > self->now) {
        event_t later = *event;
        later.time = node->stalled_until;
        s_push (self, later);
        event->data = NULL;      //  now the deferred event's
        event->query = NULL;
        return;
    }
    switch (event->type) {
        case EV_DELIVER:
            ocf_gossip_receive (node->core, self->now, self->universe->ids[event->from], event->data, event->size);
            if (!node->holding) {
                node->holding = true;
                self->holding[self->holding_count++] = event->node;
            }
            break;
        case EV_TICK:
            if (event->epoch != node->epoch)
                break;
            ocf_gossip_tick (node->core, self->now);
            s_schedule_tick (self, event->node, self->now + self->options.config.tick_ms);
            if (self->options.stall_rate > 0 && s_uniform (self) < self->options.stall_rate)
                node->stalled_until = self->now + 1 + (int64_t) (s_random (self) % (uint64_t) self->options.stall_max_ms);
            break;
        case EV_ANSWER:
            sim_table_answer (node->table, node->core, self->now, event->token, event->query);
            break;
        case EV_MERGE: {
            sim_effects_t effects = { 0 };
            sim_table_merge (node->table, (ocf_item_t *) event->data, event->size, self->now, &effects);
            s_apply_effects (self, event->node, &effects);
            break;
        }
    }
}

//  --------------------------------------------------------------------------

void
sim_options_defaults (sim_options_t *options)
{
    memset (options, 0, sizeof *options);
    options->seed = 1;
    options->nodes = 16;
    options->delay_min_ms = 1;
    options->delay_max_ms = 3;
    ocf_gossip_config_defaults (&options->config);
}

sim_t *
sim_new (const sim_options_t *options)
{
    sim_t *self = calloc (1, sizeof *self);
    self->options = *options;
    self->rng = options->seed;
    self->verbose = getenv ("SIM_VERBOSE") != NULL;
    self->size = options->nodes + options->spare;
    self->universe = sim_universe_new (self->size, options->seed);
    self->base = sim_base_new (self->universe, options->nodes, options->row_size);
    self->empty = sim_base_new (self->universe, 0, options->row_size);
    if (options->share_view)
        self->shared_view = sim_base_view (self->base);
    self->nodes = calloc (self->size, sizeof *self->nodes);
    if (options->track_peers)
        self->peers = calloc ((self->size * self->size + 7) / 8, 1);
    self->args = calloc (self->size, sizeof *self->args);
    self->holding = calloc (self->size, sizeof *self->holding);
    //  Fisher-Yates on its own random stream, so that the run's stream is the same with or
    //  without scattered splits.
    self->rank = calloc (self->size, sizeof *self->rank);
    size_t *order = calloc (self->size, sizeof *order);
    uint64_t state = options->seed ^ 0x5ca77e2ed5ca77e2ULL;
    for (size_t i = 0; i < self->size; i++)
        order[i] = i;
    for (size_t i = self->size; i > 1; i--) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t j = (size_t) ((state >> 33) % i), swap = order[i - 1];
        order[i - 1] = order[j];
        order[j] = swap;
    }
    for (size_t i = 0; i < self->size; i++)
        self->rank[order[i]] = i;
    free (order);
    for (size_t i = 0; i < self->size; i++)
        self->args[i] = (env_arg_t) { self, i };
    for (size_t i = 0; i < options->nodes; i++) {
        self->nodes[i].table = sim_table_new (self->base, i, self->shared_view);
        s_boot (self, i);
    }
    return self;
}

void
sim_destroy (sim_t **self_p)
{
    sim_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->size; i++) {
        ocf_gossip_destroy (&self->nodes[i].core);
        sim_table_destroy (&self->nodes[i].table);
    }
    while (self->heap_count) {
        event_t event = s_pop (self);
        s_event_free (&event);
    }
    free (self->heap);
    free (self->nodes);
    free (self->peers);
    free (self->rank);
    ocf_members_destroy (&self->shared_view);
    sim_base_destroy (&self->base);
    sim_base_destroy (&self->empty);
    sim_universe_destroy (&self->universe);
    free (self->args);
    free (self->holding);
    free (self);
    *self_p = NULL;
}

int64_t sim_now (sim_t *self) { return self->now; }
size_t sim_size (sim_t *self) { return self->size; }
sim_node_t *sim_node (sim_t *self, size_t index) { return &self->nodes[index]; }
bool sim_up (sim_t *self, size_t index) { return self->nodes[index].core != NULL; }

sim_entry_t
sim_entry (sim_t *self, size_t at, size_t about)
{
    return sim_table_get (self->nodes[at].table, about);
}

//  A node handles whatever reached it at one time as one burst, as a daemon drains its
//  sockets: what it passes on leaves when time moves on.
static void
s_flush_held (sim_t *self)
{
    for (size_t i = 0; i < self->holding_count; i++) {
        sim_node_t *node = &self->nodes[self->holding[i]];
        node->holding = false;
        if (node->core)
            ocf_gossip_flush (node->core);
    }
    self->holding_count = 0;
}

void
sim_run (sim_t *self, int64_t until)
{
    while (self->heap_count && self->heap[0].time <= until) {
        event_t event = s_pop (self);
        if (event.time > self->now)
            s_flush_held (self);
        self->now = event.time;
        s_dispatch (self, &event);
        s_event_free (&event);
    }
    s_flush_held (self);
    if (until > self->now)
        self->now = until;
}

bool
sim_run_until (sim_t *self, int64_t deadline, int64_t check_ms, bool (*cond) (sim_t *sim, void *arg), void *arg)
{
    while (!cond (self, arg)) {
        if (self->now >= deadline)
            return false;
        int64_t next = self->now + check_ms;
        sim_run (self, next < deadline ? next : deadline);
    }
    return true;
}

bool
sim_cut_off (sim_t *self, const sim_split_t *split, size_t index)
{
    return (split->scattered ? self->rank[index] : index) < split->cut;
}

void
sim_set_split (sim_t *self, const sim_split_t *split, bool apart)
{
    for (size_t i = 0; i < self->size; i++)
        sim_set_group (self, i, apart && sim_cut_off (self, split, i) ? 1 : 0);
}

size_t
sim_peers (sim_t *self, size_t index)
{
    size_t count = 0;
    for (size_t b = 0; self->peers && b < self->size; b++)
        count += (self->peers[(index * self->size + b) / 8] >> ((index * self->size + b) % 8)) & 1;
    return count;
}

void
sim_peers_reset (sim_t *self)
{
    if (self->peers)
        memset (self->peers, 0, (self->size * self->size + 7) / 8);
}

bool
sim_all_same_root (sim_t *sim, void *arg)
{
    (void) arg;
    long first = -1;
    for (size_t i = 0; i < sim_size (sim); i++) {
        if (!sim_up (sim, i))
            continue;
        if (first < 0)
            first = (long) i;
        else
        if (sim_table_root (sim_node (sim, i)->table) != sim_table_root (sim_node (sim, (size_t) first)->table))
            return false;
    }
    return true;
}

bool
sim_all_alive_and_same (sim_t *sim, void *arg)
{
    for (size_t i = 0; i < sim_size (sim); i++)
        for (size_t j = 0; j < sim_size (sim); j++)
            if (sim_up (sim, i) && sim_up (sim, j) && sim_entry (sim, i, j).status != OCF_STATUS_ALIVE)
                return false;
    return sim_all_same_root (sim, arg);
}

static int
s_compare_int64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

void
sim_sort_int64 (int64_t *values, size_t count)
{
    qsort (values, count, sizeof *values, s_compare_int64);
}

void
sim_touch (sim_t *self, size_t index)
{
    sim_effects_t effects = { 0 };
    sim_table_touch (self->nodes[index].table, &effects);
    s_apply_effects (self, index, &effects);
}

void
sim_crash (sim_t *self, size_t index)
{
    ocf_gossip_destroy (&self->nodes[index].core);
}

void
sim_restart (sim_t *self, size_t index)
{
    sim_node_t *node = &self->nodes[index];
    ocf_gossip_destroy (&node->core);
    s_boot (self, index);
    sim_effects_t effects = { 0 };
    sim_table_renew (node->table, &effects);
    s_apply_effects (self, index, &effects);
}

void
sim_leave (sim_t *self, size_t index)
{
    sim_node_t *node = &self->nodes[index];
    sim_effects_t effects = { 0 };
    sim_table_leave (node->table, self->now, &effects);
    if (node->core && effects.own_count)
        ocf_gossip_leave (node->core, self->now, &effects.own[0]);
    ocf_gossip_destroy (&node->core);
}

void
sim_join (sim_t *self, size_t index, size_t seed)
{
    sim_node_t *node = &self->nodes[index];
    if (!node->table)
        node->table = sim_table_new (self->empty, index, NULL);
    s_boot (self, index);
    sim_effects_t effects = { 0 };
    sim_table_renew (node->table, &effects);
    s_apply_effects (self, index, &effects);
    char seeds[1][OCF_ID_SIZE];
    memcpy (seeds[0], self->universe->ids[seed], OCF_ID_SIZE);
    ocf_gossip_join (node->core, self->now, (const char (*)[OCF_ID_SIZE]) seeds, 1);
}

void
sim_set_group (sim_t *self, size_t index, int group)
{
    self->nodes[index].group = group;
}

void
sim_set_slow (sim_t *self, size_t index, int64_t extra_ms)
{
    self->nodes[index].slow_ms = extra_ms;
}

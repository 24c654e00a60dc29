/*  ocf_seeds: the seeds to join through, and the key introducer.  */
#include "ocf_seeds.h"
#include "ocf_alloc.h"
#include "ocf_introducer.h"
#include "ocf_log.h"
#include "ocf_time.h"
#include "ocf_zreader.h"

#define MAX_SEEDS 16

struct _ocf_seeds_t {
    char self_id[OCF_ID_SIZE];
    ocf_gossip_t *core;
    ocf_transport_t *transport;
    ocf_members_t *view;
    zloop_t *loop;
    ocf_zreader_t *server_reader;    //  the introducer's
    ocf_introducer_t *introducer;
    char introducer_endpoint[300];
    char seeds[MAX_SEEDS][OCF_ID_SIZE];
    size_t seed_count;
    bool ready;
    bool join_started;
};

static void
s_maybe_join (ocf_seeds_t *self)
{
    if (self->join_started || !self->ready || !self->seed_count)
        return;
    self->join_started = true;
    //  A node that knows live members already (a restart) catches up by anti-entropy; an
    //  empty one pulls a snapshot first.
    if (ocf_members_live (self->view) <= 1) {
        ocf_log_info ("joining through %zu seed(s)", self->seed_count);
        ocf_gossip_join (self->core, ocf_time_mono_ms (), (const char (*)[OCF_ID_SIZE]) self->seeds, self->seed_count);
    }
}

static void
s_seed_found (void *arg, const char *id, const char *endpoint)
{
    ocf_seeds_t *self = arg;
    if (strcmp (id, self->self_id) == 0 || self->seed_count >= MAX_SEEDS)
        return;
    for (size_t i = 0; i < self->seed_count; i++)
        if (strcmp (self->seeds[i], id) == 0)
            return;
    ocf_transport_set_endpoint (self->transport, id, endpoint);
    memcpy (self->seeds[self->seed_count++], id, OCF_ID_SIZE);
    s_maybe_join (self);
}

static bool
s_seed_check (void *arg, const char *id)
{
    ocf_seeds_t *self = arg;
    return ocf_transport_authorized (self->transport, id);
}

static int
s_on_answer (zloop_t *loop, zsock_t *sock, void *arg)
{
    ocf_seeds_t *self = arg;
    ocf_introducer_on_answer (self->introducer, sock);
    return 0;
}

static int
s_on_introducer (zloop_t *loop, zsock_t *sock, void *arg)
{
    ocf_seeds_t *self = arg;
    ocf_introducer_on_server (self->introducer);
    return 0;
}

static void
s_resolve (ocf_seeds_t *self, const char *seeds)
{
    char *copy = ocf_strdup (seeds), *saveptr = NULL;
    for (char *seed = strtok_r (copy, ", \t", &saveptr); seed; seed = strtok_r (NULL, ", \t", &saveptr)) {
        char key[OCF_NODE_ID_LEN + 1], host[256], endpoint[300];
        int port;
        if (ocf_gossipd_config_parse_seed (seed, key, host, sizeof host, &port) != 0)
            continue;                //  --check-config rejected it already
        ocf_transport_endpoint (host, port, endpoint, sizeof endpoint);
        if (*key)
            s_seed_found (self, key, endpoint);
        else
            zloop_reader (self->loop, ocf_introducer_ask (self->introducer, host, port), s_on_answer, self);
    }
    free (copy);
}

ocf_seeds_t *
ocf_seeds_new (const ocf_gossipd_config_t *config, const char *state_dir, const char *self_id,
               ocf_gossip_t *core, ocf_transport_t *transport, ocf_members_t *view, zloop_t *loop,
               char *error, size_t error_size)
{
    ocf_seeds_t *self = ocf_calloc (1, sizeof *self);
    snprintf (self->self_id, sizeof self->self_id, "%s", self_id);
    self->core = core;
    self->transport = transport;
    self->view = view;
    self->loop = loop;
    //  Served by default on the gossip port + 1.
    char host[256];
    int port;
    const char *where = *config->introducer ? config->introducer : config->bind;
    if (strcmp (config->introducer, "off") != 0 && ocf_config_parse_hostport (where, host, sizeof host, &port) == 0)
        ocf_transport_endpoint (host, port + (*config->introducer ? 0 : 1), self->introducer_endpoint,
                                sizeof self->introducer_endpoint);
    self->introducer = ocf_introducer_new (self_id, *self->introducer_endpoint ? self->introducer_endpoint : NULL,
                                           state_dir, s_seed_found, s_seed_check, self, error, error_size);
    if (!self->introducer) {
        free (self);
        return NULL;
    }
    if (ocf_introducer_server (self->introducer))
        self->server_reader = ocf_zreader_new (loop, ocf_introducer_server (self->introducer), s_on_introducer, self);
    s_resolve (self, config->seeds);
    return self;
}

void
ocf_seeds_destroy (ocf_seeds_t **self_p)
{
    ocf_seeds_t *self = *self_p;
    if (!self)
        return;
    ocf_zreader_destroy (&self->server_reader);
    ocf_introducer_destroy (&self->introducer);
    free (self);
    *self_p = NULL;
}

const char *
ocf_seeds_introducer (ocf_seeds_t *self)
{
    return self->introducer_endpoint;
}

void
ocf_seeds_ready (ocf_seeds_t *self)
{
    self->ready = true;
    s_maybe_join (self);
}

void
ocf_seeds_tick (ocf_seeds_t *self)
{
    ocf_introducer_tick (self->introducer);
}

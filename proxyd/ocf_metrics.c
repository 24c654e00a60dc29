/*  ocf_metrics: proxyd's counters.  */
#include "ocf_metrics.h"
#include "ocf_alloc.h"
#include "ocf_identity.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STATUS_MAX 600

static const double s_bounds[] = { 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                   0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300 };
#define BUCKETS (sizeof s_bounds / sizeof s_bounds[0])

typedef struct {
    uint64_t buckets[BUCKETS + 1];   //  the last one is +Inf; counts are per bucket, summed when rendered
    uint64_t sum_us;
    uint64_t count;
} histogram_t;

static const char *s_attempt_names[OCF_ATTEMPT_COUNT] = {
    "ok", "connect_failed", "stale_connection", "failed", "timeout", "status_502", "status_503", "body_failed"
};

static const char *s_handshake_names[OCF_FABRIC_HANDSHAKE_COUNT] = { "ok", "refused", "failed", "timeout" };

#define POLICIES (OCF_POLICY_PREFIX + 1)

//  A provider's counters; its id is written once, before count publishes it.
typedef struct {
    uint64_t hash;
    char id[OCF_NODE_ID_LEN + 1];
    uint64_t chosen[OCF_CHOICE_COUNT];
} provider_t;

struct _ocf_metrics_t {
    const ocf_routetable_t *routes;
    uint64_t requests[OCF_ROUTES_MAX][STATUS_MAX];
    uint64_t attempts[OCF_ATTEMPT_COUNT];
    uint64_t retries;
    uint64_t stream_events;
    uint64_t fabric_handshakes[OCF_FABRIC_HANDSHAKE_COUNT];
    uint64_t fabric_requests;
    uint64_t fabric_accept_waits;
    int64_t inflight;
    histogram_t duration;
    histogram_t first_byte;
    ocf_pools_stats_t pools;
    uint64_t choices[POLICIES][OCF_CHOICE_COUNT];
    pthread_mutex_t naming;      //  taken only to add a provider
    size_t provider_count;       //  published with release order after the id is written
    provider_t providers[OCF_METRICS_PROVIDERS + 1];  //  the last one: "other"
};

#define ADD(field, n) __atomic_add_fetch (&(field), (n), __ATOMIC_RELAXED)
#define GET(field) __atomic_load_n (&(field), __ATOMIC_RELAXED)

ocf_metrics_t *
ocf_metrics_new (const ocf_routetable_t *routes)
{
    ocf_metrics_t *self = ocf_calloc (1, sizeof (ocf_metrics_t));
    self->routes = routes;
    pthread_mutex_init (&self->naming, NULL);
    snprintf (self->providers[OCF_METRICS_PROVIDERS].id, sizeof self->providers[0].id, "other");
    return self;
}

void
ocf_metrics_destroy (ocf_metrics_t **self_p)
{
    if (*self_p)
        pthread_mutex_destroy (&(*self_p)->naming);
    free (*self_p);
    *self_p = NULL;
}

static void
s_observe (histogram_t *histogram, uint64_t us)
{
    size_t bucket = 0;
    while (bucket < BUCKETS && (double) us > s_bounds[bucket] * 1e6)
        bucket++;
    ADD (histogram->buckets[bucket], 1);
    ADD (histogram->sum_us, us);
    ADD (histogram->count, 1);
}

void
ocf_metrics_request_begin (ocf_metrics_t *self)
{
    ADD (self->inflight, 1);
}

void
ocf_metrics_request_end (ocf_metrics_t *self, int route, int status, uint64_t duration_us)
{
    ADD (self->inflight, -1);
    if (route >= 0 && route < OCF_ROUTES_MAX && status > 0 && status < STATUS_MAX)
        ADD (self->requests[route][status], 1);
    s_observe (&self->duration, duration_us);
}

void
ocf_metrics_first_byte (ocf_metrics_t *self, uint64_t duration_us)
{
    s_observe (&self->first_byte, duration_us);
}

void
ocf_metrics_attempt (ocf_metrics_t *self, ocf_attempt_t outcome)
{
    if (outcome < OCF_ATTEMPT_COUNT)
        ADD (self->attempts[outcome], 1);
}

void
ocf_metrics_retry (ocf_metrics_t *self)
{
    ADD (self->retries, 1);
}

static provider_t *
s_find_provider (ocf_metrics_t *self, uint64_t hash, const char *id, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (self->providers[i].hash == hash && strcmp (self->providers[i].id, id) == 0)
            return &self->providers[i];
    return NULL;
}

void
ocf_metrics_choice (ocf_metrics_t *self, ocf_policy_t policy, ocf_choice_t how, const char *node_id)
{
    if ((int) policy < 0 || policy >= POLICIES || how >= OCF_CHOICE_COUNT)
        return;
    ADD (self->choices[policy][how], 1);
    uint64_t hash = ocf_choose_id_hash (node_id);
    provider_t *provider = s_find_provider (self, hash, node_id, __atomic_load_n (&self->provider_count, __ATOMIC_ACQUIRE));
    if (!provider) {
        pthread_mutex_lock (&self->naming);
        provider = s_find_provider (self, hash, node_id, self->provider_count);
        if (!provider && self->provider_count < OCF_METRICS_PROVIDERS) {
            provider = &self->providers[self->provider_count];
            provider->hash = hash;
            snprintf (provider->id, sizeof provider->id, "%s", node_id);
            __atomic_store_n (&self->provider_count, self->provider_count + 1, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock (&self->naming);
        if (!provider)
            provider = &self->providers[OCF_METRICS_PROVIDERS];
    }
    ADD (provider->chosen[how], 1);
}

void
ocf_metrics_stream_events (ocf_metrics_t *self, uint64_t count)
{
    ADD (self->stream_events, count);
}

void
ocf_metrics_fabric_handshake (ocf_metrics_t *self, ocf_fabric_handshake_t result)
{
    ADD (self->fabric_handshakes[result], 1);
}

void
ocf_metrics_fabric_request (ocf_metrics_t *self)
{
    ADD (self->fabric_requests, 1);
}

void
ocf_metrics_fabric_accept_wait (ocf_metrics_t *self)
{
    ADD (self->fabric_accept_waits, 1);
}

int64_t
ocf_metrics_inflight (ocf_metrics_t *self)
{
    return GET (self->inflight);
}

uint64_t
ocf_metrics_requests (ocf_metrics_t *self)
{
    uint64_t total = 0;
    for (int route = 0; route < self->routes->count; route++)
        for (int status = 0; status < STATUS_MAX; status++)
            total += GET (self->requests[route][status]);
    return total;
}

ocf_pools_stats_t *
ocf_metrics_pools (ocf_metrics_t *self)
{
    return &self->pools;
}

static void
s_histogram (ocf_promtext_t *page, const char *name, const char *help, histogram_t *histogram)
{
    ocf_promtext_family (page, name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= BUCKETS; i++) {
        cumulative += GET (histogram->buckets[i]);
        char bound[32];
        if (i < BUCKETS)
            snprintf (bound, sizeof bound, "%g", s_bounds[i]);
        else
            snprintf (bound, sizeof bound, "+Inf");
        const char *labels[] = { "le", bound, NULL };
        ocf_promtext_sample (page, name, "_bucket", (double) cumulative, labels);
    }
    ocf_promtext_sample (page, name, "_sum", (double) GET (histogram->sum_us) / 1e6, NULL);
    ocf_promtext_sample (page, name, "_count", (double) cumulative, NULL);
}

static void
s_counter (ocf_promtext_t *page, const char *name, const char *help, uint64_t value)
{
    ocf_promtext_family (page, name, "counter", help);
    ocf_promtext_sample (page, name, "", (double) value, NULL);
}

void
ocf_metrics_render (ocf_metrics_t *self, ocf_promtext_t *page)
{
    const char *requests = "ocf_proxyd_requests_total";
    ocf_promtext_family (page, requests, "counter", "HTTP requests answered, by route and status code");
    for (int route = 0; route < self->routes->count; route++)
        for (int status = 100; status < STATUS_MAX; status++) {
            uint64_t count = GET (self->requests[route][status]);
            if (!count)
                continue;
            char code[8];
            snprintf (code, sizeof code, "%d", status);
            const char *labels[] = { "route", ocf_routetable_name (self->routes, route), "code", code, NULL };
            ocf_promtext_sample (page, requests, "", (double) count, labels);
        }
    const char *attempts = "ocf_proxyd_upstream_attempts_total";
    ocf_promtext_family (page, attempts, "counter", "Requests sent upstream, by outcome");
    for (int outcome = 0; outcome < OCF_ATTEMPT_COUNT; outcome++) {
        const char *labels[] = { "outcome", s_attempt_names[outcome], NULL };
        ocf_promtext_sample (page, attempts, "", (double) GET (self->attempts[outcome]), labels);
    }
    s_counter (page, "ocf_proxyd_upstream_retries_total", "Requests sent again to another provider (or connection)",
               GET (self->retries));
    const char *choices = "ocf_proxyd_choices_total";
    ocf_promtext_family (page, choices, "counter",
                         "Providers chosen for an attempt, by policy and how: local (this host), balanced (by load or in turn), "
                         "affinity (prefix: the key's first), spilled (prefix: a later one)");
    for (int policy = 0; policy < POLICIES; policy++)
        for (int how = 0; how < OCF_CHOICE_COUNT; how++) {
            uint64_t count = GET (self->choices[policy][how]);
            const char *labels[] = { "policy", ocf_policy_name ((ocf_policy_t) policy), "how", ocf_choice_name ((ocf_choice_t) how), NULL };
            if (count)
                ocf_promtext_sample (page, choices, "", (double) count, labels);
        }
    const char *chosen = "ocf_proxyd_provider_choices_total";
    ocf_promtext_family (page, chosen, "counter", "Times each provider (node id) was chosen for an attempt, by how");
    size_t providers = __atomic_load_n (&self->provider_count, __ATOMIC_ACQUIRE);
    for (size_t i = 0; i <= OCF_METRICS_PROVIDERS; i++) {
        if (i == providers)
            i = OCF_METRICS_PROVIDERS;
        for (int how = 0; how < OCF_CHOICE_COUNT; how++) {
            uint64_t count = GET (self->providers[i].chosen[how]);
            const char *labels[] = { "node", self->providers[i].id, "how", ocf_choice_name ((ocf_choice_t) how), NULL };
            if (count)
                ocf_promtext_sample (page, chosen, "", (double) count, labels);
        }
    }
    s_counter (page, "ocf_proxyd_stream_events_total", "Server-sent events relayed to clients", GET (self->stream_events));
    s_counter (page, "ocf_proxyd_upstream_connections_total", "Upstream connections opened", GET (self->pools.connects));
    s_counter (page, "ocf_proxyd_upstream_connect_failures_total", "Upstream connections that could not be opened",
               GET (self->pools.connect_failures));
    s_counter (page, "ocf_proxyd_upstream_reuses_total", "Requests sent on a kept-alive upstream connection",
               GET (self->pools.reuses));
    const char *handshakes = "ocf_proxyd_fabric_handshakes_total";
    ocf_promtext_family (page, handshakes, "counter", "TLS handshakes of other hosts on the fabric listener, by result");
    for (int result = 0; result < OCF_FABRIC_HANDSHAKE_COUNT; result++) {
        const char *labels[] = { "result", s_handshake_names[result], NULL };
        ocf_promtext_sample (page, handshakes, "", (double) GET (self->fabric_handshakes[result]), labels);
    }
    const char *client = "ocf_proxyd_fabric_client_handshakes_total";
    ocf_promtext_family (page, client, "counter", "TLS handshakes with other hosts' fabric listeners, full or resumed");
    const char *full[] = { "session", "full", NULL }, *resumed[] = { "session", "resumed", NULL };
    ocf_promtext_sample (page, client, "", (double) GET (self->pools.tls_full), full);
    ocf_promtext_sample (page, client, "", (double) GET (self->pools.tls_resumed), resumed);
    s_counter (page, "ocf_proxyd_fabric_requests_total", "Requests from other hosts through the fabric listener",
               GET (self->fabric_requests));
    s_counter (page, "ocf_proxyd_fabric_accept_waits_total",
               "Times the fabric listener left new connections in the backlog: as many handshakes under way as it runs at once",
               GET (self->fabric_accept_waits));
    ocf_promtext_family (page, "ocf_proxyd_upstream_connections", "gauge", "Upstream connections now, by state");
    const char *idle[] = { "state", "idle", NULL }, *active[] = { "state", "active", NULL };
    ocf_promtext_sample (page, "ocf_proxyd_upstream_connections", "", (double) GET (self->pools.idle), idle);
    ocf_promtext_sample (page, "ocf_proxyd_upstream_connections", "", (double) GET (self->pools.active), active);
    ocf_promtext_family (page, "ocf_proxyd_inflight_requests", "gauge", "Requests being answered now");
    ocf_promtext_sample (page, "ocf_proxyd_inflight_requests", "", (double) GET (self->inflight), NULL);
    s_histogram (page, "ocf_proxyd_request_duration_seconds", "Time from a request to the end of its response",
                 &self->duration);
    s_histogram (page, "ocf_proxyd_upstream_first_byte_seconds", "Time from a request to the upstream's response head",
                 &self->first_byte);
}

json_t *
ocf_metrics_json (ocf_metrics_t *self)
{
    json_t *attempts = json_object ();
    for (int outcome = 0; outcome < OCF_ATTEMPT_COUNT; outcome++)
        json_object_set_new (attempts, s_attempt_names[outcome], json_integer ((json_int_t) GET (self->attempts[outcome])));
    json_t *handshakes = json_object ();
    for (int result = 0; result < OCF_FABRIC_HANDSHAKE_COUNT; result++)
        json_object_set_new (handshakes, s_handshake_names[result], json_integer ((json_int_t) GET (self->fabric_handshakes[result])));
    return json_pack ("{s:I, s:I, s:I, s:I, s:o, s:{s:o, s:I, s:I, s:I, s:I}, s:{s:I, s:I, s:I, s:I, s:I, s:I}}",
                      "requests", (json_int_t) ocf_metrics_requests (self),
                      "inflight", (json_int_t) GET (self->inflight),
                      "retries", (json_int_t) GET (self->retries),
                      "stream_events", (json_int_t) GET (self->stream_events),
                      "attempts", attempts,
                      "fabric", "handshakes", handshakes, "requests", (json_int_t) GET (self->fabric_requests),
                      "accept_waits", (json_int_t) GET (self->fabric_accept_waits),
                      "client_full", (json_int_t) GET (self->pools.tls_full),
                      "client_resumed", (json_int_t) GET (self->pools.tls_resumed),
                      "upstream", "connects", (json_int_t) GET (self->pools.connects),
                      "connect_failures", (json_int_t) GET (self->pools.connect_failures),
                      "reuses", (json_int_t) GET (self->pools.reuses), "stale", (json_int_t) GET (self->pools.stale),
                      "idle", (json_int_t) GET (self->pools.idle), "active", (json_int_t) GET (self->pools.active));
}

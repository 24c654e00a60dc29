/*  ocf_metrics: proxyd's own counters and histograms, shared by every loop.
    Atomic counters (relaxed: each is independent; no lock on the request path): requests by
    route and status, upstream attempts by outcome, retries, in-flight requests, server-sent
    events relayed, provider choices by policy and how they were made, and by provider (the
    first OCF_METRICS_PROVIDERS node ids seen; later ones are counted under node "other"),
    the fabric listener's handshakes and requests, request durations and upstream first-byte times as histograms, upstream
    connection counts. Rendered into an ocf_promtext page for /metrics and as JSON for the
    STATS verb of proxyd.api.  */
#ifndef OCF_METRICS_H
#define OCF_METRICS_H

#include "ocf_choose.h"
#include "ocf_promtext.h"
#include "ocf_request.h"
#include "ocf_upstream.h"

#include <jansson.h>
#include <stdint.h>

typedef enum {
    OCF_ATTEMPT_OK = 0,          //  the response was relayed
    OCF_ATTEMPT_CONNECT_FAILED,
    OCF_ATTEMPT_STALE,           //  kept-alive connection closed by the upstream: resent
    OCF_ATTEMPT_FAILED,          //  I/O error or malformed response before the head
    OCF_ATTEMPT_TIMEOUT,         //  no head before the first-byte deadline
    OCF_ATTEMPT_STATUS_502,      //  the upstream answered 502 and another provider was tried
    OCF_ATTEMPT_STATUS_503,
    OCF_ATTEMPT_BODY_FAILED,     //  the stream broke after the head
    OCF_ATTEMPT_COUNT
} ocf_attempt_t;

//  How a TLS handshake on the fabric listener ended.
typedef enum {
    OCF_FABRIC_HANDSHAKE_OK = 0,
    OCF_FABRIC_HANDSHAKE_REFUSED,    //  the peer's key is not a live (authorized) member's
    OCF_FABRIC_HANDSHAKE_FAILED,     //  anything else: not TLS, no certificate, the peer left
    OCF_FABRIC_HANDSHAKE_TIMEOUT,    //  not done within [proxyd] fabric_handshake_timeout
    OCF_FABRIC_HANDSHAKE_COUNT
} ocf_fabric_handshake_t;

#define OCF_METRICS_PROVIDERS 256

typedef struct _ocf_metrics_t ocf_metrics_t;

//  routes: the server's route table (its names label the requests), kept.
ocf_metrics_t *ocf_metrics_new (const ocf_routetable_t *routes);
void ocf_metrics_destroy (ocf_metrics_t **self_p);

void ocf_metrics_request_begin (ocf_metrics_t *self);
//  route: the index of the route in the table (0: none matched).
void ocf_metrics_request_end (ocf_metrics_t *self, int route, int status, uint64_t duration_us);
void ocf_metrics_first_byte (ocf_metrics_t *self, uint64_t duration_us);
void ocf_metrics_attempt (ocf_metrics_t *self, ocf_attempt_t outcome);
void ocf_metrics_retry (ocf_metrics_t *self);
//  A provider chosen (node_id) for an attempt, by policy, and how (ocf_chooser_t.last).
void ocf_metrics_choice (ocf_metrics_t *self, ocf_policy_t policy, ocf_choice_t how, const char *node_id);
void ocf_metrics_stream_events (ocf_metrics_t *self, uint64_t count);
void ocf_metrics_fabric_handshake (ocf_metrics_t *self, ocf_fabric_handshake_t result);
//  A request that came through the fabric listener (from another host).
void ocf_metrics_fabric_request (ocf_metrics_t *self);
//  The fabric listener stopped accepting for a while: as many handshakes as it runs at once.
void ocf_metrics_fabric_accept_wait (ocf_metrics_t *self);
int64_t ocf_metrics_inflight (ocf_metrics_t *self);
uint64_t ocf_metrics_requests (ocf_metrics_t *self);
//  The upstream connection counters, updated atomically by every loop's pools.
ocf_pools_stats_t *ocf_metrics_pools (ocf_metrics_t *self);

//  Adds proxyd's families to a page.
void ocf_metrics_render (ocf_metrics_t *self, ocf_promtext_t *page);
//  The same counters as a JSON object (for STATS).
json_t *ocf_metrics_json (ocf_metrics_t *self);

#endif

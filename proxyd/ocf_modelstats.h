/*  ocf_modelstats: per model, what this proxyd routed over the last minute, for the dashboard:
    requests in flight, requests and errors (answered 5xx, or a stream cut after its head)
    per second, and the time to the first byte of the response body (a stream's first token)
    as p50 and p99. A fixed table of OCF_MODELSTATS_MODELS models (later ones are not counted),
    each with a ring of one-second buckets holding a log-scale histogram: memory is bounded
    (about 400 KiB) whatever the traffic. Shared by every loop behind one mutex, taken twice per
    routed request. Sans-I/O: the caller gives the time.  */
#ifndef OCF_MODELSTATS_H
#define OCF_MODELSTATS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define OCF_MODELSTATS_MODELS 32
#define OCF_MODELSTATS_WINDOW_S 60

typedef struct _ocf_modelstats_t ocf_modelstats_t;

ocf_modelstats_t *ocf_modelstats_new (void);
void ocf_modelstats_destroy (ocf_modelstats_t **self_p);
//  A request for the model starts (now: monotonic ms). Returns its slot, -1 when the table is
//  full or the name too long.
int ocf_modelstats_begin (ocf_modelstats_t *self, const char *model, int64_t now_ms);
//  It ended with the status answered (0: the client left first; >= 500 or broken: an error);
//  first_byte_us: from the request to the first body byte, -1 when none came.
void ocf_modelstats_end (ocf_modelstats_t *self, int slot, int64_t now_ms, int status, bool broken,
                         int64_t first_byte_us);
//  {model: {"inflight", "requests", "requests_per_s", "error_rate", "ttft_p50_ms", "ttft_p99_ms"}}
//  over the window that ends now; the rate and the percentiles are null without requests.
json_t *ocf_modelstats_json (ocf_modelstats_t *self, int64_t now_ms);

#endif

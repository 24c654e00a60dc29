/*  ocf_inflight: asks this host's proxyd how many requests it has in flight to each local
    backend, by address (STATS on run_dir/proxyd.api, its "backend_inflight": {"host:port": n},
    which tells the old and the new backend of a swap apart). proxyd carries the last hop
    to every backend of this host, for its own clients and other hosts' alike, and counts a
    request until the backend's response has ended, streams included: the one place that
    knows when a draining backend is idle, whatever the backend is (its own metrics differ
    from one server to the next, and count only what reached it). One question at a time on
    a DEALER socket polled by the loop, with a reply timeout: it never blocks the loop.  */
#ifndef OCF_INFLIGHT_H
#define OCF_INFLIGHT_H

#include <czmq.h>
#include <jansson.h>
#include <stdint.h>

typedef struct _ocf_inflight_t ocf_inflight_t;

//  The answer: counts is {"host:port": n, ...} (borrowed for the call), or NULL with error.
typedef void (ocf_inflight_fn) (json_t *counts, const char *error, void *arg);

ocf_inflight_t *ocf_inflight_new (zloop_t *loop, const char *endpoint, int64_t timeout_ms, ocf_inflight_fn *fn, void *arg);
void ocf_inflight_destroy (ocf_inflight_t **self_p);
//  Asks, unless a question is out already (its answer serves this one too). Returns -1 with
//  error set when it cannot be asked at all (proxyd is not running): no answer follows then.
int ocf_inflight_ask (ocf_inflight_t *self, char *error, size_t error_size);

#endif

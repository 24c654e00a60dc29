/*  ocf_fetch: non-blocking HTTP GETs to local backends, inside workerd's zloop.
    libcurl's multi_socket interface tells which sockets to watch and when to time out;
    those become zloop pollers and one one-shot zloop timer, so health checks, model lists
    and metrics scrapes of every backend run concurrently without ever blocking the loop.
    Connections are kept alive and reused between requests. Proxies from the environment
    (http_proxy...) are ignored: backends are reached directly.  */
#ifndef OCF_FETCH_H
#define OCF_FETCH_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int status;                  //  HTTP status, 0 when no response came
    bool refused;                //  the connection was refused: nothing listens there
    const char *body;            //  NUL-terminated; empty when no response
    size_t size;
    int64_t latency_us;
    const char *error;           //  NULL when a response came (whatever its status)
} ocf_fetch_result_t;

//  Called once per request, from the loop. The result is valid during the call only.
typedef void (ocf_fetch_fn) (const ocf_fetch_result_t *result, void *arg, uint64_t tag);

typedef struct _ocf_fetch_t ocf_fetch_t;

ocf_fetch_t *ocf_fetch_new (zloop_t *loop);
//  Drops requests in flight without calling their callbacks.
void ocf_fetch_destroy (ocf_fetch_t **self_p);
//  Starts GET url. The response body is limited to max_body bytes (larger fails). Returns
//  0, or -1 when the request cannot even start (then fn is not called).
int ocf_fetch_get (ocf_fetch_t *self, const char *url, int64_t timeout_ms, size_t max_body, ocf_fetch_fn *fn, void *arg,
                   uint64_t tag);

#endif

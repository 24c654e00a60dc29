/*  ocf_forward: relays one request to an upstream and its response back, as it streams.
    The request goes out with hop-by-hop headers removed and X-Forwarded-For and X-Request-Id
    set (an id the client sent is kept); the response comes back unbuffered: every piece read
    from the upstream is written to the client at once (server-sent events arrive one by
    one), with backpressure when the client reads slower than the upstream writes.
    Where the request goes is the router's business (see ocf_routes): the forward asks it for
    a target, and for another one when connecting fails, the upstream fails before
    answering, or it answers 502 or 503, until max_attempts; never once a response byte has
    reached the client. A kept-alive connection the upstream had closed is retried on the
    same target. A client that goes away, even before the response starts, cancels the
    upstream request. Failures are answered in OpenAI's error shape: 503 with Retry-After
    when no provider could be reached, 502 when the upstream failed, 504 when it did not
    answer in time.  */
#ifndef OCF_FORWARD_H
#define OCF_FORWARD_H

#include "ocf_upstream.h"
#include "ocf_loop.h"

#include <h2o.h>
#include <stdbool.h>

typedef struct {
    ocf_pool_t *pool;
    h2o_iovec_t path;            //  request target sent upstream ("/v1/_service/llm/v1/chat/completions")
    const char *node_id;         //  X-Computing-Node when the upstream response does not name one
    void *data;                  //  the router's
} ocf_target_t;

typedef struct {
    //  Fills the next target; false when no provider is left (why says what was looked for).
    bool (*next) (void *arg, ocf_target_t *target, char *why, size_t why_size);
    //  An attempt on the target ended.
    void (*release) (void *arg, ocf_target_t *target);
    //  May be NULL. The request ended: the status answered (0: none, the client left first),
    //  whether the stream was cut after its head, the time from the request to the first
    //  body byte relayed (-1: none).
    void (*ended) (void *arg, int status, bool broken, int64_t first_byte_us);
} ocf_router_t;

//  Forwards req. router and arg must live as long as the request (allocate them in its pool).
void ocf_forward (ocf_loop_t *loop, h2o_req_t *req, const ocf_router_t *router, void *arg, unsigned max_attempts);
//  Ends every forward of the loop now (shutdown after the grace period).
void ocf_forward_abort_all (ocf_loop_t *loop);

#endif

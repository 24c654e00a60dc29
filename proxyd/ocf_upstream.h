/*  ocf_upstream: HTTP/1.1 client connections to upstreams, kept alive in per-upstream pools.
    One pool per "host:port" per loop (no locks). A request is written on a pooled
    connection when one is idle (most recently used first), else on a new one. Idle
    connections stay registered for reading, so an upstream closing one is noticed at once,
    and reusing one costs no system call. Three deadlines: connect, first response byte, and
    the longest silence inside a body. Responses are parsed with picohttpparser; the body is
    de-chunked in place and handed over as it arrives, with no copy; the reader can pause the
    connection (backpressure) when its client is slower than the upstream.
    A pool may speak TLS (to another host's fabric listener): the handshake is part of
    connecting, and the connection is kept alive like any other, so that a request on it costs
    no handshake (and a new connection resumes the last session: see ocf_tls).
    This module knows nothing of the incoming request: see ocf_forward.  */
#ifndef OCF_UPSTREAM_H
#define OCF_UPSTREAM_H

#include "ocf_phr.h"

#include <h2o.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _ocf_pools_t ocf_pools_t;
typedef struct _ocf_pool_t ocf_pool_t;
typedef struct _ocf_upconn_t ocf_upconn_t;

typedef struct {
    uint64_t connect_ms;
    uint64_t first_byte_ms;      //  from the request being sent to the response head
    uint64_t io_ms;              //  the longest gap between two reads of a body
    uint64_t keepalive_ms;       //  an idle connection is closed after this
    uint64_t tls_keepalive_ms;   //  the same for TLS upstreams (other hosts: a handshake to spare)
    size_t max_idle;             //  idle connections kept per upstream
} ocf_pools_config_t;

typedef struct {
    uint64_t connects;           //  new connections opened
    uint64_t connect_failures;
    uint64_t reuses;             //  requests sent on a kept-alive connection
    uint64_t stale;              //  kept-alive connections found closed by the upstream
    uint64_t tls_full;           //  TLS connections that needed a full handshake
    uint64_t tls_resumed;        //  TLS connections that resumed a session (a ticket)
    int64_t idle;                //  connections idle now
    int64_t active;              //  connections carrying a request now
} ocf_pools_stats_t;

typedef enum {
    OCF_UP_CONNECT_FAILED,       //  could not connect (refused, unreachable, connect deadline)
    OCF_UP_STALE,                //  a kept-alive connection was closed before any response byte
    OCF_UP_FAILED,               //  I/O error or malformed response before the head
    OCF_UP_TIMEOUT,              //  no response head before the first-byte deadline
    OCF_UP_BODY_FAILED           //  error, malformed framing or silence inside the body
} ocf_up_error_t;

typedef struct {
    //  The response head; headers point into the input and live only during the call.
    //  content_length is -1 when unknown. Returns 0 to read the body, -1 to drop the response
    //  (the connection is closed; no more callbacks).
    int (*on_head) (void *arg, int status, h2o_iovec_t reason, const struct phr_header *headers, size_t count,
                    int64_t content_length);
    //  Body bytes wait in *buffer: swap it for an empty buffer to take them, or leave them.
    //  When eos is set every byte must be taken: the connection is recycled after the call.
    void (*on_body) (void *arg, h2o_buffer_t **buffer, bool eos);
    //  The exchange failed; the connection is gone (no more callbacks).
    void (*on_error) (void *arg, ocf_up_error_t error, const char *text);
} ocf_upstream_cb_t;

//  stats: counters shared by every loop's pools (updated atomically). tls: the client context
//  of TLS pools (NULL: none).
ocf_pools_t *ocf_pools_new (h2o_context_t *context, const ocf_pools_config_t *config, ocf_pools_stats_t *stats,
                            SSL_CTX *tls);
//  Closes idle connections; active ones must have been closed by their owners.
void ocf_pools_destroy (ocf_pools_t **self_p);
//  The pool of an upstream, created on first use. host: an IP address or a name. tls_name:
//  NULL for plain HTTP, else the TLS server name the upstream must prove (a node id).
ocf_pool_t *ocf_pools_get (ocf_pools_t *self, const char *host, size_t host_len, int port, const char *tls_name);
//  "host:port" ("[v6]:port"), for the Host header.
h2o_iovec_t ocf_pool_authority (ocf_pool_t *pool);

//  Sends a request (bufs must stay valid until the exchange ends) and reads the response,
//  reporting through cb. head_request: the response has no body whatever it says.
//  Returns NULL when not even a socket could be created (then no callback runs).
ocf_upconn_t *ocf_upstream_send (ocf_pool_t *pool, h2o_iovec_t *bufs, size_t count, bool head_request,
                                 const ocf_upstream_cb_t *cb, void *arg);
//  Abandons the exchange: the connection is closed, no more callbacks.
void ocf_upconn_close (ocf_upconn_t *conn);
//  Stops or resumes reading the body. The io deadline restarts at both and keeps running while
//  paused: a client that stops reading entirely gets its stream cut after io_timeout.
void ocf_upconn_pause (ocf_upconn_t *conn, bool paused);
//  The body bytes waiting on the connection (see on_body).
h2o_buffer_t **ocf_upconn_buffer (ocf_upconn_t *conn);

#endif

/*  ocf_zsock: ZeroMQ sockets inside an h2o event loop.
    ocf_zwatch turns a socket into a loop event: ZMQ_FD is edge-like, so every wake-up (and
    every send, which may consume the notification) drains while ZMQ_POLLIN holds.
    ocf_zclient is an asynchronous client of a daemon's local API (DEALER): calls are queued
    with a callback and a deadline and never block the loop. Replies come back in request
    order; when one is late, the socket is dropped and reconnected and every call waiting on it
    fails, so a late reply can never answer another call. The number of waiting calls is
    bounded.  */
#ifndef OCF_ZSOCK_H
#define OCF_ZSOCK_H

#include <czmq.h>
#include <h2o.h>
#include <jansson.h>

typedef struct _ocf_zwatch_t ocf_zwatch_t;
//  Called once per waiting message; it must receive exactly one message from the socket.
typedef void (ocf_zwatch_fn) (zsock_t *sock, void *arg);

ocf_zwatch_t *ocf_zwatch_new (h2o_loop_t *loop, zsock_t *sock, ocf_zwatch_fn *fn, void *arg);
void ocf_zwatch_destroy (ocf_zwatch_t **self_p);
//  After a send: drains, on the next loop turn, what the send may have left unsignalled.
void ocf_zwatch_sent (ocf_zwatch_t *self);

typedef struct _ocf_zclient_t ocf_zclient_t;
typedef struct _ocf_zcall_t ocf_zcall_t;

typedef enum {
    OCF_ZREPLY_OK = 0,           //  body: the reply
    OCF_ZREPLY_ERR,              //  body: {"error": ...}; error: its text
    OCF_ZREPLY_NONE              //  no reply (unreachable, late, or a broken reply); error says which
} ocf_zreply_t;

//  body is borrowed: take a reference to keep it.
typedef void (ocf_zreply_fn) (void *arg, ocf_zreply_t status, json_t *body, const char *error);

//  endpoint: "ipc://<run_dir>/tabled.api"; timeout_ms: the deadline of every call.
ocf_zclient_t *ocf_zclient_new (h2o_loop_t *loop, const char *endpoint, uint64_t timeout_ms);
//  Pending calls are dropped without their callbacks.
void ocf_zclient_destroy (ocf_zclient_t **self_p);
//  Sends verb + body (taken; NULL means {}). The callback runs later, never from inside this
//  call. Returns a handle for ocf_zcall_cancel.
ocf_zcall_t *ocf_zclient_call (ocf_zclient_t *self, const char *verb, json_t *body, ocf_zreply_fn *fn, void *arg);
//  The call's callback will not run (its reply is still consumed in order). Only for a call
//  whose callback has not run yet: the handle is freed once it has.
void ocf_zcall_cancel (ocf_zcall_t *call);

#endif

/*  ocf_client: a blocking request/reply client for a daemon's local API (a DEALER socket).
    For tools, tests and daemons whose loop may wait a few milliseconds on tabled. A call that
    times out drops and reconnects the socket, so a late reply can never answer the next call.  */
#ifndef OCF_CLIENT_H
#define OCF_CLIENT_H

#include <jansson.h>
#include <stddef.h>

typedef struct _ocf_client_t ocf_client_t;

//  endpoint: e.g. "ipc:///run/ocf/tabled.api". Connecting never fails (ZeroMQ connects lazily).
ocf_client_t *ocf_client_new (const char *endpoint);
void ocf_client_destroy (ocf_client_t **self_p);
//  Sends verb + body (taken; NULL means {}) and waits up to timeout_ms for the reply.
//  Returns 0 with *reply set on OK. Returns -1 on ERR (*reply holds {"error"}, also copied
//  into error) or on a timeout or transport problem (*reply NULL, error says what).
int ocf_client_call (ocf_client_t *self, const char *verb, json_t *body, int timeout_ms, json_t **reply,
                     char *error, size_t error_size);
//  Largest reply accepted (default 64 MiB).
void ocf_client_set_max_reply (ocf_client_t *self, size_t bytes);

#endif

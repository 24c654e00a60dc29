/*  fabric_load: streamed chat completions sent without pause by client threads until stopped,
    the outcome of each request recorded, so that a test can change the fabric under load (a
    drain, a model swap) and then judge every request against what it did and when.  */
#ifndef FABRIC_LOAD_H
#define FABRIC_LOAD_H

#include "fabric.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t sent_us;             //  before the request left the client
    int64_t ended_us;
    int host;                    //  the fabric host it entered
    long status;
    bool done;                   //  the stream reached [DONE]
    char backend[32];            //  the test backend that answered
} fabric_result_t;

//  Where one request of a client goes: returns the index of the fabric host it enters and
//  sets *path to the path on that host.
typedef int (fabric_target_fn) (int client, int round, const char **path);

typedef struct _fabric_load_t fabric_load_t;

//  Starts clients threads streaming model through target's hosts; the first long_clients
//  ask for 100 events (2 s at the test backend's 20 ms) instead of the backend's default.
fabric_load_t *fabric_load_start (fabric_t *fabric, const char *model, int clients, int long_clients,
                                  fabric_target_fn *target);
//  Stops the clients (each finishes its request) and returns the outcomes, in the order the
//  requests ended, valid until the load is destroyed.
const fabric_result_t *fabric_load_stop (fabric_load_t *self, size_t *count);
void fabric_load_destroy (fabric_load_t **self_p);

#endif

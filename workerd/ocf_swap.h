/*  ocf_swap: the replacement of a service's backend by one with another configuration (a
    reload of workerd after its command or model changed), sans-I/O. It drives two
    ocf_service machines, the old backend's and the new one's, fed with events as usual by
    the runner, and decides what tabled holds for the service meanwhile. `swap = beside`
    (the new backend on the other port, the old one serving until the new one is healthy):

        starting ──new registered──► draining ──old drained──► stopping ──old exited──► done
           └── new failed (crash loop, start_timeout) ──► aborted: the new one stopped, the old one serves on

    Once the new backend is registered under the service's name, the old one is listed
    beside it as NAME.old, "draining": every proxyd stops choosing it at once, requests in
    flight and streams finish, then it is withdrawn and stopped. `swap = after_drain` (the
    GPUs or the port must be freed first):

        draining ──old drained──► stopping ──old exited──► loading ──new registered──► done
                                                               └── new failed ──► failed

    From the old backend's withdrawal until the new one is registered, the service stays
    listed with status "swapping", which no proxyd routes to: a request for it is answered
    503 no_live_provider (retry shortly) rather than 404, unless another host serves it.  */
#ifndef OCF_SWAP_H
#define OCF_SWAP_H

#include "ocf_service.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum { OCF_SWAP_BESIDE, OCF_SWAP_AFTER_DRAIN } ocf_swap_mode_t;

typedef enum {
    OCF_SWAP_STARTING,           //  beside: the new backend starts, the old one serves
    OCF_SWAP_DRAINING,           //  the old backend drains
    OCF_SWAP_STOPPING,           //  the old backend is stopping
    OCF_SWAP_LOADING,            //  after_drain: the new backend starts on the freed port
    OCF_SWAP_DONE,               //  the new backend serves, the old one is gone
    OCF_SWAP_ABORTED,            //  beside: the new backend failed and is gone; the old one serves on
    OCF_SWAP_FAILED              //  after_drain: the new backend failed; nothing serves
} ocf_swap_phase_t;

typedef struct _ocf_swap_t ocf_swap_t;

//  Starts the swap of service name: the machines must outlive it; old runs, new was not
//  started (its port set when beside).
ocf_swap_t *ocf_swap_new (const char *name, ocf_swap_mode_t mode, ocf_service_t *old, ocf_service_t *new_, int64_t now);
void ocf_swap_destroy (ocf_swap_t **self_p);

//  Call after every event and tick of either machine, before their actions are taken.
//  Returns true when the phase changed (the machines may have more to do then).
bool ocf_swap_tick (ocf_swap_t *self, int64_t now);
ocf_swap_phase_t ocf_swap_phase (ocf_swap_t *self);
//  True once the swap is over (done, aborted or failed).
bool ocf_swap_over (ocf_swap_t *self);
//  What tabled should hold under the service's name, and under the old backend's name
//  (ocf_swap_aside_name); NULL: withdrawn. Caller owns them.
json_t *ocf_swap_registration (ocf_swap_t *self);
json_t *ocf_swap_aside_registration (ocf_swap_t *self);
const char *ocf_swap_aside_name (ocf_swap_t *self);
//  {"mode", "phase", "elapsed_ms"} for STATS. Caller owns it.
json_t *ocf_swap_stats (ocf_swap_t *self, int64_t now);

#endif

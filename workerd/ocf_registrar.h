/*  ocf_registrar: workerd's side of the conversation with ocf-tabled.
    The rest of workerd only says what tabled should hold (this host's hardware, its Slurm
    labels, each service registered with some content or withdrawn); the registrar keeps what
    tabled acknowledged and sends the difference, one request at a time, over a DEALER
    socket polled by the loop: nothing ever waits for tabled. A service whose content
    differs from the acknowledged one only in load values is updated with SERVICE.LOAD
    (which keeps the in-flight count proxyd reports); any other change is a SERVICE.UP.

    Restarts of tabled are detected with a HELLO each heartbeat: a new "boot", or a request
    left unanswered, makes every acknowledgement unknown again, so everything is sent again
    (all of it idempotent). A version of this host's record that workerd did not write
    (HELLO and every reply name it) means someone else changed it: the registrar reads the
    record and sends again what of workerd's differs there (a service withdrawn by an
    operator), so tabled holds what workerd says again within a heartbeat. Services are
    registered and withdrawn as owner "ocf-workerd", which tabled keeps other owners
    (proxyd's POST /v1/dnt/_node) from replacing; a name another owner holds is tried again
    when the record changes. Events on tabled.events are not used: tabled publishes nothing
    when it starts, so only asking notices a restart promptly, and following the events
    would mean parsing every row change of the whole cluster.  */
#ifndef OCF_REGISTRAR_H
#define OCF_REGISTRAR_H

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _ocf_registrar_t ocf_registrar_t;

//  endpoint: tabled's API (ipc://run_dir/tabled.api). timeout_ms: how long a reply may take
//  before tabled counts as unreachable; heartbeat_ms: the HELLO interval.
ocf_registrar_t *ocf_registrar_new (zloop_t *loop, const char *endpoint, int64_t timeout_ms, int64_t heartbeat_ms);
void ocf_registrar_destroy (ocf_registrar_t **self_p);

//  What tabled should hold. Each takes the reference given; NULL for a service: withdrawn.
void ocf_registrar_set_hardware (ocf_registrar_t *self, json_t *hardware);
void ocf_registrar_set_labels (ocf_registrar_t *self, json_t *slurm_labels);
void ocf_registrar_set_service (ocf_registrar_t *self, const char *name, json_t *service);

//  True when tabled acknowledged everything set so far.
bool ocf_registrar_synced (ocf_registrar_t *self);
//  Called (from the loop) each time the registrar becomes synced after a reply.
typedef void (ocf_registrar_fn) (void *arg);
void ocf_registrar_set_synced_handler (ocf_registrar_t *self, ocf_registrar_fn *fn, void *arg);
bool ocf_registrar_connected (ocf_registrar_t *self);
//  This node's id as tabled said in HELLO ("" before that).
const char *ocf_registrar_node_id (ocf_registrar_t *self);
//  Counters for STATS. Caller owns it.
json_t *ocf_registrar_stats (ocf_registrar_t *self);

#endif

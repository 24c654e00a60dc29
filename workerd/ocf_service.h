/*  ocf_service: the decisions about one [service.NAME] backend, sans-I/O.
    Fed with events (the process was spawned or exited, a health check, model list or metrics
    scrape came back) and the time, it decides what the runner does next (spawn, signal the
    process group, check health, fetch models, scrape metrics) and whether the service is
    registered with tabled, with which identity groups and load. It owns no process, socket
    or timer, so tests drive it with a made-up clock.

    A launched backend (with `command`) goes

        starting ──healthy──► healthy ──N failures or refused──► unhealthy ──healthy──► healthy
           │  └─start_timeout─► stopping (TERM, stop_timeout, KILL) ─┐
           └────────── exit ─────────────────────────────────────────┴─► backoff ──► starting
                                                                            └─ restart_max ─► failed

    and is registered exactly while healthy. A backend without `command` is managed by
    someone else: it is only checked (starting ─► healthy ◄─► unhealthy).

    Backends outlive workerd. A restarted workerd that finds one of them still running (the
    runner checks pid and start time) feeds `adopted` instead of `start`: a backend that was
    registered stays registered (healthy, confirmed or withdrawn by the next checks, as any
    healthy one), one that was still loading goes on starting, and one started with another
    configuration than the current one is stopped and replaced at once. Its exit status is
    unknown (it is not workerd's child) and counts as a failure.

    Orthogonal to that, a drain (ocfctl DRAIN) takes the service out of routing gently:

        none ──drain──► draining ──published, then 0 in flight, or drain_timeout──► drained
          ▲  (registered, status "draining": every proxyd stops choosing it)  (withdrawn)
          └───────────────────────────── undrain ─────────────────────────────────┘

    The backend keeps running and being checked throughout; only the registration changes.  */
#ifndef OCF_SERVICE_H
#define OCF_SERVICE_H

#include "ocf_config.h"
#include "ocf_prom.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    OCF_SERVICE_STARTING,        //  launched and loading, or not checked yet
    OCF_SERVICE_HEALTHY,         //  registered
    OCF_SERVICE_UNHEALTHY,       //  failing its checks: withdrawn, still checked
    OCF_SERVICE_BACKOFF,         //  exited, a restart is scheduled
    OCF_SERVICE_STOPPING,        //  SIGTERM sent, waiting for the exit
    OCF_SERVICE_STOPPED,         //  not running, nothing scheduled
    OCF_SERVICE_FAILED           //  gave up: crash loop, or a failure with restart=no
} ocf_service_state_t;

//  What the runner must do, returned as a bit mask by ocf_service_take_actions().
enum {
    OCF_SERVICE_SPAWN = 1,       //  start the command (then call spawned or spawn_failed)
    OCF_SERVICE_TERM = 2,        //  SIGTERM the process group
    OCF_SERVICE_KILL = 4,        //  SIGKILL the process group
    OCF_SERVICE_CHECK = 8,       //  GET health_path (then call health)
    OCF_SERVICE_MODELS = 16,     //  GET models_path (then call models)
    OCF_SERVICE_SCRAPE = 32,     //  GET metrics_path (then call metrics)
    OCF_SERVICE_INFLIGHT = 64    //  ask the local proxyd for the requests in flight (then call inflight)
};

typedef enum {
    OCF_SERVICE_DRAIN_NONE,      //  routed normally
    OCF_SERVICE_DRAIN_DRAINING,  //  registered as "draining": no new requests, in-flight ones finish
    OCF_SERVICE_DRAIN_DRAINED    //  withdrawn by the drain; the backend still runs
} ocf_service_drain_t;

//  The outcome of one HTTP request to the backend.
typedef struct {
    bool ok;                     //  2xx
    bool refused;                //  nothing listens on the port
    bool foreign;                //  answered, but the port is held by a process not the backend's
    int64_t latency_us;
    const char *error;           //  why not ok (for logs and STATS)
} ocf_service_probe_t;

typedef struct _ocf_service_t ocf_service_t;

//  What a restarted workerd knows of a backend an earlier one started and left running.
typedef struct {
    bool registered;             //  registered when it was last recorded
    json_t *models;              //  its model list then (sorted unique ids), or NULL
    bool outdated;               //  started with another command, env, gpus or workdir
} ocf_service_adoption_t;

//  The exit status given to exited() when it is unknown (an adopted backend, or one in a
//  systemd unit: not our child).
#define OCF_SERVICE_EXIT_UNKNOWN (-1)

//  config and workerd are read at creation and must outlive the service.
ocf_service_t *ocf_service_new (const ocf_service_config_t *config, const ocf_workerd_config_t *workerd);
void ocf_service_destroy (ocf_service_t **self_p);

bool ocf_service_launched (ocf_service_t *self);
ocf_service_state_t ocf_service_state (ocf_service_t *self);
//  The run the process or check belongs to: results of an earlier run are ignored.
uint64_t ocf_service_run (ocf_service_t *self);
//  True while a launched process exists (from spawned to exited).
bool ocf_service_running (ocf_service_t *self);

//  The port the backend listens on: the configured one unless set (a swap's new backend
//  beside the old one). Set before the start.
void ocf_service_set_port (ocf_service_t *self, int64_t port);
int64_t ocf_service_port (ocf_service_t *self);
//  An equal configuration from a reloaded file replaces the one read at creation.
void ocf_service_set_config (ocf_service_t *self, const ocf_service_config_t *config);
//  True while it should be registered (ocf_service_registration is not NULL).
bool ocf_service_registered (ocf_service_t *self);

//  Events.
void ocf_service_start (ocf_service_t *self, int64_t now);
//  Instead of start: the backend runs already (see above).
void ocf_service_adopted (ocf_service_t *self, const ocf_service_adoption_t *adoption, int64_t now);
void ocf_service_spawned (ocf_service_t *self, int64_t now);
void ocf_service_spawn_failed (ocf_service_t *self, const char *error, int64_t now);
void ocf_service_exited (ocf_service_t *self, int wait_status, int64_t now);
void ocf_service_health (ocf_service_t *self, uint64_t run, const ocf_service_probe_t *probe, int64_t now);
//  models: sorted unique ids (ocf_models_parse), or NULL when the fetch failed.
void ocf_service_models (ocf_service_t *self, uint64_t run, json_t *models, const char *error, int64_t now);
void ocf_service_metrics (ocf_service_t *self, uint64_t run, bool ok, const ocf_prom_load_t *load, const char *error,
                          int64_t now);
//  Timers: call at ocf_service_next_wakeup() (calling more often is harmless).
void ocf_service_tick (ocf_service_t *self, int64_t now);
//  Drain: registered as "draining" (withdrawn at once when not registered) until the local
//  proxyd reports nothing in flight, or until drain_timeout; then withdrawn.
void ocf_service_drain (ocf_service_t *self, int64_t now);
//  tabled holds the "draining" mark: from now on no proxyd that saw it sends new requests,
//  so the in-flight count can only fall.
void ocf_service_drain_published (ocf_service_t *self, int64_t now);
//  The requests the local proxyd has in flight to this backend; -1 when it did not say (error).
void ocf_service_inflight (ocf_service_t *self, int64_t count, const char *error, int64_t now);
//  Back to normal routing: registered again while healthy. A service stopped after its
//  drain (ocf_service_stop) is started again.
void ocf_service_undrain (ocf_service_t *self, int64_t now);
ocf_service_drain_t ocf_service_drain_state (ocf_service_t *self);

//  Shutdown, first step: withdraw and start nothing more.
void ocf_service_withdraw (ocf_service_t *self);
//  Shutdown, second step (once the withdrawal reached tabled): stop the process.
void ocf_service_stop (ocf_service_t *self, int64_t now);

//  Outputs.
int ocf_service_take_actions (ocf_service_t *self);
//  When the next tick is due (INT64_MAX: nothing scheduled).
int64_t ocf_service_next_wakeup (ocf_service_t *self);
//  The service object for SERVICE.UP while it should be registered, else NULL. Caller owns it.
json_t *ocf_service_registration (ocf_service_t *self);
//  What a restarted workerd needs to adopt the backend: {"registered", "models"} (changes
//  when either does). Caller owns it.
json_t *ocf_service_record (ocf_service_t *self);
//  Its state for workerd's STATS. Caller owns it.
json_t *ocf_service_stats (ocf_service_t *self, int64_t now);

#endif

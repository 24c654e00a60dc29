/*  ocf_agent: the runner around the sans-I/O parts of ocf-workerd.
    Owns, inside one zloop: a process, its log file follower and an ocf_service state machine per
    [service.NAME]; the HTTP client that checks, lists models and scrapes metrics; the GPU
    probe and /proc readings; the registrar (this host in tabled). Every event (a child's exit, an HTTP
    result, a timer) is fed to the state machines, whose actions are carried out and whose
    registrations are handed to the registrar, then one timer is armed for the next deadline.  */
#ifndef OCF_AGENT_H
#define OCF_AGENT_H

#include "ocf_config.h"

#include <czmq.h>
#include <jansson.h>
#include <stdbool.h>

typedef struct _ocf_agent_t ocf_agent_t;

//  Starts the backends and the checks. Returns NULL with error set when a service's
//  command cannot be split (the configuration check normally catches it first).
ocf_agent_t *ocf_agent_new (ocf_config_t *config, zloop_t *loop, char *error, size_t error_size);
//  Leaves the backends that still run running (they outlive workerd).
void ocf_agent_destroy (ocf_agent_t **self_p);

//  SIGCHLD: reaps every child that ended. Returns -1 when the shutdown is complete.
int ocf_agent_reap (ocf_agent_t *self);
//  SIGTERM: exit, leaving the backends running and their services registered, for the
//  next workerd to adopt. Returns -1 (the loop ends).
int ocf_agent_leave (ocf_agent_t *self);
//  STOP: withdraws every service from tabled, then stops the backends. Returns -1
//  when the shutdown is complete already (nothing was running).
int ocf_agent_shutdown (ocf_agent_t *self);
bool ocf_agent_stopping (ocf_agent_t *self);
//  SIGHUP, with the configuration read again (the agent takes it): services added are
//  started, removed ones drained and stopped, changed ones swapped (ocf_swap: per their
//  `swap`), unchanged ones left alone. Returns -1 (config destroyed) while workerd stops.
int ocf_agent_reload (ocf_agent_t *self, ocf_config_t *config);

//  DRAIN: the named service (NULL: every one) marked draining, withdrawn once nothing is in
//  flight (or at drain_timeout); with stop, its backend is stopped then. UNDRAIN undoes it.
//  Return -1 with error set for an unknown service or while workerd stops.
int ocf_agent_drain (ocf_agent_t *self, const char *name, bool stop, char *error, size_t error_size);
int ocf_agent_undrain (ocf_agent_t *self, const char *name, char *error, size_t error_size);
//  Whether the drain of the named service (NULL: every one) is complete, stop included.
bool ocf_agent_drained (ocf_agent_t *self, const char *name);
//  {"services": {name: {"drain", "running"}}, "drained"} for DRAIN's reply. Caller owns it.
json_t *ocf_agent_drain_view (ocf_agent_t *self, const char *name);
//  Called after every event, for waiters on a drain.
typedef void (ocf_agent_fn) (void *arg);
void ocf_agent_set_drain_handler (ocf_agent_t *self, ocf_agent_fn *fn, void *arg);

//  For the local API. Caller owns them.
json_t *ocf_agent_hello (ocf_agent_t *self);
json_t *ocf_agent_stats (ocf_agent_t *self);
//  "2/3 services healthy, 4 GPUs" for systemd's STATUS=.
void ocf_agent_status_line (ocf_agent_t *self, char *line, size_t size);

#endif

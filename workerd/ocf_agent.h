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

//  For the local API. Caller owns them.
json_t *ocf_agent_hello (ocf_agent_t *self);
json_t *ocf_agent_stats (ocf_agent_t *self);
//  "2/3 services healthy, 4 GPUs" for systemd's STATUS=.
void ocf_agent_status_line (ocf_agent_t *self, char *line, size_t size);

#endif

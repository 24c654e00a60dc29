/*  ocf_units: backends started as systemd units (`[workerd] launcher = systemd`).
    A backend in ocf-workerd.service's cgroup dies with the unit (a restart, an upgrade, a
    crash); in a unit of its own, ocf-backend@NAME.service, it does not. To start one, this
    writes backends/NAME.spec (ocf_launch), runs `systemctl --no-block restart` on the unit
    (a child polled by the runner's SIGCHLD; polkit lets user ocf manage those units only,
    systemd/openfabric.rules), and waits for backends/NAME.started, written by the unit's
    ocf-backend-exec just before it execs the backend, watched with inotify. The backend is
    then handed over as an adopted process (ocf_process_adopt: a pidfd, not a child), as
    one an earlier workerd left running. Owns the inotify watch, the systemctl children and
    one start at a time per service.  */
#ifndef OCF_UNITS_H
#define OCF_UNITS_H

#include "ocf_process.h"

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _ocf_units_t ocf_units_t;

//  The outcome of a start: process (the caller owns it) or NULL with the reason.
typedef void (ocf_units_fn) (void *arg, ocf_process_t *process, const char *error);

//  backends: state_dir/backends; timeout_ms: how long a unit may take to exec its backend.
ocf_units_t *ocf_units_new (zloop_t *loop, const char *backends, int64_t timeout_ms, char *error, size_t error_size);
void ocf_units_destroy (ocf_units_t **self_p);

//  Starts ocf-backend@name.service running argv; fn is called once, from the loop, with
//  the outcome (never from within this call). Returns -1 when a start of name is under way.
int ocf_units_start (ocf_units_t *self, const char *name, char *const *argv, char *const *env, const char *workdir,
                     ocf_units_fn *fn, void *arg);
//  True while a start of name is under way.
bool ocf_units_starting (ocf_units_t *self, const char *name);
//  SIGCHLD: true when pid was one of its systemctl children (then handled).
bool ocf_units_reap (ocf_units_t *self, pid_t pid, int status);
//  Timers: the next deadline (INT64_MAX: none) and the call at it.
int64_t ocf_units_next_deadline (ocf_units_t *self);
void ocf_units_tick (ocf_units_t *self, int64_t now);

#endif

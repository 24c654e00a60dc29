/*  ocf_swap: the two-backend state machine of a model change.  */
#include "ocf_swap.h"
#include "ocf_alloc.h"
#include "ocf_log.h"

#include <stdlib.h>
#include <string.h>

struct _ocf_swap_t {
    char name[OCF_SERVICE_NAME_MAX + 1];
    char aside_name[OCF_SERVICE_NAME_MAX + 1];
    ocf_swap_mode_t mode;
    ocf_service_t *old;
    ocf_service_t *new_;
    ocf_swap_phase_t phase;
    int64_t started;
    int64_t phase_started;
    bool new_ran;                //  the new backend's process existed at some point
    json_t *last_old;            //  the old backend's last registration: the "swapping" entry's groups
};

static const char *s_mode_names[] = { [OCF_SWAP_BESIDE] = "beside", [OCF_SWAP_AFTER_DRAIN] = "after_drain" };
static const char *s_phase_names[] = {
    [OCF_SWAP_STARTING] = "starting", [OCF_SWAP_DRAINING] = "draining", [OCF_SWAP_STOPPING] = "stopping",
    [OCF_SWAP_LOADING] = "loading", [OCF_SWAP_DONE] = "done", [OCF_SWAP_ABORTED] = "aborted", [OCF_SWAP_FAILED] = "failed"
};

static void
s_set_phase (ocf_swap_t *self, ocf_swap_phase_t phase, int64_t now)
{
    self->phase = phase;
    self->phase_started = now;
}

ocf_swap_t *
ocf_swap_new (const char *name, ocf_swap_mode_t mode, ocf_service_t *old, ocf_service_t *new_, int64_t now)
{
    ocf_swap_t *self = ocf_calloc (1, sizeof *self);
    snprintf (self->name, sizeof self->name, "%s", name);
    //  Within tabled's 64 characters of a service name.
    snprintf (self->aside_name, sizeof self->aside_name, "%.60s.old", name);
    self->mode = mode;
    self->old = old;
    self->new_ = new_;
    self->started = now;
    self->last_old = ocf_service_registration (old);
    if (mode == OCF_SWAP_BESIDE) {
        ocf_log_notice ("%s: configuration changed: starting the new backend on port %lld beside the old one (port "
                        "%lld), which serves until the new one is healthy", name, (long long) ocf_service_port (new_),
                        (long long) ocf_service_port (old));
        s_set_phase (self, OCF_SWAP_STARTING, now);
        ocf_service_start (new_, now);
    }
    else {
        ocf_log_notice ("%s: configuration changed: draining the old backend, then stopping it, then starting the new "
                        "one on port %lld (swap = after_drain)", name, (long long) ocf_service_port (new_));
        s_set_phase (self, OCF_SWAP_DRAINING, now);
        ocf_service_drain (old, now);
    }
    return self;
}

void
ocf_swap_destroy (ocf_swap_t **self_p)
{
    ocf_swap_t *self = *self_p;
    if (!self)
        return;
    json_decref (self->last_old);
    free (self);
    *self_p = NULL;
}

//  A new backend that gave up (crash loop, start_timeout, restart policy) will not serve.
static bool
s_new_failed (ocf_swap_t *self)
{
    ocf_service_state_t state = ocf_service_state (self->new_);
    return state == OCF_SERVICE_FAILED || (state == OCF_SERVICE_STOPPED && self->new_ran && !ocf_service_running (self->new_));
}

static double
s_seconds (int64_t from, int64_t to)
{
    return (double) (to - from) / 1000;
}

bool
ocf_swap_tick (ocf_swap_t *self, int64_t now)
{
    ocf_swap_phase_t entered = self->phase;
    self->new_ran |= ocf_service_running (self->new_);
    if (ocf_service_registered (self->old)) {
        json_decref (self->last_old);
        self->last_old = ocf_service_registration (self->old);
    }
    //  Each phase may end at once (an old backend that was not registered is drained as soon
    //  as asked): a few rounds settle it.
    for (int round = 0; round < 4; round++) {
        ocf_swap_phase_t before = self->phase;
        switch (self->phase) {
            case OCF_SWAP_STARTING:
                if (ocf_service_registered (self->new_)) {
                    ocf_log_notice ("%s: the new backend is healthy and registered %.1f s after the reload; the old one "
                                    "is listed as %s, draining", self->name, s_seconds (self->started, now),
                                    self->aside_name);
                    s_set_phase (self, OCF_SWAP_DRAINING, now);
                    ocf_service_drain (self->old, now);
                }
                else
                if (s_new_failed (self)) {
                    ocf_log_error ("%s: the new backend failed; the swap is abandoned and the old backend serves on "
                                   "(fix the configuration and reload again)", self->name);
                    ocf_service_stop (self->new_, now);
                    s_set_phase (self, OCF_SWAP_ABORTED, now);
                }
                break;
            case OCF_SWAP_DRAINING:
                if (ocf_service_drain_state (self->old) == OCF_SERVICE_DRAIN_DRAINED) {
                    if (ocf_service_running (self->old))
                        ocf_log_notice ("%s: the old backend is drained, stopping it", self->name);
                    ocf_service_stop (self->old, now);
                    s_set_phase (self, OCF_SWAP_STOPPING, now);
                }
                break;
            case OCF_SWAP_STOPPING:
                if (ocf_service_running (self->old))
                    break;
                if (self->mode == OCF_SWAP_BESIDE) {
                    ocf_log_notice ("%s: swap done in %.1f s: the new backend serves on port %lld", self->name,
                                    s_seconds (self->started, now), (long long) ocf_service_port (self->new_));
                    s_set_phase (self, OCF_SWAP_DONE, now);
                }
                else {
                    ocf_log_notice ("%s: the old backend has stopped; starting the new one (requests wait for it "
                                    "elsewhere or are answered 503 meanwhile)", self->name);
                    s_set_phase (self, OCF_SWAP_LOADING, now);
                    ocf_service_start (self->new_, now);
                }
                break;
            case OCF_SWAP_LOADING:
                if (ocf_service_registered (self->new_)) {
                    ocf_log_notice ("%s: swap done in %.1f s: the new backend is registered %.1f s after the old one "
                                    "stopped", self->name, s_seconds (self->started, now),
                                    s_seconds (self->phase_started, now));
                    s_set_phase (self, OCF_SWAP_DONE, now);
                }
                else
                if (s_new_failed (self)) {
                    ocf_log_error ("%s: the new backend failed after the old one was stopped: the service is down "
                                   "(fix the configuration and reload)", self->name);
                    s_set_phase (self, OCF_SWAP_FAILED, now);
                }
                break;
            default:
                break;
        }
        if (self->phase == before)
            break;
    }
    return self->phase != entered;
}

ocf_swap_phase_t
ocf_swap_phase (ocf_swap_t *self)
{
    return self->phase;
}

bool
ocf_swap_over (ocf_swap_t *self)
{
    return self->phase == OCF_SWAP_DONE || self->phase == OCF_SWAP_ABORTED || self->phase == OCF_SWAP_FAILED;
}

//  The old backend is listed under the service's name until the new one is registered.
static bool
s_old_aside (ocf_swap_t *self)
{
    return self->mode == OCF_SWAP_BESIDE && self->phase != OCF_SWAP_STARTING && self->phase != OCF_SWAP_ABORTED;
}

json_t *
ocf_swap_registration (ocf_swap_t *self)
{
    if (ocf_service_registered (self->new_))
        return ocf_service_registration (self->new_);
    if (!s_old_aside (self) && ocf_service_registered (self->old))
        return ocf_service_registration (self->old);
    bool gap = self->mode == OCF_SWAP_AFTER_DRAIN
            && (self->phase == OCF_SWAP_DRAINING || self->phase == OCF_SWAP_STOPPING || self->phase == OCF_SWAP_LOADING);
    if (!gap || !self->last_old)
        return NULL;
    //  Known, not routed to: proxyd answers 503 (retry) instead of 404 (no such service).
    json_t *placeholder = json_deep_copy (self->last_old);
    json_object_set_new (placeholder, "status", json_string ("swapping"));
    json_object_set_new (placeholder, "port", json_integer (ocf_service_port (self->new_)));
    json_object_set_new (placeholder, "load", json_object ());
    return placeholder;
}

json_t *
ocf_swap_aside_registration (ocf_swap_t *self)
{
    if (!s_old_aside (self) || !ocf_service_registered (self->old))
        return NULL;
    json_t *registration = ocf_service_registration (self->old);
    json_object_set_new (registration, "name", json_string (self->aside_name));
    return registration;
}

const char *
ocf_swap_aside_name (ocf_swap_t *self)
{
    return self->aside_name;
}

json_t *
ocf_swap_stats (ocf_swap_t *self, int64_t now)
{
    return json_pack ("{s:s, s:s, s:I, s:I, s:I}", "mode", s_mode_names[self->mode], "phase", s_phase_names[self->phase],
                      "elapsed_ms", (json_int_t) (now - self->started), "old_port",
                      (json_int_t) ocf_service_port (self->old), "new_port", (json_int_t) ocf_service_port (self->new_));
}

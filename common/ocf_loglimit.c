/*  ocf_loglimit: one log line per interval for events others can cause at will.  */
#include "ocf_loglimit.h"

bool
ocf_loglimit_pass (ocf_loglimit_t *self, int64_t now, uint64_t *unlogged)
{
    pthread_mutex_lock (&self->lock);
    bool pass = !self->logged || now - self->logged_at >= self->interval_ms;
    if (pass) {
        *unlogged = self->unlogged;
        self->logged = true;
        self->logged_at = now;
        self->unlogged = 0;
    }
    else
        self->unlogged++;
    pthread_mutex_unlock (&self->lock);
    return pass;
}

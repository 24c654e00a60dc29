/*  ocf_loglimit: at most one log line per interval for an event that others can cause at will
    (a refused connection, a forged row). The events in between are counted into the next
    line, so a flood neither fills the journal nor hides what else is logged. One limiter is
    shared by the threads that log the event (proxyd's event loops): it locks.  */
#ifndef OCF_LOGLIMIT_H
#define OCF_LOGLIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    pthread_mutex_t lock;
    int64_t interval_ms;
    bool logged;                 //  a line was written, at logged_at
    int64_t logged_at;
    uint64_t unlogged;           //  events since then without a line
} ocf_loglimit_t;

#define OCF_LOGLIMIT_INIT(interval_ms) { PTHREAD_MUTEX_INITIALIZER, (interval_ms), false, 0, 0 }

//  Counts one event at now (monotonic ms). True when its line is to be written: then
//  *unlogged is how many events since the last line had none.
bool ocf_loglimit_pass (ocf_loglimit_t *self, int64_t now, uint64_t *unlogged);

#endif

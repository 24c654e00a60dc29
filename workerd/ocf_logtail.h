/*  ocf_logtail: follows a detached backend's log file into workerd's log.
    A backend that must outlive workerd writes its output to a file (a pipe would kill it
    with SIGPIPE once workerd is gone); this reads what is appended, woken by inotify in the
    zloop, cuts it into lines (ocf_linebuf) and hands them over, at most a budget of bytes
    per wake-up so that a chatty backend cannot starve the rest of the loop. It keeps the file
    bounded: once everything was read and the file has reached max_size, it is truncated
    (the writer appends, so it goes on at the start). Owns the descriptors and the watch.  */
#ifndef OCF_LOGTAIL_H
#define OCF_LOGTAIL_H

#include "ocf_linebuf.h"

#include <czmq.h>

typedef struct _ocf_logtail_t ocf_logtail_t;

//  Creates path when missing and follows it from its current end (what a backend wrote
//  while no workerd followed it stays in the file). NULL with the reason in error.
ocf_logtail_t *ocf_logtail_new (zloop_t *loop, const char *path, size_t max_size, ocf_linebuf_fn *fn, void *arg,
                                char *error, size_t error_size);
void ocf_logtail_destroy (ocf_logtail_t **self_p);
//  Reads everything there is now and hands over a last unfinished line (the writer exited).
void ocf_logtail_drain (ocf_logtail_t *self);

#endif

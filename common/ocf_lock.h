/*  ocf_lock: one running instance per endpoint.
    A second process binding the same ipc:// path silently steals it from the first, so every
    endpoint is guarded by "<path>.lock", held with flock() for the life of the process.
    The kernel drops the lock when the process dies, kill -9 included: no stale locks.  */
#ifndef OCF_LOCK_H
#define OCF_LOCK_H

#include <stddef.h>

typedef struct _ocf_lock_t ocf_lock_t;

//  Takes the lock at path; on failure returns NULL and writes why (naming the holder's pid
//  when known) into error.
ocf_lock_t *ocf_lock_new (const char *path, char *error, size_t error_size);
void ocf_lock_destroy (ocf_lock_t **self_p);

#endif

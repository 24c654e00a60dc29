/*  ocf_alloc: the one policy for running out of memory.
    Every allocation of the daemons goes through these. When memory is exhausted they log
    what was asked for and abort: a daemon is a systemd service with Restart=on-failure, so a
    clean crash and a restart (tabled reloads its table, the others rebuild their state from
    it) beat carrying on with a half-made structure. czmq (zmalloc) and h2o (h2o_mem_alloc)
    do the same inside the libraries, so the whole process follows one rule. What a daemon
    takes from the network is bounded before it is allocated (frame, body and queue limits),
    so an allocation failure means the host is out of memory, not that a peer sent too much.
    The one exception is an allocation that only saves work (ocf_json's index): it may fail,
    and the work is done without it.  */
#ifndef OCF_ALLOC_H
#define OCF_ALLOC_H

#include <stddef.h>

void *ocf_malloc (size_t size);
void *ocf_calloc (size_t count, size_t size);
void *ocf_realloc (void *pointer, size_t size);
char *ocf_strdup (const char *text);
char *ocf_strndup (const char *text, size_t len);

#endif

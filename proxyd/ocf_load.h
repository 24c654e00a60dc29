/*  ocf_load: requests in flight to this host's own backends, per service, across loops.
    Counted where proxyd talks to a local backend (the /v1/_service hop, or a request routed to
    this host directly). It is this host's capacity check when routing and what proxyd reports
    to tabled (SERVICE.LOAD) so that other hosts can balance. A second table counts the same
    requests per backend address (host:port) for ocf-workerd's drains. A fixed table of atomic counters:
    loops add and read without locks; a mutex guards only the naming of a new slot.  */
#ifndef OCF_LOAD_H
#define OCF_LOAD_H

#include <stddef.h>
#include <stdint.h>

#define OCF_LOAD_SLOTS 256       //  a record holds at most 256 services

typedef struct _ocf_load_t ocf_load_t;

ocf_load_t *ocf_load_new (void);
void ocf_load_destroy (ocf_load_t **self_p);
//  The slot of a service, named on first use; -1 when the table is full.
int ocf_load_slot (ocf_load_t *self, const char *name, size_t len);
void ocf_load_add (ocf_load_t *self, int slot, int64_t delta);
int64_t ocf_load_get (ocf_load_t *self, int slot);
//  Slots in use, and their names (stable once named).
size_t ocf_load_count (ocf_load_t *self);
const char *ocf_load_name (ocf_load_t *self, int slot);

#endif

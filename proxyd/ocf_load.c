/*  ocf_load: shared in-flight counters per local service.  */
#include "ocf_load.h"
#include "ocf_alloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[65];
    int64_t inflight;
} slot_t;

struct _ocf_load_t {
    pthread_mutex_t naming;
    size_t count;                //  published with release order after the name is written
    slot_t slots[OCF_LOAD_SLOTS];
};

ocf_load_t *
ocf_load_new (void)
{
    ocf_load_t *self = ocf_calloc (1, sizeof *self);
    pthread_mutex_init (&self->naming, NULL);
    return self;
}

void
ocf_load_destroy (ocf_load_t **self_p)
{
    ocf_load_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_destroy (&self->naming);
    free (self);
    *self_p = NULL;
}

static int
s_find (ocf_load_t *self, const char *name, size_t len, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strlen (self->slots[i].name) == len && memcmp (self->slots[i].name, name, len) == 0)
            return (int) i;
    return -1;
}

int
ocf_load_slot (ocf_load_t *self, const char *name, size_t len)
{
    if (len == 0 || len >= sizeof self->slots[0].name)
        return -1;
    int slot = s_find (self, name, len, __atomic_load_n (&self->count, __ATOMIC_ACQUIRE));
    if (slot >= 0)
        return slot;
    pthread_mutex_lock (&self->naming);
    slot = s_find (self, name, len, self->count);
    if (slot < 0 && self->count < OCF_LOAD_SLOTS) {
        slot = (int) self->count;
        memcpy (self->slots[slot].name, name, len);
        self->slots[slot].name[len] = '\0';
        __atomic_store_n (&self->count, self->count + 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock (&self->naming);
    return slot;
}

void
ocf_load_add (ocf_load_t *self, int slot, int64_t delta)
{
    if (slot >= 0)
        __atomic_add_fetch (&self->slots[slot].inflight, delta, __ATOMIC_RELAXED);
}

int64_t
ocf_load_get (ocf_load_t *self, int slot)
{
    return slot >= 0 ? __atomic_load_n (&self->slots[slot].inflight, __ATOMIC_RELAXED) : 0;
}

size_t
ocf_load_count (ocf_load_t *self)
{
    return __atomic_load_n (&self->count, __ATOMIC_ACQUIRE);
}

const char *
ocf_load_name (ocf_load_t *self, int slot)
{
    return self->slots[slot].name;
}

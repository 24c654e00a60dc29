/*  ocf_outbox: rumours held while one burst of messages is handled (see ocf_outbox.h).  */
#include "ocf_outbox.h"
#include "ocf_alloc.h"

#include <stdlib.h>
#include <string.h>

#define KEPT_ITEMS 64                //  room for items a batch keeps between bursts

struct _ocf_outbox_t {
    ocf_outbox_batch_t *batches;     //  grown on demand up to max_batches; count used
    size_t count;
    size_t cap;
    size_t max_batches;
    size_t bytes;                    //  item payloads held
    size_t max_bytes;
};

ocf_outbox_t *
ocf_outbox_new (size_t max_batches, size_t max_bytes)
{
    ocf_outbox_t *self = ocf_calloc (1, sizeof *self);
    self->max_batches = max_batches ? max_batches : 1;
    self->max_bytes = max_bytes;
    return self;
}

void
ocf_outbox_destroy (ocf_outbox_t **self_p)
{
    ocf_outbox_t *self = *self_p;
    if (!self)
        return;
    ocf_outbox_clear (self);
    for (size_t i = 0; i < self->cap; i++)
        free (self->batches[i].items);
    free (self->batches);
    free (self);
    *self_p = NULL;
}

static bool
s_same (const ocf_outbox_batch_t *batch, const char *peer, const char *range_end)
{
    if (batch->ranged != (range_end != NULL) || strcmp (batch->peer, peer) != 0)
        return false;
    return !range_end || strcmp (batch->range_end, range_end) == 0;
}

//  The batch for peer and range, opened if need be; NULL when max_batches are open.
static ocf_outbox_batch_t *
s_batch (ocf_outbox_t *self, const char *peer, const char *range_end)
{
    //  From the newest: a burst's rumours mostly go on to the same few fingers in turn.
    for (size_t i = self->count; i > 0; i--)
        if (s_same (&self->batches[i - 1], peer, range_end))
            return &self->batches[i - 1];
    if (self->count == self->max_batches)
        return NULL;
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 8;
        if (cap > self->max_batches)
            cap = self->max_batches;
        self->batches = ocf_realloc (self->batches, cap * sizeof *self->batches);
        memset (&self->batches[self->cap], 0, (cap - self->cap) * sizeof *self->batches);
        self->cap = cap;
    }
    ocf_outbox_batch_t *batch = &self->batches[self->count++];
    memcpy (batch->peer, peer, OCF_ID_SIZE);
    batch->ranged = range_end != NULL;
    if (range_end)
        memcpy (batch->range_end, range_end, OCF_ID_SIZE);
    return batch;
}

bool
ocf_outbox_add (ocf_outbox_t *self, const char *peer, const char *range_end, const ocf_item_t *items, size_t count)
{
    size_t bytes = 0;
    for (size_t i = 0; i < count; i++)
        bytes += items[i].size;
    if (self->bytes + bytes > self->max_bytes)
        return false;
    ocf_outbox_batch_t *batch = s_batch (self, peer, range_end);
    if (!batch)
        return false;
    if (batch->count + count > batch->cap) {
        size_t cap = batch->cap ? batch->cap : 4;
        while (cap < batch->count + count)
            cap *= 2;
        batch->items = ocf_realloc (batch->items, cap * sizeof *batch->items);
        batch->cap = cap;
    }
    for (size_t i = 0; i < count; i++)
        batch->items[batch->count++] = ocf_wire_item_copy (&items[i]);
    self->bytes += bytes;
    return true;
}

size_t
ocf_outbox_batches (ocf_outbox_t *self)
{
    return self->count;
}

const ocf_outbox_batch_t *
ocf_outbox_batch (ocf_outbox_t *self, size_t index)
{
    return index < self->count ? &self->batches[index] : NULL;
}

void
ocf_outbox_clear (ocf_outbox_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        ocf_outbox_batch_t *batch = &self->batches[i];
        for (size_t j = 0; j < batch->count; j++)
            free ((void *) batch->items[j].data);
        batch->count = 0;
        //  An unusual burst does not keep its room: private memory stays what is in use.
        if (batch->cap > KEPT_ITEMS) {
            free (batch->items);
            batch->items = NULL;
            batch->cap = 0;
        }
    }
    self->count = 0;
    self->bytes = 0;
}

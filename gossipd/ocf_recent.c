/*  ocf_recent: bounded store of recent rumours.
    A ring of rumours in arrival order plus an open-addressing index (linear probing,
    backward-shift deletion) from key to ring slot.  */
#include "ocf_recent.h"
#include "ocf_alloc.h"

#include <stdlib.h>
#include <string.h>

#define EMPTY UINT32_MAX

struct _ocf_recent_t {
    ocf_rumour_t *ring;
    size_t cap;                  //  ring capacity (grows up to max_count)
    size_t head;                 //  oldest
    size_t count;
    uint32_t *index;             //  slot numbers, EMPTY when free; size index_cap (a power of 2)
    size_t index_cap;
    size_t max_count;
    size_t max_bytes;
    size_t bytes;
    size_t advertising;          //  rumours with adverts > 0
    int64_t ttl;
};

static size_t
s_home (const ocf_recent_t *self, uint64_t key)
{
    return (size_t) (key * 0x9E3779B97F4A7C15ULL >> 20) & (self->index_cap - 1);
}

static ocf_rumour_t *
s_slot (ocf_recent_t *self, size_t nth)
{
    return &self->ring[(self->head + nth) % self->cap];
}

static void
s_index_insert (ocf_recent_t *self, uint64_t key, uint32_t slot)
{
    size_t at = s_home (self, key);
    while (self->index[at] != EMPTY)
        at = (at + 1) & (self->index_cap - 1);
    self->index[at] = slot;
}

//  Rebuilds the index for a (new) ring layout.
static void
s_reindex (ocf_recent_t *self)
{
    for (size_t i = 0; i < self->index_cap; i++)
        self->index[i] = EMPTY;
    for (size_t n = 0; n < self->count; n++) {
        size_t slot = (self->head + n) % self->cap;
        s_index_insert (self, self->ring[slot].key, (uint32_t) slot);
    }
}

static void
s_grow (ocf_recent_t *self)
{
    size_t cap = self->cap * 2 > self->max_count ? self->max_count : self->cap * 2;
    ocf_rumour_t *ring = ocf_malloc (cap * sizeof *ring);
    for (size_t n = 0; n < self->count; n++)
        ring[n] = *s_slot (self, n);
    free (self->ring);
    self->ring = ring;
    self->cap = cap;
    self->head = 0;
    free (self->index);
    self->index_cap = 1;
    while (self->index_cap < cap * 2)
        self->index_cap *= 2;
    self->index = ocf_malloc (self->index_cap * sizeof *self->index);
    s_reindex (self);
}

static void
s_index_delete (ocf_recent_t *self, uint64_t key, uint32_t slot)
{
    size_t at = s_home (self, key);
    while (self->index[at] != slot)
        at = (at + 1) & (self->index_cap - 1);
    //  Backward shift: pull later entries of the probe chain into the hole.
    size_t hole = at;
    for (size_t next = (hole + 1) & (self->index_cap - 1); self->index[next] != EMPTY;
         next = (next + 1) & (self->index_cap - 1)) {
        size_t home = s_home (self, self->ring[self->index[next]].key);
        bool movable = hole <= next ? (home <= hole || home > next) : (home <= hole && home > next);
        if (movable) {
            self->index[hole] = self->index[next];
            hole = next;
        }
    }
    self->index[hole] = EMPTY;
}

static void
s_drop_oldest (ocf_recent_t *self)
{
    ocf_rumour_t *oldest = s_slot (self, 0);
    s_index_delete (self, oldest->key, (uint32_t) self->head);
    self->bytes -= oldest->item.size;
    self->advertising -= oldest->adverts > 0;
    free ((void *) oldest->item.data);
    self->head = (self->head + 1) % self->cap;
    self->count--;
}

ocf_recent_t *
ocf_recent_new (size_t max_count, size_t max_bytes, int64_t ttl_ms)
{
    ocf_recent_t *self = ocf_calloc (1, sizeof *self);
    self->max_count = max_count < 4 ? 4 : max_count;
    self->max_bytes = max_bytes;
    self->ttl = ttl_ms;
    self->cap = 2;
    self->ring = ocf_malloc (self->cap * sizeof *self->ring);
    self->index_cap = 4;
    self->index = ocf_malloc (self->index_cap * sizeof *self->index);
    s_reindex (self);
    return self;
}

void
ocf_recent_destroy (ocf_recent_t **self_p)
{
    ocf_recent_t *self = *self_p;
    if (!self)
        return;
    while (self->count)
        s_drop_oldest (self);
    free (self->ring);
    free (self->index);
    free (self);
    *self_p = NULL;
}

ocf_rumour_t *
ocf_recent_find (ocf_recent_t *self, uint64_t key)
{
    for (size_t at = s_home (self, key); self->index[at] != EMPTY; at = (at + 1) & (self->index_cap - 1))
        if (self->ring[self->index[at]].key == key)
            return &self->ring[self->index[at]];
    return NULL;
}

ocf_rumour_t *
ocf_recent_add (ocf_recent_t *self, uint64_t key, const ocf_item_t *item, int64_t now, uint32_t adverts)
{
    while (self->count && (self->count == self->max_count || self->bytes + item->size > self->max_bytes))
        s_drop_oldest (self);
    if (self->count == self->cap)
        s_grow (self);
    size_t slot = (self->head + self->count) % self->cap;
    ocf_rumour_t *rumour = &self->ring[slot];
    memset (rumour, 0, sizeof *rumour);
    rumour->key = key;
    rumour->item = ocf_wire_item_copy (item);
    rumour->seen_at = now;
    rumour->adverts = adverts;
    self->advertising += adverts > 0;
    self->bytes += item->size;
    self->count++;
    s_index_insert (self, key, (uint32_t) slot);
    return rumour;
}

void
ocf_recent_expire (ocf_recent_t *self, int64_t now)
{
    while (self->count && s_slot (self, 0)->seen_at + self->ttl <= now)
        s_drop_oldest (self);
}

size_t
ocf_recent_take_adverts (ocf_recent_t *self, uint64_t *keys, size_t max, uint32_t *sends)
{
    ocf_rumour_t *taken[512];
    if (max > sizeof taken / sizeof taken[0])
        max = sizeof taken / sizeof taken[0];
    size_t count = 0, seen = 0, pending = self->advertising;
    uint32_t most = 0;
    for (size_t n = self->count; n > 0 && count < max && seen < pending; n--) {
        ocf_rumour_t *rumour = s_slot (self, n - 1);
        if (!rumour->adverts)
            continue;
        seen++;
        most = rumour->adverts > most ? rumour->adverts : most;
        taken[count] = rumour;
        keys[count++] = rumour->key;
    }
    //  No more transmissions than the keys still owe.
    if (*sends > most)
        *sends = most;
    for (size_t i = 0; i < count; i++) {
        ocf_rumour_t *rumour = taken[i];
        rumour->adverts = rumour->adverts > *sends ? rumour->adverts - *sends : 0;
        self->advertising -= rumour->adverts == 0;
    }
    return count;
}

size_t
ocf_recent_catch_up (ocf_recent_t *self, int64_t since, const ocf_rumour_t **out, size_t max)
{
    size_t count = 0;
    for (size_t n = self->count; n > 0 && count < max; n--) {
        const ocf_rumour_t *rumour = s_slot (self, n - 1);
        if (rumour->seen_at < since)
            break;
        if (rumour->catch_up)
            out[count++] = rumour;
    }
    return count;
}

size_t ocf_recent_size (ocf_recent_t *self) { return self->count; }
size_t ocf_recent_bytes (ocf_recent_t *self) { return self->bytes; }

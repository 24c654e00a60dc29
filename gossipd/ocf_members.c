/*  ocf_members: sorted membership view.  */
#include "ocf_members.h"
#include "ocf_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _ocf_members_t {
    ocf_peer_t *items;
    size_t count;
    size_t cap;
    size_t live;
};

bool
ocf_peer_live (const ocf_peer_t *member)
{
    return member->status == OCF_STATUS_ALIVE || member->status == OCF_STATUS_SUSPECT;
}

ocf_members_t *
ocf_members_new (void)
{
    return ocf_calloc (1, sizeof (ocf_members_t));
}

void
ocf_members_clear (ocf_members_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        free (self->items[i].endpoint);
    self->count = 0;
    self->live = 0;
}

void
ocf_members_destroy (ocf_members_t **self_p)
{
    ocf_members_t *self = *self_p;
    if (!self)
        return;
    ocf_members_clear (self);
    free (self->items);
    free (self);
    *self_p = NULL;
}

ocf_members_t *
ocf_members_dup (const ocf_members_t *self)
{
    ocf_members_t *copy = ocf_members_new ();
    copy->cap = copy->count = self->count;
    copy->live = self->live;
    copy->items = ocf_malloc ((self->count ? self->count : 1) * sizeof *copy->items);
    memcpy (copy->items, self->items, self->count * sizeof *copy->items);
    for (size_t i = 0; i < self->count; i++)
        if (self->items[i].endpoint)
            copy->items[i].endpoint = ocf_strdup (self->items[i].endpoint);
    return copy;
}

size_t
ocf_members_lower_bound (const ocf_members_t *self, const char *id)
{
    size_t low = 0, high = self->count;
    while (low < high) {
        size_t middle = (low + high) / 2;
        if (strcmp (self->items[middle].id, id) < 0)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

const ocf_peer_t *
ocf_members_get (const ocf_members_t *self, const char *id)
{
    size_t index = ocf_members_lower_bound (self, id);
    return index < self->count && strcmp (self->items[index].id, id) == 0 ? &self->items[index] : NULL;
}

int
ocf_members_set (ocf_members_t *self, const char *id, uint64_t generation, uint64_t incarnation,
                 ocf_status_t status, const char *endpoint)
{
    size_t index = ocf_members_lower_bound (self, id);
    int mask = 0;
    ocf_peer_t *member;
    if (index < self->count && strcmp (self->items[index].id, id) == 0) {
        member = &self->items[index];
        self->live -= ocf_peer_live (member);
    }
    else {
        if (self->count == self->cap) {
            self->cap = self->cap ? self->cap * 2 : 16;
            self->items = ocf_realloc (self->items, self->cap * sizeof *self->items);
        }
        memmove (&self->items[index + 1], &self->items[index], (self->count - index) * sizeof *self->items);
        self->count++;
        member = &self->items[index];
        memset (member, 0, sizeof *member);
        snprintf (member->id, sizeof member->id, "%s", id);
        mask |= OCF_MEMBERS_ADDED;
    }
    if (member->generation != generation || member->incarnation != incarnation || member->status != status)
        mask |= OCF_MEMBERS_STATUS;
    member->generation = generation;
    member->incarnation = incarnation;
    member->status = status;
    if (endpoint && (!member->endpoint || strcmp (member->endpoint, endpoint) != 0)) {
        free (member->endpoint);
        member->endpoint = ocf_strdup (endpoint);
        mask |= OCF_MEMBERS_ENDPOINT;
    }
    self->live += ocf_peer_live (member);
    return mask;
}

bool
ocf_members_remove (ocf_members_t *self, const char *id)
{
    size_t index = ocf_members_lower_bound (self, id);
    if (index >= self->count || strcmp (self->items[index].id, id) != 0)
        return false;
    self->live -= ocf_peer_live (&self->items[index]);
    free (self->items[index].endpoint);
    memmove (&self->items[index], &self->items[index + 1], (self->count - index - 1) * sizeof *self->items);
    self->count--;
    return true;
}

size_t ocf_members_size (const ocf_members_t *self) { return self->count; }
size_t ocf_members_live (const ocf_members_t *self) { return self->live; }

const ocf_peer_t *
ocf_members_at (const ocf_members_t *self, size_t index)
{
    return index < self->count ? &self->items[index] : NULL;
}

/*  prefix_cache: an LRU of chain hashes.  */
#include "prefix_cache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#define NONE SIZE_MAX

typedef struct {
    uint64_t hash;
    size_t newer, older;         //  the LRU list
    size_t next;                 //  the bucket's chain
} entry_t;

struct _prefix_cache_t {
    pthread_mutex_t lock;
    entry_t *entries;
    size_t capacity, count;
    size_t newest, oldest;
    size_t *buckets;
    size_t bucket_mask;
};

prefix_cache_t *
prefix_cache_new (size_t capacity)
{
    prefix_cache_t *self = calloc (1, sizeof *self);
    size_t buckets = 16;
    while (buckets < capacity * 2)
        buckets *= 2;
    self->entries = calloc (capacity, sizeof *self->entries);
    self->buckets = malloc (buckets * sizeof *self->buckets);
    if (!self->entries || !self->buckets)
        abort ();
    for (size_t i = 0; i < buckets; i++)
        self->buckets[i] = NONE;
    self->bucket_mask = buckets - 1;
    self->capacity = capacity;
    self->newest = self->oldest = NONE;
    pthread_mutex_init (&self->lock, NULL);
    return self;
}

void
prefix_cache_destroy (prefix_cache_t **self_p)
{
    prefix_cache_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_destroy (&self->lock);
    free (self->entries);
    free (self->buckets);
    free (self);
    *self_p = NULL;
}

static size_t
s_find (prefix_cache_t *self, uint64_t hash)
{
    for (size_t i = self->buckets[hash & self->bucket_mask]; i != NONE; i = self->entries[i].next)
        if (self->entries[i].hash == hash)
            return i;
    return NONE;
}

static void
s_unlink (prefix_cache_t *self, size_t i)
{
    entry_t *entry = &self->entries[i];
    if (entry->newer != NONE)
        self->entries[entry->newer].older = entry->older;
    else
        self->newest = entry->older;
    if (entry->older != NONE)
        self->entries[entry->older].newer = entry->newer;
    else
        self->oldest = entry->newer;
}

static void
s_push (prefix_cache_t *self, size_t i)
{
    entry_t *entry = &self->entries[i];
    entry->newer = NONE;
    entry->older = self->newest;
    if (self->newest != NONE)
        self->entries[self->newest].newer = i;
    self->newest = i;
    if (self->oldest == NONE)
        self->oldest = i;
}

//  Takes the least recently used entry out of the list and its bucket.
static size_t
s_evict (prefix_cache_t *self)
{
    size_t i = self->oldest;
    s_unlink (self, i);
    size_t *link = &self->buckets[self->entries[i].hash & self->bucket_mask];
    while (*link != i)
        link = &self->entries[*link].next;
    *link = self->entries[i].next;
    return i;
}

size_t
prefix_cache_use (prefix_cache_t *self, const uint64_t *chain, size_t n)
{
    pthread_mutex_lock (&self->lock);
    size_t hits = 0;
    bool hitting = true;
    for (size_t b = 0; b < n; b++) {
        size_t i = s_find (self, chain[b]);
        if (i != NONE) {
            hits += hitting;
            s_unlink (self, i);
        }
        else {
            hitting = false;
            i = self->count < self->capacity ? self->count++ : s_evict (self);
            self->entries[i].hash = chain[b];
            size_t *bucket = &self->buckets[chain[b] & self->bucket_mask];
            self->entries[i].next = *bucket;
            *bucket = i;
        }
        s_push (self, i);
    }
    pthread_mutex_unlock (&self->lock);
    return hits;
}

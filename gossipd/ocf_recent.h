/*  ocf_recent: the rumours this node saw lately, bounded in count, bytes and age.
    Dissemination needs to know, for every item arriving, whether it was seen before (an item
    is forwarded once), to answer a peer's WANT with the item itself, and which keys are still
    to be advertised in IHAVE rounds. Insertion order is age: the oldest go first when a bound
    is reached or their time to live ends. Starts small and grows with use, so ten thousand
    simulated nodes with a rumour or two each stay cheap.  */
#ifndef OCF_RECENT_H
#define OCF_RECENT_H

#include "ocf_wire.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t key;                //  ocf_wire_item_key of the item
    ocf_item_t item;             //  a copy; data owned by the store
    int64_t seen_at;
    uint32_t adverts;            //  IHAVE transmissions still to make
    bool spread;                 //  already pushed down the dissemination tree
    bool catch_up;               //  offered to peers that reach us after a silence (a death)
} ocf_rumour_t;

typedef struct _ocf_recent_t ocf_recent_t;

ocf_recent_t *ocf_recent_new (size_t max_count, size_t max_bytes, int64_t ttl_ms);
void ocf_recent_destroy (ocf_recent_t **self_p);

ocf_rumour_t *ocf_recent_find (ocf_recent_t *self, uint64_t key);
//  Stores a copy of item (the caller checked it is new). May evict the oldest rumours.
ocf_rumour_t *ocf_recent_add (ocf_recent_t *self, uint64_t key, const ocf_item_t *item, int64_t now, uint32_t adverts);
//  Forgets rumours older than the time to live.
void ocf_recent_expire (ocf_recent_t *self, int64_t now);
//  Collects up to max (at most 512) keys still to advertise, newest first, and counts *sends
//  transmissions against each; *sends is lowered to what the keys still owe. Returns how
//  many keys were written.
size_t ocf_recent_take_adverts (ocf_recent_t *self, uint64_t *keys, size_t max, uint32_t *sends);
//  Up to max of the rumours marked catch_up seen at since or later, newest first.
size_t ocf_recent_catch_up (ocf_recent_t *self, int64_t since, const ocf_rumour_t **out, size_t max);
size_t ocf_recent_size (ocf_recent_t *self);
size_t ocf_recent_bytes (ocf_recent_t *self);

#endif

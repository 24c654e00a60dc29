/*  ocf_outbox: rumours held while one burst of messages is handled, one batch per peer and
    range. A node that falls behind (a loaded host, a split or a heal, when every node
    spreads a verdict or a refutation at once) finds many messages waiting when it runs
    again, and each rumour among them would go on to the same few fingers as a message of
    its own: a RUMOUR per item per finger. Held until the burst is handled, the items for
    the same finger and range leave in one RUMOUR. An idle node's burst is one message, so
    this costs no latency; the busier the node, the more it saves (Nagle's rule, with the
    end of the burst for a timer). Bounded in batches and bytes: the caller sends what is
    held when an add is refused.  */
#ifndef OCF_OUTBOX_H
#define OCF_OUTBOX_H

#include "ocf_wire.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct _ocf_outbox_t ocf_outbox_t;

//  Items held for one peer: to keep (no range) or to pass on to the ring interval (peer, range_end).
typedef struct {
    char peer[OCF_ID_SIZE];
    bool ranged;
    char range_end[OCF_ID_SIZE];
    ocf_item_t *items;               //  copies, data owned by the outbox
    size_t count;
    size_t cap;
} ocf_outbox_batch_t;

ocf_outbox_t *ocf_outbox_new (size_t max_batches, size_t max_bytes);
void ocf_outbox_destroy (ocf_outbox_t **self_p);
//  Holds copies of items for peer (range_end NULL: no range), after what it holds for the
//  same peer and range. False, holding nothing, when that would pass a bound.
bool ocf_outbox_add (ocf_outbox_t *self, const char *peer, const char *range_end, const ocf_item_t *items, size_t count);
size_t ocf_outbox_batches (ocf_outbox_t *self);
//  The batches held, in the order they were opened, until ocf_outbox_clear.
const ocf_outbox_batch_t *ocf_outbox_batch (ocf_outbox_t *self, size_t index);
void ocf_outbox_clear (ocf_outbox_t *self);

#endif

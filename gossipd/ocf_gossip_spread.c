/*  ocf_gossip_spread: dissemination of rumours (membership verdicts, record deltas,
    tombstones), and the active view it runs on.
    The active view of a node is what it keeps talking to, bounded by about 2 log2(N) + 2K
    whatever N: its fingers, the live members 1, 2, 4, 8, ... places after it on the id
    ring, and its K ring neighbours on each side. Eager push goes down a tree laid on the
    fingers (Chord broadcast): a node handed the ring interval (itself, end) sends the rumour
    to each of its fingers inside it, naming the next finger (or end) as that finger's end;
    each receiver does the same within its range. Suspects that stay silent are left out of
    the tree, each getting its copy as a leaf, so that a split's far side does not swallow
    whole subtrees. With views that agree, every live node
    gets each rumour exactly once, after at most log2(N) hops and N-1 messages in all, and
    every message travels along a finger. Views disagree during churn and nodes crash, so
    every node then advertises the keys of its recent rumours (IHAVE, 8 bytes each) to
    `fanout` peers per round, half of them peers it heard from lately (suspects included:
    those run) and half random live peers of its active view, a bounded number of times
    (retransmit_mult * ceil(log10(N+1)), twice that for a death verdict, none for a
    suspicion); a peer missing one asks for it (WANT). Nothing is sent when nothing is new.
    A peer that reaches us after a silence is offered the recent deaths (a split's side
    finding itself). Anything still
    missing after that is the business of anti-entropy. What a burst of received messages
    passes on is held in the outbox and leaves as one RUMOUR per peer and range.  */
#include "ocf_gossip_internal.h"
#include "ocf_alloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 512                 //  keys per IHAVE or WANT
#define CATCH_UP_MS 10000            //  how far back the deaths offered to a new contact go
#define RUMOUR_OVERHEAD 64           //  header bytes of a RUMOUR besides its items

static uint32_t
s_retransmits (ocf_gossip_t *self)
{
    double live = (double) ocf_members_live (self->view);
    uint32_t count = (uint32_t) (self->config.retransmit_mult * ceil (log10 (live + 1)));
    return count ? count : 1;
}

//  A new rumour into the recent store, with the IHAVE sends it is owed.
//  * A death verdict twice as many: in a split it is made while the other side's nodes
//    still stand in views, and the tree hands ranges to them, lost with them; the members
//    of those ranges only get the verdict from an advert, or from anti-entropy seconds
//    later (the tails of "a far node's death, first table -> every table" that made the
//    last observers of a split late). It is also offered to the peers that reach us after
//    a silence (s_catch_up).
//  * Refutations the usual number: a heal brings them by the hundred, and their WANTs would
//    race the tree's copies.
//  * A suspicion none: it goes down the tree, straight to the accused and to the suspect's
//    other observers, which is all the failure detector needs of it, and its death verdict
//    or its refutation follows within seconds. In a split every far node is suspected at
//    once, and those adverts, their WANTs and the copies fetched were half of what a node
//    handled while the tree was broken: at 128 real processes split in halves, the later
//    side declared the other dead in 5.2-6.0 s instead of 6.3-6.8 s without them
//    (docs/benchmarks.md).
static ocf_rumour_t *
s_remember (ocf_gossip_t *self, uint64_t key, const ocf_item_t *item)
{
    ocf_wire_member_t member;
    bool membership = item->kind == OCF_ITEM_MEMBER && ocf_wire_member_decode (item->data, item->size, &member) == 0;
    bool death = membership && member.status == OCF_STATUS_DEAD;
    uint32_t adverts = death ? 2 * s_retransmits (self)
                     : membership && member.status == OCF_STATUS_SUSPECT ? 0 : s_retransmits (self);
    ocf_rumour_t *rumour = ocf_recent_add (self->recent, key, item, self->now, adverts);
    rumour->catch_up = death;
    return rumour;
}

//  Sends items to one peer now, in as many frames as max_frame needs.
static void
s_send_now (ocf_gossip_t *self, const char *peer, const char *range_end, const ocf_item_t *items, size_t count)
{
    ocf_wire_msg_t msg = { .type = OCF_WIRE_RUMOUR, .flags = range_end ? OCF_WIRE_RANGE : 0 };
    if (range_end)
        memcpy (msg.target, range_end, OCF_ID_SIZE);
    size_t budget = self->config.max_frame - RUMOUR_OVERHEAD;
    size_t first = 0;
    while (first < count) {
        size_t used = 0, last = first;
        while (last < count && (last == first || used + ocf_wire_item_size (&items[last]) <= budget))
            used += ocf_wire_item_size (&items[last++]);
        msg.items = (ocf_item_t *) &items[first];
        msg.item_count = last - first;
        ocf_gossip_send (self, peer, &msg);
        first = last;
    }
}

void
ocf_gossip_flush (ocf_gossip_t *self)
{
    for (size_t i = 0; i < ocf_outbox_batches (self->outbox); i++) {
        const ocf_outbox_batch_t *batch = ocf_outbox_batch (self->outbox, i);
        s_send_now (self, batch->peer, batch->ranged ? batch->range_end : NULL, batch->items, batch->count);
    }
    ocf_outbox_clear (self->outbox);
}

//  Sends items to one peer: held in the outbox while a burst of messages is handled
//  (ocf_gossip_receive), so that a burst's rumours for the same peer and range leave
//  together; at once otherwise.
static void
s_send_rumour (ocf_gossip_t *self, const char *peer, const char *range_end, const ocf_item_t *items, size_t count)
{
    if (!self->holding)
        s_send_now (self, peer, range_end, items, count);
    else
    if (!ocf_outbox_add (self->outbox, peer, range_end, items, count)) {
        ocf_gossip_flush (self);
        if (!ocf_outbox_add (self->outbox, peer, range_end, items, count))
            s_send_now (self, peer, range_end, items, count);
    }
}

void
ocf_gossip_send_items (ocf_gossip_t *self, const char *peer, const ocf_item_t *items, size_t count, bool onward)
{
    //  Onward: the whole ring as seen from the peer, which pushes it down a tree of its own.
    s_send_rumour (self, peer, onward ? peer : NULL, items, count);
}

//  True when x lies strictly inside the ring interval (from, to); from == to is the whole
//  ring but from itself.
static bool
s_in_interval (const char *from, const char *x, const char *to)
{
    int from_to = strcmp (from, to);
    if (from_to == 0)
        return strcmp (x, from) != 0;
    if (from_to < 0)
        return strcmp (from, x) < 0 && strcmp (x, to) < 0;
    return strcmp (x, from) > 0 || strcmp (x, to) < 0;
}

//  Pushes items to the live members of the ring interval (self, end): to the members 1, 2,
//  4, ... places after this node (its fingers), each handed the range up to the next.
static void
s_push_down (ocf_gossip_t *self, const ocf_item_t *items, size_t count, const char *end)
{
    size_t size = ocf_members_size (self->view);
    if (!size || !count)
        return;
    const ocf_peer_t **range = ocf_malloc (size * sizeof *range);
    size_t live = 0;
    size_t start = ocf_members_lower_bound (self->view, self->id);
    for (size_t n = 0; n < size; n++) {
        const ocf_peer_t *member = ocf_members_at (self->view, (start + n) % size);
        if (strcmp (member->id, self->id) == 0)
            continue;
        if (!s_in_interval (self->id, member->id, end))
            break;
        if (!ocf_peer_live (member))
            continue;
        //  Not through suspects that stay silent: a child that does not answer loses its
        //  whole subrange until repair, and in a split the far side's nodes are suspects
        //  first. Each still gets its copy, as a leaf, from the member before it on the
        //  ring (the one whose range it falls in first); a suspect that still reaches us
        //  (slow, not gone) keeps its place in the tree.
        if (member->status == OCF_STATUS_SUSPECT && !ocf_gossip_heard_lately (self, member->id)) {
            if (live == 0)
                s_send_rumour (self, member->id, NULL, items, count);
            continue;
        }
        range[live++] = member;
    }
    for (size_t low = 0; low < live; low = 2 * low + 1) {
        size_t high = 2 * low + 1;
        s_send_rumour (self, range[low]->id, high < live ? range[high]->id : end, items, count);
        self->stats.rumours_forwarded++;
    }
    free (range);
}

static void
s_active_add (ocf_gossip_t *self, const char *id)
{
    ocf_gossip_id_set_add (self->active, &self->active_count, MAX_ACTIVE, id);
}

void
ocf_gossip_active_refresh (ocf_gossip_t *self)
{
    self->active_count = 0;
    size_t size = ocf_members_size (self->view);
    size_t start = ocf_members_lower_bound (self->view, self->id);
    size_t place = 0, next_finger = 1, neighbours = 0;
    for (size_t n = 0; n < size; n++) {
        const ocf_peer_t *member = ocf_members_at (self->view, (start + n) % size);
        if (!ocf_peer_live (member) || strcmp (member->id, self->id) == 0)
            continue;
        if (++place == next_finger) {
            s_active_add (self, member->id);
            next_finger *= 2;
        }
    }
    for (size_t n = 0; n < size && neighbours < (size_t) self->config.observers; n++) {
        const ocf_peer_t *member = ocf_members_at (self->view, (start + size - 1 - n) % size);
        if (ocf_peer_live (member) && strcmp (member->id, self->id) != 0) {
            s_active_add (self, member->id);
            neighbours++;
        }
    }
    for (int i = 0; i < self->observer_count; i++)
        s_active_add (self, self->observers[i]);
}

size_t
ocf_gossip_active_peers (ocf_gossip_t *self, const ocf_peer_t **out, size_t found, size_t want, const char *except)
{
    //  From a random place of the active view on: random enough for IHAVE rounds, helpers
    //  and anti-entropy partners, and each chosen once.
    size_t count = self->active_count;
    size_t start = count ? (size_t) (ocf_gossip_random (self) % count) : 0;
    for (size_t n = 0; n < count && found < want; n++) {
        const char *id = self->active[(start + n) % count];
        const ocf_peer_t *member = ocf_members_get (self->view, id);
        if (!member || member->status != OCF_STATUS_ALIVE || (except && strcmp (id, except) == 0))
            continue;
        bool chosen = false;
        for (size_t i = 0; i < found && !chosen; i++)
            chosen = out[i] == member;
        if (!chosen)
            out[found++] = member;
    }
    return found;
}

bool
ocf_gossip_seen (ocf_gossip_t *self, const ocf_item_t *item)
{
    return ocf_recent_find (self->recent, ocf_wire_item_key (item)) != NULL;
}

void
ocf_gossip_spread (ocf_gossip_t *self, const ocf_item_t *items, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        uint64_t key = ocf_wire_item_key (&items[i]);
        ocf_rumour_t *rumour = ocf_recent_find (self->recent, key);
        if (!rumour)
            rumour = s_remember (self, key, &items[i]);
        rumour->spread = true;
    }
    s_push_down (self, items, count, self->id);
}

void
ocf_gossip_on_rumour (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg)
{
    ocf_item_t *fresh = ocf_malloc ((msg->item_count + 1) * sizeof *fresh);
    ocf_item_t *onward = ocf_malloc ((msg->item_count + 1) * sizeof *onward);
    size_t fresh_count = 0, onward_count = 0;
    for (size_t i = 0; i < msg->item_count; i++) {
        const ocf_item_t *item = &msg->items[i];
        if (self->env.admit && !self->env.admit (self->env.arg, item))
            continue;
        uint64_t key = ocf_wire_item_key (item);
        ocf_rumour_t *rumour = ocf_recent_find (self->recent, key);
        if (rumour)
            self->stats.rumours_duplicate++;
        else {
            self->stats.rumours_new++;
            rumour = s_remember (self, key, item);
            fresh[fresh_count++] = *item;
        }
        //  Another observer's verdict of a state seen before has the same key (it is not
        //  merged or passed on again), yet it confirms our suspicion, or names an accuser.
        ocf_wire_member_t member;
        if (item->kind == OCF_ITEM_MEMBER && ocf_wire_member_decode (item->data, item->size, &member) == 0)
            ocf_gossip_detect_on_member (self, item->id, &member);
        //  A copy that came by repair first still owes its subtree the tree push.
        if ((msg->flags & OCF_WIRE_RANGE) && !rumour->spread) {
            rumour->spread = true;
            onward[onward_count++] = *item;
        }
    }
    if (fresh_count)
        self->env.merge (self->env.arg, from, fresh, fresh_count);
    if (onward_count)
        s_push_down (self, onward, onward_count, msg->target);
    free (fresh);
    free (onward);
}

void
ocf_gossip_on_ihave (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg)
{
    uint64_t wanted[MAX_KEYS];
    size_t count = 0;
    for (size_t i = 0; i < msg->key_count && count < MAX_KEYS; i++)
        if (!ocf_recent_find (self->recent, msg->keys[i]))
            wanted[count++] = msg->keys[i];
    if (!count)
        return;
    ocf_wire_msg_t want = { .type = OCF_WIRE_WANT, .keys = wanted, .key_count = count };
    ocf_gossip_send (self, from, &want);
    self->stats.wants_sent++;
}

void
ocf_gossip_on_want (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg)
{
    size_t limit = msg->key_count < MAX_KEYS ? msg->key_count : MAX_KEYS;
    ocf_item_t *items = ocf_malloc ((limit + 1) * sizeof *items);
    size_t count = 0;
    for (size_t i = 0; i < limit; i++) {
        ocf_rumour_t *rumour = ocf_recent_find (self->recent, msg->keys[i]);
        if (rumour)
            items[count++] = rumour->item;
    }
    if (count) {
        ocf_gossip_send_items (self, from, items, count, false);
        self->stats.wants_served++;
    }
    free (items);
}

void
ocf_gossip_spread_new_contact (ocf_gossip_t *self, const char *peer)
{
    ocf_gossip_id_set_add (self->catch_up, &self->catch_up_count, MAX_CONTACTS, peer);
}

static bool
s_among (const ocf_rumour_t **deaths, size_t count, const char *id)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp (deaths[i]->item.id, id) == 0)
            return true;
    return false;
}

//  The peers that reached us after a silence are offered the keys of the recent death
//  verdicts, when there are several (a split, a rack; a lone death goes down an intact
//  tree). In a split a death is advertised in its first rounds, while each node of a side
//  has hardly heard from another of that side; a member of this side that nobody
//  reached then (its observers, the members it watches and most of its active view across
//  the cut) got it only from anti-entropy, seconds later, once its own sweep found members
//  of this side (simulated, 10 % of 256 cut off: 2.5-3.8 s from a far node's first table
//  to every table of its side in 3 seeds of 10). The peer asks for what it lacks (WANT).
static void
s_catch_up (ocf_gossip_t *self)
{
    size_t owed = self->catch_up_count;
    self->catch_up_count = 0;
    const ocf_rumour_t *deaths[MAX_KEYS];
    size_t count = owed ? ocf_recent_catch_up (self->recent, self->now - CATCH_UP_MS, deaths, MAX_KEYS) : 0;
    if (count < 2)
        return;
    uint64_t keys[MAX_KEYS];
    for (size_t i = 0; i < count; i++)
        keys[i] = deaths[i]->key;
    ocf_wire_msg_t ihave = { .type = OCF_WIRE_IHAVE, .keys = keys, .key_count = count };
    for (size_t i = 0; i < owed; i++) {
        //  Not to a member whose own death is among them: after a heal that is the whole far
        //  side, reaching us at once, and its refutations bring it what it lacks (offered
        //  to it too, these adverts added a third to what a node handled in a 128-node heal).
        const ocf_peer_t *member = ocf_members_get (self->view, self->catch_up[i]);
        if (member && ocf_peer_live (member) && !s_among (deaths, count, member->id)) {
            ocf_gossip_send (self, member->id, &ihave);
            self->stats.catch_ups++;
        }
    }
}

void
ocf_gossip_spread_tick (ocf_gossip_t *self)
{
    ocf_recent_expire (self->recent, self->now);
    if (self->now < self->next_round)
        return;
    self->next_round += self->config.gossip_interval_ms;
    if (self->next_round <= self->now)
        self->next_round = self->now + self->config.gossip_interval_ms;
    s_catch_up (self);
    uint64_t keys[MAX_KEYS];
    uint32_t sends = (uint32_t) (self->config.fanout < MAX_OBSERVERS ? self->config.fanout : MAX_OBSERVERS);
    if (ocf_members_live (self->view) < 2)
        return;                      //  nobody to tell: keep the adverts for later
    size_t key_count = ocf_recent_take_adverts (self->recent, keys, MAX_KEYS, &sends);
    if (!key_count)
        return;
    //  Half of them peers that reached us lately, from a random one on: in a partition,
    //  whatever the active view holds, members of our side, so that what this side declares
    //  spreads on it (the tree's children and fingers are half on the far side). Suspects
    //  among them too: one that reached us lately is slow, not gone, and the other ways a
    //  rumour travels pass it over while it is suspected (the tree, unless it is the first
    //  after its sender; the random half, live members only).
    const ocf_peer_t *peers[MAX_OBSERVERS], *recent[MAX_CONTACTS];
    size_t count = 0, recent_count = ocf_gossip_recent_contacts (self, recent, MAX_CONTACTS, NULL, true);
    size_t first = recent_count ? (size_t) (ocf_gossip_random (self) % recent_count) : 0;
    for (size_t n = 0; n < recent_count && count < sends / 2; n++)
        peers[count++] = recent[(first + n) % recent_count];
    count = ocf_gossip_active_peers (self, peers, count, sends, NULL);
    ocf_wire_msg_t ihave = { .type = OCF_WIRE_IHAVE, .keys = keys, .key_count = key_count };
    for (size_t i = 0; i < count; i++)
        ocf_gossip_send (self, peers[i]->id, &ihave);
}

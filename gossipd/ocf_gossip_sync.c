/*  ocf_gossip_sync: anti-entropy and snapshots.
    Anti-entropy (Scuttlebutt over hashed digests) repairs whatever dissemination missed.
    It starts when a heartbeat shows an observer's table root differing from ours for a whole
    interval (or for several, whatever the roots), when a random peer's AE_SYN (8 bytes of
    root, every anti_entropy_interval) does, at once again after an exchange that found
    real differences, and a heartbeat interval after this node refuted a suspicion of itself
    (while suspected, dissemination passed it over). The driver D and the
    other side O narrow the difference down level by level, asking their tables each time:
        D -> O  AE_GROUPS   root + 16 group hashes (a group = 16 of the 256 buckets)
        O -> D  AE_BUCKETS  the bucket hashes of the groups that differ (none: in sync)
        D -> O  AE_DIGESTS  D's per-entry digests of the buckets that differ
        O -> D  AE_DELTA    O's entries that are newer, and the ids O wants from D
        D -> O  AE_ITEMS    those entries
    Every message stays within max_frame; what does not fit is left for the next round.
    Snapshots: a joining node pulls the whole table in pages (deflated), resuming from its
    cursor with another node when one goes silent; a node serves max_snapshots joiners at
    once and answers others SNAP_BUSY with other members to ask.  */
#include "ocf_gossip_internal.h"
#include "ocf_alloc.h"
#include "ocf_hash.h"
#include "ocf_table.h"

#include <stdlib.h>
#include <string.h>

#define SNAP_SESSION_IDLE_MS 10000
#define BUSY_BACKOFF_MIN_MS 200
#define BUSY_BACKOFF_MAX_MS 5000
#define BUSY_ALTERNATIVES 4

static uint64_t
s_group_hash (const uint64_t *buckets, int group)
{
    uint64_t h = 0x67726f7570ULL;
    for (int b = 0; b < OCF_WIRE_GROUPS; b++)
        h = ocf_hash_u64 (h, buckets[group * OCF_WIRE_GROUPS + b]);
    return h;
}

static ocf_digest_t *
s_digests_copy (const ocf_digest_t *digests, size_t count)
{
    ocf_digest_t *copy = ocf_malloc ((count + 1) * sizeof *copy);
    if (count)
        memcpy (copy, digests, count * sizeof *copy);
    return copy;
}

static size_t
s_budget (ocf_gossip_t *self)
{
    return self->config.max_frame / 2;
}

//  Merges what a peer sent by anti-entropy or snapshot (not passed on: these are repairs).
static void
s_merge_admitted (ocf_gossip_t *self, const char *peer, const ocf_item_t *items, size_t count)
{
    ocf_item_t *admitted = ocf_malloc ((count + 1) * sizeof *admitted);
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        if (self->env.admit && !self->env.admit (self->env.arg, &items[i]))
            continue;
        admitted[kept++] = items[i];
        //  Our own entry, sent back to us, may say we are dead (a partition that healed):
        //  the refutation our table makes then goes straight back to this peer.
        if (strcmp (items[i].id, self->id) == 0 && items[i].kind != OCF_ITEM_TOMBSTONE)
            ocf_gossip_detect_accused_by (self, peer);
    }
    if (kept)
        self->env.merge (self->env.arg, peer, admitted, kept);
    free (admitted);
}

//  --------------------------------------------------------------------------
//  Anti-entropy we drive

static void
s_drive_end (ocf_gossip_t *self, bool failed)
{
    drive_t *drive = &self->drive;
    if (!drive->active)
        return;
    drive->active = false;
    if (drive->repaired)
        self->stats.ae_repaired++;
    //  More than one exchange could carry: go on at once, with another peer. Real
    //  differences: go on a heartbeat interval later, instead of waiting for the next
    //  interval. At once, a heal chained 5-6 exchanges per node while its refutations were
    //  still on their way as rumours, and half of what they carried was stale by the time
    //  tabled merged it: 128 real processes healed in 6.5-6.8 s instead of 6.7-8.0 s with
    //  the wait, on 8 % less CPU (simulated, where messages cost nothing, heals took
    //  0.3-1.3 s instead of 0.3-0.8 s).
    self->sync_again = !failed && drive->truncated;
    if (!failed && drive->repaired && !drive->truncated) {
        int64_t at = self->now + self->config.heartbeat_interval_ms;
        if (!self->exchange_due_at || at < self->exchange_due_at)
            self->exchange_due_at = at;
    }
}

static bool
s_drive_matches (ocf_gossip_t *self, const char *peer, uint32_t nonce)
{
    return self->drive.active && self->drive.nonce == nonce && strcmp (self->drive.peer, peer) == 0;
}

void
ocf_gossip_sync_start (ocf_gossip_t *self, const char *peer)
{
    drive_t *drive = &self->drive;
    if (drive->active || strcmp (peer, self->id) == 0)
        return;
    memset (drive, 0, sizeof *drive);
    drive->active = true;
    snprintf (drive->peer, sizeof drive->peer, "%s", peer);
    drive->nonce = (uint32_t) ocf_gossip_random (self);
    drive->deadline = self->now + 2 * self->config.query_timeout_ms;
    self->stats.ae_started++;
    ocf_query_t query = { .kind = OCF_QUERY_BUCKETS };
    if (!ocf_gossip_query (self, PENDING_DRIVE_BUCKETS, peer, drive->nonce, &query))
        s_drive_end (self, true);
}

static void
s_on_buckets (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg)
{
    drive_t *drive = &self->drive;
    if (!s_drive_matches (self, from, msg->nonce))
        return;
    if (!msg->mask) {
        self->stats.ae_in_sync++;
        s_drive_end (self, false);
        return;
    }
    uint8_t differing[256];
    size_t count = 0, next_hash = 0;
    for (int group = 0; group < OCF_WIRE_GROUPS; group++) {
        if (!(msg->mask & (1u << group)))
            continue;
        for (int b = 0; b < OCF_WIRE_GROUPS; b++) {
            int bucket = group * OCF_WIRE_GROUPS + b;
            if (msg->hashes[next_hash++] != drive->buckets[bucket])
                differing[count++] = (uint8_t) bucket;
        }
    }
    if (!count) {
        s_drive_end (self, false);
        return;
    }
    //  Ask for as many buckets as our digests of them are likely to fit in one message,
    //  starting at a random one so that repeated rounds cover them all.
    size_t per_bucket = (size_t) (self->entries / 256) + 1;
    size_t fit = s_budget (self) / (ocf_wire_digest_size () * per_bucket * 2);
    size_t take = fit < 1 ? 1 : fit < count ? fit : count;
    drive->truncated = take < count;
    size_t start = drive->truncated ? (size_t) (ocf_gossip_random (self) % count) : 0;
    uint8_t chosen[256];
    for (size_t i = 0; i < take; i++)
        chosen[i] = differing[(start + i) % count];
    //  Buckets travel in increasing order.
    for (size_t i = 1; i < take; i++)
        for (size_t j = i; j > 0 && chosen[j - 1] > chosen[j]; j--) {
            uint8_t swap = chosen[j];
            chosen[j] = chosen[j - 1];
            chosen[j - 1] = swap;
        }
    ocf_query_t query = { .kind = OCF_QUERY_DIGESTS, .buckets = chosen, .bucket_count = take };
    pending_t *pending = ocf_gossip_query (self, PENDING_DRIVE_DIGESTS, from, msg->nonce, &query);
    if (!pending) {
        s_drive_end (self, true);
        return;
    }
    memcpy (pending->buckets, chosen, take);
    pending->bucket_count = take;
}

static int
s_digest_bucket_compare (const void *a, const void *b)
{
    unsigned x = ocf_table_bucket_of (((const ocf_digest_t *) a)->id);
    unsigned y = ocf_table_bucket_of (((const ocf_digest_t *) b)->id);
    return x < y ? -1 : x > y;
}

static void
s_send_digests (ocf_gossip_t *self, pending_t *pending, const answer_t *answer)
{
    drive_t *drive = &self->drive;
    //  Whole buckets only, in order, as many as the budget holds.
    ocf_digest_t *digests = s_digests_copy (answer->digests, answer->digest_count);
    qsort (digests, answer->digest_count, sizeof *digests, s_digest_bucket_compare);
    size_t max = s_budget (self) / ocf_wire_digest_size ();
    ocf_wire_msg_t msg = { .type = OCF_WIRE_AE_DIGESTS, .nonce = drive->nonce, .digests = digests };
    size_t next = 0;
    for (size_t b = 0; b < pending->bucket_count; b++) {
        size_t end = next;
        while (end < answer->digest_count && ocf_table_bucket_of (digests[end].id) == pending->buckets[b])
            end++;
        if (msg.bucket_count && end > max) {
            msg.flags |= OCF_WIRE_TRUNCATED;
            break;
        }
        msg.buckets[msg.bucket_count++] = pending->buckets[b];
        next = end;
    }
    msg.digest_count = next;
    if (msg.flags & OCF_WIRE_TRUNCATED)
        drive->truncated = true;
    if (ocf_gossip_send (self, drive->peer, &msg) != 0)
        s_drive_end (self, true);
    free (digests);
}

static void
s_on_delta (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg)
{
    drive_t *drive = &self->drive;
    if (!s_drive_matches (self, from, msg->nonce))
        return;
    if (msg->flags & OCF_WIRE_TRUNCATED)
        drive->truncated = true;
    if (msg->item_count) {
        drive->repaired = true;
        self->stats.ae_items_in += msg->item_count;
        s_merge_admitted (self, from, msg->items, msg->item_count);
    }
    if (!msg->id_count) {
        s_drive_end (self, false);
        return;
    }
    drive->repaired = true;
    drive->deadline = self->now + 2 * self->config.query_timeout_ms;
    ocf_query_t query = { .kind = OCF_QUERY_ITEMS, .ids = (const char (*)[OCF_ID_SIZE]) msg->ids, .id_count = msg->id_count };
    if (!ocf_gossip_query (self, PENDING_DRIVE_ITEMS, from, msg->nonce, &query))
        s_drive_end (self, true);
}

//  Items to one peer as AE_ITEMS, in as many messages as max_frame needs.
static void
s_send_ae_items (ocf_gossip_t *self, const char *peer, uint32_t nonce, const ocf_item_t *items, size_t count)
{
    size_t budget = s_budget (self), first = 0;
    while (first < count) {
        size_t used = 0, last = first;
        while (last < count && (last == first || used + ocf_wire_item_size (&items[last]) <= budget))
            used += ocf_wire_item_size (&items[last++]);
        ocf_wire_msg_t msg = { .type = OCF_WIRE_AE_ITEMS, .nonce = nonce, .items = (ocf_item_t *) &items[first],
                               .item_count = last - first };
        ocf_gossip_send (self, peer, &msg);
        first = last;
    }
    self->stats.ae_items_out += count;
}

//  --------------------------------------------------------------------------
//  Anti-entropy a peer drives

//  Whether digest a holds something b lacks: a newer record, membership or tombstone.
static bool
s_newer (const ocf_digest_t *a, const ocf_digest_t *b)
{
    if (a->generation > b->generation || (a->generation == b->generation && a->version > b->version))
        return true;
    if (a->member_generation > b->member_generation)
        return true;
    if (a->member_generation == b->member_generation
    &&  (a->incarnation > b->incarnation || (a->incarnation == b->incarnation && a->status > b->status)))
        return true;
    return a->tomb_generation > b->tomb_generation;
}

static int
s_digest_id_compare (const void *a, const void *b)
{
    return strcmp (((const ocf_digest_t *) a)->id, ((const ocf_digest_t *) b)->id);
}

//  Compares the driver's digests with ours: which of ours to send, which of theirs to want.
static void
s_compare (ocf_gossip_t *self, pending_t *pending, const answer_t *answer)
{
    ocf_digest_t *ours = s_digests_copy (answer->digests, answer->digest_count);
    qsort (ours, answer->digest_count, sizeof *ours, s_digest_id_compare);
    qsort (pending->digests, pending->digest_count, sizeof *pending->digests, s_digest_id_compare);
    char (*send)[OCF_ID_SIZE] = ocf_malloc ((answer->digest_count + 1) * OCF_ID_SIZE);
    char (*want)[OCF_ID_SIZE] = ocf_malloc ((pending->digest_count + 1) * OCF_ID_SIZE);
    size_t send_count = 0, want_count = 0, i = 0, j = 0;
    size_t want_max = s_budget (self) / (2 * (OCF_ID_SIZE - 1));
    if (want_max > OCF_GOSSIP_MAX_QUERY_IDS)
        want_max = OCF_GOSSIP_MAX_QUERY_IDS;
    while (i < answer->digest_count || j < pending->digest_count) {
        const ocf_digest_t *mine = i < answer->digest_count ? &ours[i] : NULL;
        const ocf_digest_t *theirs = j < pending->digest_count ? &pending->digests[j] : NULL;
        int order = !mine ? 1 : !theirs ? -1 : strcmp (mine->id, theirs->id);
        bool send_mine = false, want_theirs = false;
        if (order < 0)
            send_mine = true;
        else
        if (order > 0)
            want_theirs = true;
        else
        if (mine->hash != theirs->hash) {
            send_mine = s_newer (mine, theirs);
            want_theirs = s_newer (theirs, mine);
            //  Same versions, different content (an owner that reused a version, a tombstone
            //  declared at another time): both sides send, and the merge decides.
            if (!send_mine && !want_theirs)
                send_mine = want_theirs = true;
        }
        if (send_mine) {
            if (send_count < OCF_GOSSIP_MAX_QUERY_IDS)
                memcpy (send[send_count++], mine->id, OCF_ID_SIZE);
            else
                pending->truncated = true;
        }
        if (want_theirs) {
            if (want_count < want_max)
                memcpy (want[want_count++], theirs->id, OCF_ID_SIZE);
            else
                pending->truncated = true;
        }
        i += order <= 0;
        j += order >= 0;
    }
    free (ours);
    ocf_query_t query = { .kind = OCF_QUERY_ITEMS, .ids = (const char (*)[OCF_ID_SIZE]) send, .id_count = send_count };
    pending_t *next = send_count ? ocf_gossip_query (self, PENDING_ANSWER_ITEMS, pending->peer, pending->nonce, &query) : NULL;
    if (next) {
        next->ids = want;
        next->id_count = want_count;
        next->truncated = pending->truncated;
    }
    else {
        //  Nothing of ours to send (or no room to ask): tell the driver what we want.
        ocf_wire_msg_t delta = { .type = OCF_WIRE_AE_DELTA, .nonce = pending->nonce, .ids = want, .id_count = want_count,
                                 .flags = pending->truncated ? OCF_WIRE_TRUNCATED : 0 };
        ocf_gossip_send (self, pending->peer, &delta);
        free (want);
    }
    free (send);
}

static void
s_send_delta (ocf_gossip_t *self, pending_t *pending, const answer_t *answer)
{
    size_t budget = s_budget (self), used = pending->id_count * (OCF_ID_SIZE - 1), count = 0;
    while (count < answer->item_count && (count == 0 || used + ocf_wire_item_size (&answer->items[count]) <= budget))
        used += ocf_wire_item_size (&answer->items[count++]);
    bool truncated = pending->truncated || count < answer->item_count;
    ocf_wire_msg_t delta = { .type = OCF_WIRE_AE_DELTA, .nonce = pending->nonce, .items = (ocf_item_t *) answer->items,
                             .item_count = count, .ids = pending->ids, .id_count = pending->id_count,
                             .flags = truncated ? OCF_WIRE_TRUNCATED : 0 };
    if (ocf_gossip_send (self, pending->peer, &delta) == 0)
        self->stats.ae_items_out += count;
}

static void
s_answer_groups (ocf_gossip_t *self, pending_t *pending, const uint64_t *buckets)
{
    ocf_wire_msg_t reply = { .type = OCF_WIRE_AE_BUCKETS, .nonce = pending->nonce };
    size_t next_hash = 0;
    for (int group = 0; group < OCF_WIRE_GROUPS; group++) {
        if (s_group_hash (buckets, group) == pending->groups[group])
            continue;
        reply.mask |= (uint16_t) (1u << group);
        memcpy (&reply.hashes[next_hash], &buckets[group * OCF_WIRE_GROUPS], OCF_WIRE_GROUPS * sizeof *buckets);
        next_hash += OCF_WIRE_GROUPS;
    }
    ocf_gossip_send (self, pending->peer, &reply);
}

void
ocf_gossip_on_ae (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg)
{
    switch (msg->type) {
        case OCF_WIRE_AE_SYN:
            if (self->root_known && msg->root != self->root)
                ocf_gossip_sync_start (self, from);
            break;
        case OCF_WIRE_AE_GROUPS: {
            if (self->root_known && msg->root == self->root) {
                ocf_wire_msg_t reply = { .type = OCF_WIRE_AE_BUCKETS, .nonce = msg->nonce };
                ocf_gossip_send (self, from, &reply);
                break;
            }
            ocf_query_t query = { .kind = OCF_QUERY_BUCKETS };
            pending_t *pending = ocf_gossip_query (self, PENDING_ANSWER_BUCKETS, from, msg->nonce, &query);
            if (pending)
                memcpy (pending->groups, msg->hashes, sizeof pending->groups);
            break;
        }
        case OCF_WIRE_AE_BUCKETS:
            s_on_buckets (self, from, msg);
            break;
        case OCF_WIRE_AE_DIGESTS: {
            ocf_query_t query = { .kind = OCF_QUERY_DIGESTS, .buckets = msg->buckets, .bucket_count = msg->bucket_count };
            pending_t *pending = ocf_gossip_query (self, PENDING_ANSWER_DIGESTS, from, msg->nonce, &query);
            if (pending) {
                pending->digests = s_digests_copy (msg->digests, msg->digest_count);
                pending->digest_count = msg->digest_count;
                pending->truncated = (msg->flags & OCF_WIRE_TRUNCATED) != 0;
            }
            break;
        }
        case OCF_WIRE_AE_DELTA:
            s_on_delta (self, from, msg);
            break;
        case OCF_WIRE_AE_ITEMS:
            self->stats.ae_items_in += msg->item_count;
            s_merge_admitted (self, from, msg->items, msg->item_count);
            break;
        default:
            break;
    }
}

//  --------------------------------------------------------------------------
//  Snapshots we serve

static snap_session_t *
s_session_find (ocf_gossip_t *self, const char *id)
{
    for (size_t i = 0; i < self->snap_session_count; i++)
        if (strcmp (self->snap_sessions[i].id, id) == 0)
            return &self->snap_sessions[i];
    return NULL;
}

static void
s_session_remove (ocf_gossip_t *self, snap_session_t *session)
{
    *session = self->snap_sessions[--self->snap_session_count];
}

static void
s_busy (ocf_gossip_t *self, const char *joiner)
{
    const ocf_peer_t *others[BUSY_ALTERNATIVES];
    size_t count = ocf_gossip_random_peers (self, others, BUSY_ALTERNATIVES, joiner);
    ocf_wire_peer_t peers[BUSY_ALTERNATIVES];
    for (size_t i = 0; i < count; i++) {
        memcpy (peers[i].id, others[i]->id, OCF_ID_SIZE);
        snprintf (peers[i].endpoint, sizeof peers[i].endpoint, "%s", others[i]->endpoint ? others[i]->endpoint : "");
    }
    ocf_wire_msg_t msg = { .type = OCF_WIRE_SNAP_BUSY, .peers = peers, .peer_count = count };
    ocf_gossip_send (self, joiner, &msg);
    self->stats.snapshots_busy++;
}

static void
s_snapshot_query (ocf_gossip_t *self, snap_session_t *session, const char *after)
{
    ocf_query_t query = { .kind = OCF_QUERY_SNAPSHOT, .after = after, .limit = session->page };
    pending_t *pending = ocf_gossip_query (self, PENDING_SNAPSHOT, session->id, 0, &query);
    if (pending && after) {
        memcpy (pending->after, after, OCF_ID_SIZE);
        pending->has_after = true;
    }
}

static void
s_on_snap_req (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg)
{
    snap_session_t *session = s_session_find (self, from);
    if (!session) {
        if (self->snap_session_count >= (size_t) self->config.max_snapshots) {
            s_busy (self, from);
            return;
        }
        if (!self->snap_sessions)
            self->snap_sessions = ocf_calloc ((size_t) self->config.max_snapshots, sizeof *self->snap_sessions);
        session = &self->snap_sessions[self->snap_session_count++];
        memcpy (session->id, from, OCF_ID_SIZE);
        session->page = self->config.snapshot_page;
    }
    session->last_active = self->now;
    s_snapshot_query (self, session, (msg->flags & OCF_WIRE_HAS_AFTER) ? msg->target : NULL);
}

static void
s_serve_page (ocf_gossip_t *self, pending_t *pending, const answer_t *answer)
{
    snap_session_t *session = s_session_find (self, pending->peer);
    if (!session || answer->failed)
        return;                      //  the joiner asks again, maybe elsewhere
    ocf_wire_msg_t chunk = { .type = OCF_WIRE_SNAP_CHUNK, .entries = answer->entries, .root = answer->root,
                             .items = (ocf_item_t *) answer->items, .item_count = answer->item_count };
    if (pending->has_after) {
        chunk.flags |= OCF_WIRE_HAS_AFTER;
        memcpy (chunk.target, pending->after, OCF_ID_SIZE);
    }
    if (answer->next) {
        chunk.flags |= OCF_WIRE_HAS_NEXT;
        snprintf (chunk.next, sizeof chunk.next, "%s", answer->next);
    }
    if (ocf_gossip_send (self, pending->peer, &chunk) != 0) {
        if (session->page > 1) {
            //  Too big for one frame: the same page in halves.
            session->page /= 2;
            s_snapshot_query (self, session, pending->has_after ? pending->after : NULL);
            return;
        }
        //  A single entry larger than a frame cannot travel: skip it, loudly.
        ocf_gossip_log (self, OCF_LOG_WARNING, "snapshot for %s: an entry of %s does not fit in max_frame (%zu); skipped",
                        pending->peer, answer->item_count ? answer->items[0].id : "?", self->config.max_frame);
        chunk.items = NULL;
        chunk.item_count = 0;
        ocf_gossip_send (self, pending->peer, &chunk);
    }
    if (!answer->next) {
        self->stats.snapshots_served++;
        s_session_remove (self, session);
    }
}

//  --------------------------------------------------------------------------
//  Snapshots we pull (joining)

static void
s_join_ask (ocf_gossip_t *self)
{
    join_t *join = &self->join;
    const char *peer = join->candidates[join->current];
    //  Announce ourselves first: the seed spreads our row to everybody while we download.
    if (self->self_row.size) {
        ocf_wire_msg_t rumour = { .type = OCF_WIRE_RUMOUR, .flags = OCF_WIRE_RANGE, .items = &self->self_row,
                                  .item_count = 1 };
        memcpy (rumour.target, peer, OCF_ID_SIZE);       //  the whole ring, seen from the seed
        ocf_gossip_send (self, peer, &rumour);
    }
    ocf_wire_msg_t request = { .type = OCF_WIRE_SNAP_REQ, .flags = join->has_after ? OCF_WIRE_HAS_AFTER : 0 };
    if (join->has_after)
        memcpy (request.target, join->after, OCF_ID_SIZE);
    ocf_gossip_send (self, peer, &request);
    join->waiting = true;
    join->deadline = self->now + 2 * self->config.query_timeout_ms;
}

void
ocf_gossip_join_start (ocf_gossip_t *self)
{
    self->join.backoff = BUSY_BACKOFF_MIN_MS;
    s_join_ask (self);
}

//  The current candidate went silent or is busy: the next one, from the same cursor.
static void
s_join_next (ocf_gossip_t *self)
{
    join_t *join = &self->join;
    //  Members already received are candidates too: any of them has the table.
    const ocf_peer_t *member;
    if (join->candidate_count < MAX_CANDIDATES && ocf_gossip_random_peers (self, &member, 1, NULL) == 1) {
        bool known = false;
        for (size_t i = 0; i < join->candidate_count && !known; i++)
            known = strcmp (join->candidates[i], member->id) == 0;
        if (!known)
            memcpy (join->candidates[join->candidate_count++], member->id, OCF_ID_SIZE);
    }
    join->current = (join->current + 1) % join->candidate_count;
}

static void
s_on_chunk (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg)
{
    join_t *join = &self->join;
    if (!join->active || join->done || !join->waiting || strcmp (from, join->candidates[join->current]) != 0)
        return;
    bool has_after = (msg->flags & OCF_WIRE_HAS_AFTER) != 0;
    if (has_after != join->has_after || (has_after && strcmp (msg->target, join->after) != 0))
        return;                      //  an answer to an earlier request
    self->stats.snapshot_pages_in++;
    s_merge_admitted (self, from, msg->items, msg->item_count);
    if (msg->flags & OCF_WIRE_HAS_NEXT) {
        memcpy (join->after, msg->next, OCF_ID_SIZE);
        join->has_after = true;
        s_join_ask (self);
        return;
    }
    join->done = true;
    join->waiting = false;
    self->stats.snapshots_completed++;
    ocf_gossip_log (self, OCF_LOG_INFO, "snapshot from %s complete (%llu entries): anti-entropy next", from,
                    (unsigned long long) msg->entries);
    ocf_gossip_sync_start (self, from);
}

static void
s_on_busy (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg)
{
    join_t *join = &self->join;
    if (!join->active || join->done || !join->waiting || strcmp (from, join->candidates[join->current]) != 0)
        return;
    for (size_t i = 0; i < msg->peer_count; i++) {
        const ocf_wire_peer_t *peer = &msg->peers[i];
        if (strcmp (peer->id, self->id) == 0)
            continue;
        if (self->env.introduce && peer->endpoint[0])
            self->env.introduce (self->env.arg, peer->id, peer->endpoint);
        bool known = false;
        for (size_t c = 0; c < join->candidate_count && !known; c++)
            known = strcmp (join->candidates[c], peer->id) == 0;
        if (!known && join->candidate_count < MAX_CANDIDATES)
            memcpy (join->candidates[join->candidate_count++], peer->id, OCF_ID_SIZE);
    }
    s_join_next (self);
    join->waiting = false;
    join->deadline = self->now + join->backoff;
    join->backoff = join->backoff * 2 > BUSY_BACKOFF_MAX_MS ? BUSY_BACKOFF_MAX_MS : join->backoff * 2;
}

void
ocf_gossip_on_snap (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg)
{
    if (msg->type == OCF_WIRE_SNAP_REQ)
        s_on_snap_req (self, from, msg);
    else
    if (msg->type == OCF_WIRE_SNAP_CHUNK)
        s_on_chunk (self, from, msg);
    else
        s_on_busy (self, from, msg);
}

//  --------------------------------------------------------------------------

void
ocf_gossip_sync_answer (ocf_gossip_t *self, pending_t *pending, const answer_t *answer)
{
    bool driving = pending->kind == PENDING_DRIVE_BUCKETS || pending->kind == PENDING_DRIVE_DIGESTS
                || pending->kind == PENDING_DRIVE_ITEMS;
    if (driving && !s_drive_matches (self, pending->peer, pending->nonce))
        return;
    if (answer->failed) {
        if (driving)
            s_drive_end (self, true);
        return;
    }
    switch (pending->kind) {
        case PENDING_DRIVE_BUCKETS: {
            memcpy (self->drive.buckets, answer->hashes, sizeof self->drive.buckets);
            ocf_wire_msg_t msg = { .type = OCF_WIRE_AE_GROUPS, .nonce = pending->nonce, .root = self->root };
            for (int group = 0; group < OCF_WIRE_GROUPS; group++)
                msg.hashes[group] = s_group_hash (answer->hashes, group);
            ocf_gossip_send (self, pending->peer, &msg);
            break;
        }
        case PENDING_DRIVE_DIGESTS:
            s_send_digests (self, pending, answer);
            break;
        case PENDING_DRIVE_ITEMS:
            s_send_ae_items (self, pending->peer, pending->nonce, answer->items, answer->item_count);
            s_drive_end (self, false);
            break;
        case PENDING_ANSWER_BUCKETS:
            s_answer_groups (self, pending, answer->hashes);
            break;
        case PENDING_ANSWER_DIGESTS:
            s_compare (self, pending, answer);
            break;
        case PENDING_ANSWER_ITEMS:
            s_send_delta (self, pending, answer);
            break;
        case PENDING_SNAPSHOT:
            s_serve_page (self, pending, answer);
            break;
    }
}

static const ocf_peer_t *
s_random_dead (ocf_gossip_t *self)
{
    size_t size = ocf_members_size (self->view);
    size_t start = size ? (size_t) (ocf_gossip_random (self) % size) : 0;
    for (size_t n = 0; n < size; n++) {
        const ocf_peer_t *member = ocf_members_at (self->view, (start + n) % size);
        if (member->status == OCF_STATUS_DEAD && strcmp (member->id, self->id) != 0)
            return member;
    }
    return NULL;
}

void
ocf_gossip_sync_tick (ocf_gossip_t *self)
{
    if (self->drive.active && self->now >= self->drive.deadline)
        s_drive_end (self, true);
    for (size_t i = 0; i < self->snap_session_count; )
        if (self->now - self->snap_sessions[i].last_active > SNAP_SESSION_IDLE_MS)
            s_session_remove (self, &self->snap_sessions[i]);
        else
            i++;
    join_t *join = &self->join;
    if (join->active && !join->done && self->now >= join->deadline) {
        if (join->waiting)
            s_join_next (self);
        s_join_ask (self);
    }
    if (self->drive.active || !self->root_known)
        return;
    const ocf_peer_t *peer;
    if (self->exchange_due_at && self->now >= self->exchange_due_at) {
        self->exchange_due_at = 0;
        self->sync_again = true;
    }
    if (self->sync_again) {
        self->sync_again = false;
        if (ocf_gossip_active_peers (self, &peer, 0, 1, NULL) == 1)
            ocf_gossip_sync_start (self, peer->id);
        return;
    }
    ocf_wire_msg_t syn = { .type = OCF_WIRE_AE_SYN, .nonce = 0, .root = self->root, .entries = self->entries };
    if (self->now >= self->next_sync) {
        self->next_sync = self->now + self->config.anti_entropy_interval_ms;
        if (ocf_gossip_active_peers (self, &peer, 0, 1, NULL) == 1)
            ocf_gossip_send (self, peer->id, &syn);
    }
    //  A member we think dead: after a partition heals, this is how the halves find each
    //  other again (a live one answers by driving an exchange with us). At a random point
    //  of each interval, so that nodes do not do it in step.
    if (self->now >= self->next_dead_contact) {
        int64_t interval = self->config.dead_contact_interval_ms;
        self->next_dead_contact = self->now + interval / 2 + (int64_t) (ocf_gossip_random (self) % (uint64_t) interval);
        if ((peer = s_random_dead (self)))
            ocf_gossip_send (self, peer->id, &syn);
    }
}

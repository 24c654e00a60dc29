/*  ocf_gossip: the protocol core — construction, dispatch, time, table queries, stats.  */
#include "ocf_gossip_internal.h"
#include "ocf_alloc.h"
#include "ocf_hash.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
ocf_gossip_config_from (ocf_gossip_config_t *config, const ocf_gossipd_config_t *section)
{
    //  Ticks fine enough for the shortest interval, never a busy loop.
    int64_t shortest = section->heartbeat_interval_ms < section->gossip_interval_ms ? section->heartbeat_interval_ms
                                                                                     : section->gossip_interval_ms;
    *config = (ocf_gossip_config_t) {
        .tick_ms = shortest / 4 < 10 ? 10 : shortest / 4 > 100 ? 100 : shortest / 4,
        .heartbeat_interval_ms = section->heartbeat_interval_ms,
        .observers = (int) section->observers,
        .phi_threshold = section->phi_threshold,
        .phi_min_std_ms = section->phi_min_std_ms,
        .acceptable_pause_ms = section->acceptable_pause_ms,
        .probe_timeout_ms = section->probe_timeout_ms,
        .suspicion_min_ms = section->suspicion_min_ms,
        .suspicion_max_ms = section->suspicion_max_ms,
        .gossip_interval_ms = section->gossip_interval_ms,
        .fanout = (int) section->fanout,
        .retransmit_mult = (int) section->retransmit_mult,
        .anti_entropy_interval_ms = section->anti_entropy_interval_ms,
        .dead_contact_interval_ms = 2 * section->heartbeat_interval_ms,
        .max_snapshots = (int) section->max_snapshots,
        .snapshot_page = 500,
        .max_frame = (size_t) section->max_frame,
        .rumour_ttl_ms = 30000,
        .recent_max = 4096,
        .query_timeout_ms = 2000,
        .rtt_interval_ms = section->rtt_interval_ms,
    };
}

void
ocf_gossip_config_defaults (ocf_gossip_config_t *config)
{
    ocf_config_t *defaults = ocf_config_new ();
    ocf_gossip_config_from (config, &defaults->gossipd);
    ocf_config_destroy (&defaults);
}

//  --------------------------------------------------------------------------
//  Helpers the parts share

void
ocf_gossip_log (ocf_gossip_t *self, int level, const char *format, ...)
{
    if (!self->env.log)
        return;
    char text[512];
    va_list args;
    va_start (args, format);
    vsnprintf (text, sizeof text, format, args);
    va_end (args);
    self->env.log (self->env.arg, level, text);
}

uint64_t
ocf_gossip_random (ocf_gossip_t *self)
{
    //  splitmix64: fast, and deterministic from the seed the simulator gives.
    uint64_t z = (self->rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

uint32_t
ocf_gossip_nonce (ocf_gossip_t *self)
{
    if (++self->next_nonce == 0)
        self->next_nonce = 1;
    return self->next_nonce;
}

static bool
s_pickable (ocf_gossip_t *self, const ocf_peer_t *member, const ocf_peer_t **chosen, size_t count, const char *except)
{
    if (!ocf_peer_live (member) || strcmp (member->id, self->id) == 0 || (except && strcmp (member->id, except) == 0))
        return false;
    for (size_t i = 0; i < count; i++)
        if (chosen[i] == member)
            return false;
    return true;
}

size_t
ocf_gossip_random_peers (ocf_gossip_t *self, const ocf_peer_t **out, size_t want, const char *except)
{
    size_t size = ocf_members_size (self->view), found = 0;
    if (!size || !want)
        return 0;
    //  Random probes find live members quickly when most are live; a scan from a random
    //  start finishes the job when few are.
    for (size_t attempt = 0; attempt < want * 4 && found < want; attempt++) {
        const ocf_peer_t *member = ocf_members_at (self->view, ocf_gossip_random (self) % size);
        if (s_pickable (self, member, out, found, except))
            out[found++] = member;
    }
    size_t start = ocf_gossip_random (self) % size;
    for (size_t n = 0; n < size && found < want; n++) {
        const ocf_peer_t *member = ocf_members_at (self->view, (start + n) % size);
        if (s_pickable (self, member, out, found, except))
            out[found++] = member;
    }
    return found;
}

int
ocf_gossip_send (ocf_gossip_t *self, const char *peer, const ocf_wire_msg_t *msg)
{
    if (strcmp (peer, self->id) == 0)
        return 0;
    if (ocf_wire_encode (msg, &self->out) != 0)
        return -1;
    self->stats.msgs_out++;
    self->stats.msgs_out_by_type[msg->type]++;
    self->stats.bytes_out += self->out.len;
    self->env.send (self->env.arg, peer, self->out.data, self->out.len);
    return 0;
}

void
ocf_gossip_id_set_add (char (*ids)[OCF_ID_SIZE], size_t *count, size_t cap, const char *id)
{
    for (size_t i = 0; i < *count; i++)
        if (strcmp (ids[i], id) == 0)
            return;
    if (*count < cap)
        memcpy (ids[(*count)++], id, OCF_ID_SIZE);
}

double
ocf_gossip_health_scale (ocf_gossip_t *self)
{
    return 1.0 + self->health;
}

//  --------------------------------------------------------------------------
//  Table queries

pending_t *
ocf_gossip_query (ocf_gossip_t *self, pending_kind_t kind, const char *peer, uint32_t nonce, const ocf_query_t *query)
{
    pending_t *pending = NULL;
    for (size_t i = 0; i < self->pending_cap && !pending; i++)
        if (!self->pending[i].used)
            pending = &self->pending[i];
    if (!pending && self->pending_cap < MAX_PENDING) {
        size_t cap = self->pending_cap ? self->pending_cap * 2 : 4;
        self->pending = ocf_realloc (self->pending, cap * sizeof *self->pending);
        memset (self->pending + self->pending_cap, 0, (cap - self->pending_cap) * sizeof *self->pending);
        pending = &self->pending[self->pending_cap];
        self->pending_cap = cap;
    }
    if (!pending) {
        self->stats.queries_failed++;
        return NULL;                 //  too much in flight: the exchange is dropped, and retried later
    }
    memset (pending, 0, sizeof *pending);
    pending->used = true;
    pending->token = ++self->next_token;
    pending->kind = kind;
    pending->nonce = nonce;
    pending->deadline = self->now + self->config.query_timeout_ms;
    if (peer)
        snprintf (pending->peer, sizeof pending->peer, "%s", peer);
    self->stats.queries++;
    self->env.query (self->env.arg, pending->token, query);
    return pending;
}

void
ocf_gossip_pending_free (pending_t *pending)
{
    free (pending->digests);
    free (pending->ids);
    memset (pending, 0, sizeof *pending);
}

static pending_t *
s_pending_find (ocf_gossip_t *self, uint64_t token)
{
    for (size_t i = 0; i < self->pending_cap; i++)
        if (self->pending[i].used && self->pending[i].token == token)
            return &self->pending[i];
    return NULL;
}

static void
s_answer (ocf_gossip_t *self, int64_t now, uint64_t token, const answer_t *answer)
{
    self->now = now;
    pending_t *slot = s_pending_find (self, token);
    if (!slot)
        return;                      //  given up on already
    if (answer->failed)
        self->stats.queries_failed++;
    //  The slot is freed first: answering may ask the table again (and grow the array).
    pending_t pending = *slot;
    memset (slot, 0, sizeof *slot);
    ocf_gossip_sync_answer (self, &pending, answer);
    ocf_gossip_pending_free (&pending);
}

void
ocf_gossip_answer_buckets (ocf_gossip_t *self, int64_t now, uint64_t token, const uint64_t hashes[256])
{
    s_answer (self, now, token, &(answer_t) { .hashes = hashes });
}

void
ocf_gossip_answer_digests (ocf_gossip_t *self, int64_t now, uint64_t token, const ocf_digest_t *digests, size_t count)
{
    s_answer (self, now, token, &(answer_t) { .digests = digests, .digest_count = count });
}

void
ocf_gossip_answer_items (ocf_gossip_t *self, int64_t now, uint64_t token, const ocf_item_t *items, size_t count,
                         const char *next, uint64_t root, uint64_t entries)
{
    s_answer (self, now, token, &(answer_t) { .items = items, .item_count = count, .next = next,
                                              .root = root, .entries = entries });
}

void
ocf_gossip_answer_failed (ocf_gossip_t *self, int64_t now, uint64_t token)
{
    s_answer (self, now, token, &(answer_t) { .failed = true });
}

//  --------------------------------------------------------------------------

ocf_gossip_t *
ocf_gossip_new (const char *self_id, const ocf_gossip_config_t *config, ocf_members_t *view,
                const ocf_gossip_env_t *env, uint64_t seed, int64_t now)
{
    ocf_gossip_t *self = ocf_calloc (1, sizeof *self);
    snprintf (self->id, sizeof self->id, "%s", self_id);
    self->config = *config;
    if (self->config.observers > MAX_OBSERVERS)
        self->config.observers = MAX_OBSERVERS;
    if (self->config.observers < 1)
        self->config.observers = 1;
    if (self->config.max_snapshots > MAX_SNAP_SESSIONS)
        self->config.max_snapshots = MAX_SNAP_SESSIONS;
    self->env = *env;
    self->view = view;
    //  Scrambled: callers' seeds may be related (0, 1, 2...), and splitmix64 sequences from
    //  related states are shifted copies of each other (correlated choices of peers).
    self->rng = ocf_hash_mix (seed ^ 0x6f6366676f737370ULL);
    self->now = now;
    self->last_tick = now;
    self->out.max = self->config.max_frame;
    self->recent = ocf_recent_new (self->config.recent_max, self->config.max_frame * 4, self->config.rumour_ttl_ms);
    self->outbox = ocf_outbox_new (OUTBOX_BATCHES, self->config.max_frame * 2);
    self->observers_dirty = true;
    //  Spread periodic work over time so that nodes started together do not beat together.
    self->next_heartbeat = now + (int64_t) (ocf_gossip_random (self) % (uint64_t) self->config.heartbeat_interval_ms);
    self->next_round = now + (int64_t) (ocf_gossip_random (self) % (uint64_t) self->config.gossip_interval_ms);
    self->next_sync = now + (int64_t) (ocf_gossip_random (self) % (uint64_t) self->config.anti_entropy_interval_ms);
    self->next_dead_contact = now + (int64_t) (ocf_gossip_random (self) % (uint64_t) self->config.dead_contact_interval_ms);
    self->next_nonce = (uint32_t) ocf_gossip_random (self) | 1;
    self->rtt = ocf_rtt_new ();
    if (self->config.rtt_interval_ms > 0)
        self->next_rtt_ping = now + (int64_t) (ocf_gossip_random (self) % (uint64_t) self->config.rtt_interval_ms);
    return self;
}

void
ocf_gossip_destroy (ocf_gossip_t **self_p)
{
    ocf_gossip_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->pending_cap; i++)
        ocf_gossip_pending_free (&self->pending[i]);
    free (self->pending);
    free (self->snap_sessions);
    ocf_gossip_detect_free (self);
    ocf_rtt_destroy (&self->rtt);
    ocf_recent_destroy (&self->recent);
    ocf_outbox_destroy (&self->outbox);
    ocf_wire_buf_free (&self->out);
    free ((void *) self->self_row.data);
    free (self);
    *self_p = NULL;
}

void
ocf_gossip_set_view (ocf_gossip_t *self, ocf_members_t *view)
{
    self->view = view;
    self->observers_dirty = true;
}

//  Round-trip times: a PING (answered by an ACK, as any probe) to the peer of the active view
//  measured longest ago. Heartbeats go one way, to observers, so they time nothing; the
//  active view holds the peers this node talks to anyway, so no connection is opened for it.
static void
s_rtt_tick (ocf_gossip_t *self)
{
    if (self->config.rtt_interval_ms <= 0 || self->now < self->next_rtt_ping)
        return;
    self->next_rtt_ping = self->now + self->config.rtt_interval_ms;
    const char *stalest = NULL;
    int64_t stalest_at = INT64_MAX;
    for (size_t i = 0; i < self->active_count; i++) {
        const ocf_peer_t *member = ocf_members_get (self->view, self->active[i]);
        int64_t at = ocf_rtt_sampled_at (self->rtt, self->active[i]);
        if (member && member->status == OCF_STATUS_ALIVE && at < stalest_at) {
            stalest = self->active[i];
            stalest_at = at;
        }
    }
    if (!stalest)
        return;
    ocf_wire_msg_t ping = { .type = OCF_WIRE_PING, .nonce = ocf_gossip_nonce (self) };
    if (ocf_gossip_send (self, stalest, &ping) == 0)
        ocf_rtt_sent (self->rtt, stalest, ping.nonce, self->now);
}

ocf_rtt_t *
ocf_gossip_rtt (ocf_gossip_t *self)
{
    return self->rtt;
}

void
ocf_gossip_tick (ocf_gossip_t *self, int64_t now)
{
    self->now = now;
    ocf_gossip_flush (self);         //  in case the runner did not
    for (size_t i = 0; i < self->pending_cap; i++)
        if (self->pending[i].used && self->pending[i].deadline <= now)
            ocf_gossip_answer_failed (self, now, self->pending[i].token);
    ocf_gossip_detect_tick (self);
    ocf_gossip_spread_tick (self);
    ocf_gossip_sync_tick (self);
    s_rtt_tick (self);
    self->last_tick = now;
}

int
ocf_gossip_receive (ocf_gossip_t *self, int64_t now, const char *from, const uint8_t *data, size_t size)
{
    self->now = now;
    self->stats.msgs_in++;
    self->stats.bytes_in += size;
    ocf_wire_msg_t msg;
    char error[256];
    if (ocf_wire_decode (&msg, data, size, self->config.max_frame, error, sizeof error) != 0) {
        self->stats.bad_msgs++;
        ocf_gossip_log (self, OCF_LOG_WARNING, "malformed message from %s: %s", from, error);
        return -1;
    }
    self->stats.msgs_in_by_type[msg.type]++;
    ocf_gossip_detect_heard (self, from);
    self->holding = true;
    switch (msg.type) {
        case OCF_WIRE_HEARTBEAT: ocf_gossip_on_heartbeat (self, from, &msg); break;
        case OCF_WIRE_PING:      ocf_gossip_on_ping (self, from, &msg); break;
        case OCF_WIRE_PING_REQ:  ocf_gossip_on_ping_req (self, from, &msg); break;
        case OCF_WIRE_ACK:
            if (!ocf_rtt_answered (self->rtt, from, msg.nonce, now))
                ocf_gossip_on_ack (self, from, &msg);
            break;
        case OCF_WIRE_RUMOUR:    ocf_gossip_on_rumour (self, from, &msg); break;
        case OCF_WIRE_IHAVE:     ocf_gossip_on_ihave (self, from, &msg); break;
        case OCF_WIRE_WANT:      ocf_gossip_on_want (self, from, &msg); break;
        case OCF_WIRE_AE_SYN:
        case OCF_WIRE_AE_GROUPS:
        case OCF_WIRE_AE_BUCKETS:
        case OCF_WIRE_AE_DIGESTS:
        case OCF_WIRE_AE_DELTA:
        case OCF_WIRE_AE_ITEMS:  ocf_gossip_on_ae (self, from, &msg); break;
        case OCF_WIRE_SNAP_REQ:
        case OCF_WIRE_SNAP_CHUNK:
        case OCF_WIRE_SNAP_BUSY: ocf_gossip_on_snap (self, from, &msg); break;
    }
    self->holding = false;
    ocf_wire_clear (&msg);
    return 0;
}

void
ocf_gossip_local_change (ocf_gossip_t *self, int64_t now, const ocf_item_t *item)
{
    self->now = now;
    if (item->kind == OCF_ITEM_ROW && strcmp (item->id, self->id) == 0) {
        //  Kept to announce this node to the seeds it joins through.
        free ((void *) self->self_row.data);
        self->self_row = ocf_wire_item_copy (item);
    }
    self->stats.rumours_originated++;
    ocf_gossip_spread (self, item, 1);
    if (item->kind == OCF_ITEM_MEMBER && strcmp (item->id, self->id) == 0)
        ocf_gossip_detect_refuted (self, item);
}

void
ocf_gossip_member_changed (ocf_gossip_t *self, int64_t now, const char *id)
{
    self->now = now;
    ocf_gossip_detect_member_changed (self, id);
    const ocf_peer_t *member = ocf_members_get (self->view, id);
    if (!member || !ocf_peer_live (member))
        ocf_rtt_forget (self->rtt, id);
}

void
ocf_gossip_set_root (ocf_gossip_t *self, uint64_t root, uint64_t entries)
{
    self->root = root;
    self->entries = entries;
    self->root_known = true;
}

void
ocf_gossip_join (ocf_gossip_t *self, int64_t now, const char (*seeds)[OCF_ID_SIZE], size_t count)
{
    self->now = now;
    join_t *join = &self->join;
    memset (join, 0, sizeof *join);
    for (size_t i = 0; i < count && join->candidate_count < MAX_CANDIDATES; i++)
        if (strcmp (seeds[i], self->id) != 0)
            snprintf (join->candidates[join->candidate_count++], OCF_ID_SIZE, "%s", seeds[i]);
    if (!join->candidate_count)
        return;
    join->active = true;
    ocf_gossip_join_start (self);
}

bool
ocf_gossip_joined (ocf_gossip_t *self)
{
    return !self->join.active || self->join.done;
}

void
ocf_gossip_leave (ocf_gossip_t *self, int64_t now, const ocf_item_t *tombstone)
{
    self->now = now;
    ocf_gossip_local_change (self, now, tombstone);
    //  Nobody will be around to answer WANTs: push the tombstone to more peers directly, so
    //  that a dead branch of the tree cannot hide it.
    const ocf_peer_t *peers[32];
    size_t count = ocf_gossip_random_peers (self, peers, (size_t) self->config.fanout * 2, NULL);
    for (size_t i = 0; i < count; i++)
        ocf_gossip_send_items (self, peers[i]->id, tombstone, 1, false);
}

const ocf_gossip_stats_t *
ocf_gossip_stats (ocf_gossip_t *self)
{
    self->stats.local_health = self->health;
    return &self->stats;
}

void
ocf_gossip_foreach_watched (ocf_gossip_t *self, ocf_gossip_watch_fn *visit, void *arg)
{
    ocf_phi_params_t params = { self->config.phi_min_std_ms, self->config.acceptable_pause_ms,
                                ocf_gossip_health_scale (self) };
    for (size_t i = 0; i < self->watched_count; i++) {
        watched_t *watched = &self->watched[i];
        visit (arg, watched->id, ocf_phi_value (&watched->phi, self->now, &params), ocf_phi_samples (&watched->phi),
               watched->suspecting);
    }
}

bool
ocf_gossip_is_active (ocf_gossip_t *self, const char *id)
{
    for (size_t i = 0; i < self->active_count; i++)
        if (strcmp (self->active[i], id) == 0)
            return true;
    return false;
}

size_t
ocf_gossip_observers (ocf_gossip_t *self, char (*ids)[OCF_ID_SIZE], size_t max)
{
    size_t count = 0;
    for (int i = 0; i < self->observer_count && count < max; i++)
        memcpy (ids[count++], self->observers[i], OCF_ID_SIZE);
    return count;
}

/*  ocf_gossip_detect: failure detection.
    Every node heartbeats to K observers, the K live members that follow it on the id ring,
    so every node is watched by exactly K others and a membership change moves few duties.
    An observer runs phi accrual on those heartbeats; when phi crosses the threshold it
    probes the node directly, then through K helpers if it has not answered within a quarter
    of the timeout, and only when nobody got an answer does it suspect the node. A suspicion
    becomes a death after a timeout that shrinks, Lifeguard-style, with each independent confirmation from another observer, and
    is cancelled by any sign of life or a refutation (a higher incarnation, which the node's
    own table raises). A node whose timers run late moves its deadlines by the time it did not
    run; one whose probes get no answer from anybody, or that is suspected itself, raises
    its local health score, which stretches all of its timeouts: a sick node waits longer
    instead of accusing healthy peers. Many members failing at once (a
    partition) are swept along the ring and confirmed together, without raising anybody's
    local health, so that each side declares the other as fast as one crash.  */
#include "ocf_gossip_internal.h"
#include "ocf_alloc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HEALTH_DECAY_MS 5000         //  the local health score falls by one per quiet period
#define FORGET_UNKNOWN_AFTER 10      //  heartbeat intervals before an unknown sender is forgotten
#define LASTING_DIFFERENCE 5         //  heartbeat intervals of differing roots that start anti-entropy
#define INDIRECT_AFTER 0.25          //  of a probe's timeout: its helpers are asked then, if no answer came
#define PINGS_AGAIN 2                //  a swept member's pings after the first, instead of helpers
#define RELAY_SHARE 0.6              //  of the probe timeout: a helper's own ping, answered (or NACKed) within it

static ocf_phi_params_t
s_phi_params (ocf_gossip_t *self)
{
    return (ocf_phi_params_t) { self->config.phi_min_std_ms, self->config.acceptable_pause_ms,
                                ocf_gossip_health_scale (self) };
}

//  --------------------------------------------------------------------------
//  Watched nodes

static watched_t *
s_watched_find (ocf_gossip_t *self, const char *id)
{
    for (size_t i = 0; i < self->watched_count; i++)
        if (strcmp (self->watched[i].id, id) == 0)
            return &self->watched[i];
    return NULL;
}

static watched_t *
s_watched_add (ocf_gossip_t *self, const char *id)
{
    if (self->watched_count >= MAX_WATCHED)
        return NULL;
    self->watched = ocf_realloc (self->watched, (self->watched_count + 1) * sizeof *self->watched);
    watched_t *watched = &self->watched[self->watched_count++];
    memset (watched, 0, sizeof *watched);
    memcpy (watched->id, id, OCF_ID_SIZE);
    ocf_phi_init (&watched->phi, self->config.heartbeat_interval_ms);
    return watched;
}

static void
s_watched_remove (ocf_gossip_t *self, watched_t *watched)
{
    size_t index = (size_t) (watched - self->watched);
    self->watched[index] = self->watched[--self->watched_count];
}

static void
s_update_probe_at (ocf_gossip_t *self, watched_t *watched, int64_t from)
{
    ocf_phi_params_t params = s_phi_params (self);
    watched->probe_at = from + ocf_phi_deadline (&watched->phi, self->config.phi_threshold, &params);
}

//  A member we start to watch, with no heartbeat yet: probed at once (a sweep's), or when
//  phi, started now, says so. NULL when MAX_WATCHED are watched already.
static watched_t *
s_watch_new (ocf_gossip_t *self, const char *id, bool at_once)
{
    watched_t *watched = s_watched_add (self, id);
    if (watched) {
        ocf_phi_start (&watched->phi, self->now);
        if (at_once)
            watched->probe_at = self->now;
        else
            s_update_probe_at (self, watched, self->now);
    }
    return watched;
}

static void
s_health_up (ocf_gossip_t *self, const char *why)
{
    if (self->health < HEALTH_MAX) {
        self->health++;
        ocf_gossip_log (self, OCF_LOG_INFO, "local health score %d (%s): timeouts now x%d", self->health, why,
                        self->health + 1);
        for (size_t i = 0; i < self->watched_count; i++)
            s_update_probe_at (self, &self->watched[i], self->watched[i].phi.last);
    }
    self->health_decay_at = self->now + HEALTH_DECAY_MS;
}

//  --------------------------------------------------------------------------
//  Observers: the K live members that follow a node on the id ring. Ids are random (public
//  keys), so these are random peers; every node is watched by exactly K others and watches
//  exactly K, and a join or a death moves only the duties of its K neighbours.

//  Up to want live members that follow node `of` on the ring (its observers), in ring order;
//  alive_only: not suspects either (those that watch it: a suspect does not fill a place).
static int
s_successors (ocf_gossip_t *self, const char *of, char (*out)[OCF_ID_SIZE], int want, bool alive_only)
{
    size_t size = ocf_members_size (self->view);
    size_t start = ocf_members_lower_bound (self->view, of);
    int count = 0;
    for (size_t n = 0; n < size && count < want; n++) {
        const ocf_peer_t *member = ocf_members_at (self->view, (start + n) % size);
        if (ocf_peer_live (member) && strcmp (member->id, of) != 0
        &&  (!alive_only || member->status == OCF_STATUS_ALIVE))
            memcpy (out[count++], member->id, OCF_ID_SIZE);
    }
    return count;
}

static bool
s_is_observer (ocf_gossip_t *self, const char *id)
{
    for (int i = 0; i < self->observer_count; i++)
        if (strcmp (self->observers[i], id) == 0)
            return true;
    return false;
}

static void
s_heartbeat (ocf_gossip_t *self, const char *observer, uint8_t flags)
{
    const ocf_peer_t *me = ocf_members_get (self->view, self->id);
    if (!me)
        return;
    ocf_wire_msg_t msg = { .type = OCF_WIRE_HEARTBEAT, .flags = flags, .generation = me->generation,
                           .root = self->root };
    ocf_gossip_send (self, observer, &msg);
    self->stats.heartbeats_out++;
}

//  Whether a member answered for itself since the sweep began (what it said before may
//  predate the failure) and we do not suspect it. Such members bound a sweep (below).
static bool
s_vouches (ocf_gossip_t *self, const watched_t *watched)
{
    return watched && !watched->suspecting && watched->heard_at >= self->sweep_since;
}

//  The nodes that, by our view, have us among their observers: we expect their heartbeats
//  even before the first one, so that a node whose every observer was cut off (a
//  partition) is still watched from this side.
//  A sweep: suspects do not fill a place, and while our own probes fail (a sweep is under
//  way) the window widens by four more members for each failure, probed at once, since
//  whatever silenced the others may have silenced them too. A partition puts runs of the
//  other side's nodes on the ring, each watched only by the nodes of this side that follow
//  it: this way a run is swept in a few steps of one probe each, the window growing with what
//  failed, not in steps of one whole detection (phi, probe, suspicion) per K nodes. The sweep
//  stops at K members that answered since it began: the run of failures this node borders
//  ends there, and what lies behind them is theirs to sweep. Before, every suspect in the
//  view widened the window, whoever suspected it: in a split, with a suspect for every live
//  member, every window grew to the whole ring and every node probed every other, over a new
//  connection each (simulated, 256 nodes split scattered over the ring: 210-252 probes and
//  250-254 peers for the busiest node, against 30-38 and about 100 now); on a loaded
//  machine those answered late and turned into false suspicions. A lone failure costs a
//  few more probes, answered UNWATCHED.
static void
s_expect_heartbeats (ocf_gossip_t *self)
{
    for (size_t i = 0; i < self->watched_count; i++)
        self->watched[i].expected = self->watched[i].swept = false;
    size_t size = ocf_members_size (self->view);
    size_t start = ocf_members_lower_bound (self->view, self->id);
    int count = 0, vouching = 0;
    int reach = self->config.observers + 4 * self->sweep_failures;
    for (size_t n = 0; n < size && count < reach && count < MAX_WATCHED / 2 && vouching < self->config.observers; n++) {
        const ocf_peer_t *member = ocf_members_at (self->view, (start + size - 1 - n) % size);
        if (!ocf_peer_live (member) || strcmp (member->id, self->id) == 0)
            continue;
        if (member->status == OCF_STATUS_SUSPECT) {
            if (!self->sweep_since)
                self->sweep_since = self->now;
            self->sweep_seen = self->now;
            continue;
        }
        count++;
        watched_t *watched = s_watched_find (self, member->id);
        if (!watched)
            watched = s_watch_new (self, member->id, self->sweep_since != 0);
        if (watched) {
            watched->expected = true;
            watched->swept = self->sweep_since != 0;
        }
        vouching += self->sweep_since && s_vouches (self, watched);
    }
    for (size_t i = 0; i < self->watched_count; )
        if (!self->watched[i].heard && !self->watched[i].expected && !self->watched[i].suspecting)
            s_watched_remove (self, &self->watched[i]);
        else
            i++;
}

static void
s_choose_observers (ocf_gossip_t *self)
{
    self->observers_dirty = false;
    char chosen[MAX_OBSERVERS][OCF_ID_SIZE];
    int count = s_successors (self, self->id, chosen, self->config.observers, false);
    //  Released observers are told, so that they stop watching instead of suspecting us;
    //  new ones get a heartbeat at once, so that they start.
    for (int i = 0; i < self->observer_count; i++) {
        bool kept = false;
        for (int j = 0; j < count && !kept; j++)
            kept = strcmp (self->observers[i], chosen[j]) == 0;
        if (!kept)
            s_heartbeat (self, self->observers[i], OCF_WIRE_BYE);
    }
    for (int j = 0; j < count; j++)
        if (!s_is_observer (self, chosen[j]))
            s_heartbeat (self, chosen[j], 0);
    memcpy (self->observers, chosen, sizeof chosen[0] * count);
    self->observer_count = count;
    s_expect_heartbeats (self);
    ocf_gossip_active_refresh (self);
}

//  --------------------------------------------------------------------------
//  Probing, suspecting, declaring dead

//  A membership item about member at its generation and incarnation, of status, declared by
//  accuser (NULL: nobody named), encoded into payload.
static ocf_item_t
s_member_item (const ocf_peer_t *member, ocf_status_t status, const char *accuser, uint8_t payload[OCF_WIRE_PAYLOAD_MAX])
{
    ocf_wire_member_t state = { member->generation, member->incarnation, status, { 0 } };
    if (accuser)
        memcpy (state.accuser, accuser, OCF_ID_SIZE);
    ocf_item_t item = { .kind = OCF_ITEM_MEMBER, .data = payload, .size = (uint32_t) ocf_wire_member_encode (&state, payload) };
    memcpy (item.id, member->id, OCF_ID_SIZE);
    return item;
}

//  Our own membership verdict about a node: into our table, and to everybody, unless another
//  observer's verdict of that state reached us first (it is spreading; a rumour's key is the
//  state, not who declared it). The accused hears it first hand, so it can refute at once; a
//  suspicion also goes straight to the node's other observers, for whom it is a
//  confirmation that the tree no longer brings once another observer's went down it.
static void
s_declare (ocf_gossip_t *self, const ocf_peer_t *member, ocf_status_t status)
{
    uint8_t payload[OCF_WIRE_PAYLOAD_MAX];
    ocf_item_t item = s_member_item (member, status, self->id, payload);
    if (!ocf_gossip_seen (self, &item)) {
        self->env.merge (self->env.arg, NULL, &item, 1);
        ocf_gossip_spread (self, &item, 1);
    }
    ocf_gossip_send_items (self, item.id, &item, 1, false);
    char watchers[MAX_OBSERVERS][OCF_ID_SIZE];
    int count = status == OCF_STATUS_SUSPECT ? s_successors (self, item.id, watchers, self->config.observers, true) : 0;
    for (int i = 0; i < count; i++)
        if (strcmp (watchers[i], self->id) != 0)
            ocf_gossip_send_items (self, watchers[i], &item, 1, false);
}

static int64_t
s_suspicion_timeout (ocf_gossip_t *self, int confirmations)
{
    double expected = self->config.observers > 1 ? self->config.observers - 1 : 1;
    double fraction = log (confirmations + 1.0) / log (expected + 1.0);
    if (fraction > 1)
        fraction = 1;
    double span = (double) (self->config.suspicion_max_ms - self->config.suspicion_min_ms);
    double timeout = (double) self->config.suspicion_max_ms - span * fraction;
    if (timeout < self->config.suspicion_min_ms)
        timeout = (double) self->config.suspicion_min_ms;
    return (int64_t) (timeout * ocf_gossip_health_scale (self));
}

//  Whether other members than this one fail at the same time, by our own probes or by
//  others' verdicts (lately: the last of a split's far side is suspected after the rest
//  died): a partition, or a failure that everybody sees, not our own trouble.
static bool
s_others_failing (ocf_gossip_t *self, const watched_t *target)
{
    if (self->failure_seen_at && self->now - self->failure_seen_at <= self->config.suspicion_max_ms)
        return true;
    for (size_t i = 0; i < self->watched_count; i++) {
        const watched_t *watched = &self->watched[i];
        if (watched != target && (watched->suspecting || watched->probe_nonce))
            return true;
    }
    size_t size = ocf_members_size (self->view);
    for (size_t i = 0; i < size; i++) {
        const ocf_peer_t *member = ocf_members_at (self->view, i);
        if (member->status == OCF_STATUS_SUSPECT && strcmp (member->id, target->id) != 0)
            return true;
    }
    return false;
}

//  The indirect half of a probe: K helpers ping the node for us.
static void
s_probe_indirect (ocf_gossip_t *self, watched_t *watched)
{
    watched->probe_indirect_at = 0;
    //  Helpers we heard from lately first: in a partition they are on our side, so that
    //  their NACKs tell a failure they see too from silence on our part. Then peers of the
    //  active view, whose connections are open anyway.
    const ocf_peer_t *helpers[MAX_OBSERVERS];
    size_t want = (size_t) self->config.observers;
    size_t count = ocf_gossip_recent_contacts (self, helpers, want, watched->id, false);
    for (size_t i = 0; i < count; i++)
        memcpy (watched->fresh[i], helpers[i]->id, OCF_ID_SIZE);
    watched->fresh_count = (int) count;
    count = ocf_gossip_active_peers (self, helpers, count, want, watched->id);
    ocf_wire_msg_t request = { .type = OCF_WIRE_PING_REQ, .nonce = watched->probe_nonce };
    memcpy (request.target, watched->id, OCF_ID_SIZE);
    for (size_t i = 0; i < count; i++)
        ocf_gossip_send (self, helpers[i]->id, &request);
}

//  A member a sweep probes while others fail together is pinged again, twice, instead of
//  through helpers: in a split they cannot reach the far side either, and a member of this
//  side that answers late (a loaded host) is only loaded further by their pings. Helpers
//  cost 2K + 1 messages and mostly K new connections (the helpers' own to the member, a
//  CURVE handshake each); a ping again one message on a connection already open. Twice,
//  so that a lost ping or answer does not make a suspect: once was not enough at 1 %
//  loss (a same-side false suspicion in one simulated split of three). A lone failure
//  keeps its helpers.
//  Sends the probe's ping, and sets the next step (helpers, or a ping again) a quarter of
//  the probe's timeout from now.
static void
s_ping (ocf_gossip_t *self, watched_t *watched)
{
    int64_t timeout = watched->probe_deadline - watched->probe_started;
    watched->probe_indirect_at = self->now + (int64_t) ((double) timeout * INDIRECT_AFTER);
    ocf_wire_msg_t ping = { .type = OCF_WIRE_PING, .nonce = watched->probe_nonce };
    ocf_gossip_send (self, watched->id, &ping);
}

static void
s_probe_again_or_indirect (ocf_gossip_t *self, watched_t *watched)
{
    if (!watched->swept || !s_others_failing (self, watched)) {
        s_probe_indirect (self, watched);
        return;
    }
    s_ping (self, watched);
    if (++watched->pinged_again >= PINGS_AGAIN)
        watched->probe_indirect_at = 0;
}

//  The time a probe has to be answered: probe_timeout, stretched by the local health.
static int64_t
s_probe_timeout (ocf_gossip_t *self)
{
    return (int64_t) (self->config.probe_timeout_ms * ocf_gossip_health_scale (self));
}

static void
s_probe (ocf_gossip_t *self, watched_t *watched)
{
    watched->probe_nonce = ocf_gossip_nonce (self);
    watched->probe_started = self->now;
    watched->probe_deadline = self->now + s_probe_timeout (self);
    watched->nacks = 0;
    watched->pinged_again = 0;
    watched->probe_extended = false;
    watched->fresh_count = 0;
    //  The helpers only if it has not answered within a quarter of the timeout, as SWIM
    //  does: most probes are answered (members swept during a split, members alive again
    //  after it), and helpers asked at once cost each of those 2K + 1 more messages,
    //  a third of all that a node handled in a 128-node split and heal.
    s_ping (self, watched);
    self->stats.probes++;
    //  A timeout too short for a tick between the two halves (a small probe_timeout): the
    //  helpers at once, as a probe never fails without them.
    int64_t timeout = watched->probe_deadline - self->now;
    if ((double) timeout * (1 - INDIRECT_AFTER) <= (double) self->config.tick_ms)
        s_probe_indirect (self, watched);
}

//  Whether any of the probe's fresh helpers sent us anything since the probe began.
static bool
s_heard_since (ocf_gossip_t *self, const watched_t *watched)
{
    for (size_t n = 0; n < MAX_CONTACTS; n++)
        for (int i = 0; i < watched->fresh_count; i++)
            if (self->contacts[n].at >= watched->probe_started && strcmp (self->contacts[n].id, watched->fresh[i]) == 0)
                return true;
    return false;
}

//  Another member fails with the ones we suspected alone (a split's first suspicions, which
//  may have no other observer on this side to confirm them): they are confirmed by it, as if
//  their other observers had.
static void
s_confirm_together (ocf_gossip_t *self, const char *failing)
{
    for (size_t i = 0; i < self->watched_count; i++) {
        watched_t *other = &self->watched[i];
        int64_t deadline = other->suspect_since + s_suspicion_timeout (self, self->config.observers - 1);
        if (other->suspecting && deadline < other->suspect_deadline && strcmp (other->id, failing) != 0)
            other->suspect_deadline = deadline;
    }
}

//  A member a sweep probes while others fail together, on a host that ran late while the
//  probe was out (a tick came more than a tick late), gets a second timeout before it is
//  suspected. In a split every node of a side probes, relays and spreads verdicts at once;
//  where that saturates the CPUs (128 hosts' daemons on two cores), the members of this
//  side answer 0.5-1.4 s after the ping: they run, late, as we do. Suspected at 500 ms and
//  confirmed at once by the others' failures, a third of them were declared dead before
//  their answer came, and their refutations loaded everybody further: a spiral that took a
//  split 8-10 s to declare. A host that runs on time keeps the configured timeout, and a
//  lone failure always does, so that a crash is declared as fast as ever. (Lifeguard
//  likewise waits longer on a host that shows it is slow; the late ticks themselves are
//  already forgiven, deadline by deadline, and do not raise the local health.)
static bool
s_probe_extended (ocf_gossip_t *self, watched_t *watched)
{
    bool ran_late = self->late_tick_at && self->late_tick_at >= watched->probe_started - self->config.heartbeat_interval_ms;
    if (watched->probe_extended || !watched->swept || !ran_late || !s_others_failing (self, watched))
        return false;
    watched->probe_extended = true;
    watched->probe_deadline += s_probe_timeout (self);
    self->stats.probes_extended++;
    return true;
}

//  Returns false when the watched node was dropped.
static bool
s_probe_failed (ocf_gossip_t *self, watched_t *watched)
{
    self->stats.probe_failures++;
    watched->probe_nonce = 0;
    //  Our own failed probe starts a sweep, or widens the one under way.
    if (!self->sweep_since)
        self->sweep_since = self->now;
    self->sweep_seen = self->now;
    if (self->sweep_failures < MAX_WATCHED)
        self->sweep_failures++;
    self->observers_dirty = true;
    //  Helpers that reached us just before went silent: more likely our network than the
    //  node. Helpers we did not hear from lately may be on the far side of a partition, and
    //  one that sent us anything meanwhile (a busy one, with no relay free) still reaches
    //  us: stretching our timeouts for their silence would only slow down what everybody sees.
    //  So would counting it while other members fail too: in a split, what reached us just
    //  before it may all be on the far side (most of a small side's contacts are). The first
    //  failure of a split cannot know that yet: the next, failing together, takes it back.
    bool together = s_others_failing (self, watched);
    if (watched->fresh_count > 0 && watched->nacks == 0 && !s_heard_since (self, watched) && !together) {
        s_health_up (self, "helpers heard from lately went silent");
        self->health_blamed_helpers_at = self->now;
    }
    else
    if (together && self->health_blamed_helpers_at
    &&  self->now - self->health_blamed_helpers_at <= self->config.suspicion_max_ms) {
        self->health_blamed_helpers_at = 0;
        if (self->health > 0) {
            self->health--;
            ocf_gossip_log (self, OCF_LOG_INFO, "local health score %d: the helpers that went silent fail with others, "
                            "not for our network", self->health);
        }
    }
    const ocf_peer_t *member = ocf_members_get (self->view, watched->id);
    if (!member || !ocf_peer_live (member)) {
        s_update_probe_at (self, watched, self->now);
        return true;                 //  unknown yet: nobody to suspect
    }
    watched->suspecting = true;
    watched->suspect_generation = member->generation;
    watched->suspect_incarnation = member->incarnation;
    watched->suspect_since = self->now;
    watched->confirmer_count = 0;
    //  Members failing together (a partition, a rack) are confirmed together: each by the
    //  others' failures, as if its other observers had confirmed it, so that a whole side
    //  is declared as fast as one crash that all of its observers see. A lone failure waits
    //  for its other observers, as Lifeguard does. A split also loads this side (probes,
    //  relays, verdicts everywhere at once), and a node of this side that falls behind
    //  answers late: whatever it sends us meanwhile, its late answer first, ends the
    //  suspicion (ocf_gossip_detect_heard), so that it is not declared with the far side.
    int confirmations = together ? self->config.observers - 1 : 0;
    watched->suspect_deadline = self->now + s_suspicion_timeout (self, confirmations);
    if (together)
        s_confirm_together (self, watched->id);
    self->stats.suspicions++;
    ocf_gossip_log (self, OCF_LOG_NOTICE, "suspect %s: no heartbeat for %lld ms and no answer to probes%s",
                    watched->id, (long long) (self->now - watched->phi.last),
                    together ? ", as others fail together" : "");
    s_declare (self, member, OCF_STATUS_SUSPECT);
    return true;
}

//  Returns false when the watched node was dropped.
static bool
s_suspicion_expired (ocf_gossip_t *self, watched_t *watched)
{
    const ocf_peer_t *member = ocf_members_get (self->view, watched->id);
    if (!member || !ocf_peer_live (member)) {
        s_watched_remove (self, watched);
        return false;
    }
    if (member->generation != watched->suspect_generation || member->incarnation > watched->suspect_incarnation) {
        watched->suspecting = false;             //  refuted meanwhile
        s_update_probe_at (self, watched, self->now);
        return true;
    }
    self->stats.deaths_declared++;
    ocf_gossip_log (self, OCF_LOG_NOTICE, "declare %s dead: suspected for %lld ms, %d confirmation(s)", watched->id,
                    (long long) (self->now - watched->suspect_since), watched->confirmer_count);
    s_declare (self, member, OCF_STATUS_DEAD);
    s_watched_remove (self, watched);
    return false;
}

//  --------------------------------------------------------------------------

void
ocf_gossip_detect_tick (ocf_gossip_t *self)
{
    //  A tick far later than asked for means this process did not run: that time is
    //  nobody else's fault, and every deadline moves by it. It does not raise the local
    //  health as well: on a loaded machine late ticks come every few seconds, and each
    //  would stretch every timeout again (x9 at most, a partition declared in 19 s instead
    //  of 3) for a delay already forgiven.
    int64_t late = self->now - (self->last_tick + self->config.tick_ms);
    if (late > self->config.tick_ms) {
        self->late_tick_at = self->now;
        for (size_t i = 0; i < self->watched_count; i++) {
            watched_t *watched = &self->watched[i];
            ocf_phi_forgive (&watched->phi, late);
            watched->probe_at += late;
            watched->probe_deadline += late;
            watched->suspect_deadline += late;
        }
    }
    if (self->health > 0 && self->now >= self->health_decay_at) {
        self->health--;
        self->health_decay_at = self->now + HEALTH_DECAY_MS;
        for (size_t i = 0; i < self->watched_count; i++)
            s_update_probe_at (self, &self->watched[i], self->watched[i].phi.last);
    }
    if (self->observers_dirty)
        s_choose_observers (self);
    //  A sweep is over when no suspect has stood in the window for two heartbeat intervals
    //  (drawn again, in case one stands there still): the window shrinks back, and the
    //  members it swept are not probed any more.
    int64_t quiet = 2 * self->config.heartbeat_interval_ms;
    if (self->sweep_since && self->now - self->sweep_seen > quiet) {
        s_expect_heartbeats (self);
        if (self->now - self->sweep_seen > quiet) {
            self->sweep_since = self->sweep_failures = 0;
            s_expect_heartbeats (self);
        }
    }
    if (self->now >= self->next_heartbeat) {
        for (int i = 0; i < self->observer_count; i++)
            s_heartbeat (self, self->observers[i], 0);
        self->next_heartbeat += self->config.heartbeat_interval_ms;
        if (self->next_heartbeat <= self->now)
            self->next_heartbeat = self->now + self->config.heartbeat_interval_ms;
    }
    for (size_t i = 0; i < self->watched_count; ) {
        watched_t *watched = &self->watched[i];
        const ocf_peer_t *member = ocf_members_get (self->view, watched->id);
        bool forgotten = member ? !ocf_peer_live (member)
                       : self->now - watched->phi.last > FORGET_UNKNOWN_AFTER * self->config.heartbeat_interval_ms;
        bool kept = true;
        if (forgotten) {
            s_watched_remove (self, watched);
            kept = false;
        }
        else
        if (watched->suspecting) {
            if (self->now >= watched->suspect_deadline)
                kept = s_suspicion_expired (self, watched);
        }
        else
        if (watched->probe_nonce) {
            if (self->now >= watched->probe_deadline && !s_probe_extended (self, watched))
                kept = s_probe_failed (self, watched);
            else
            if (watched->probe_indirect_at && self->now >= watched->probe_indirect_at)
                s_probe_again_or_indirect (self, watched);
        }
        else
        if (self->now >= watched->probe_at && (!watched->disowned || watched->swept))
            s_probe (self, watched);
        if (kept)
            i++;
    }
    for (size_t i = 0; i < self->relay_cap; i++) {
        relay_t *relay = &self->relays[i];
        if (relay->nonce && self->now >= relay->deadline) {
            ocf_wire_msg_t nack = { .type = OCF_WIRE_ACK, .nonce = relay->requester_nonce, .flags = OCF_WIRE_NACK };
            ocf_gossip_send (self, relay->requester, &nack);
            relay->nonce = 0;
        }
    }
}

bool
ocf_gossip_awaits_answers (ocf_gossip_t *self)
{
    for (size_t i = 0; i < self->watched_count; i++)
        if (self->watched[i].probe_nonce || self->watched[i].suspecting)
            return true;
    for (size_t i = 0; i < self->relay_cap; i++)
        if (self->relays[i].nonce)
            return true;
    return false;
}

//  Whether time `at` was lately: within a heartbeat interval and a half.
static bool
s_lately (ocf_gossip_t *self, int64_t at)
{
    return self->now - at <= self->config.heartbeat_interval_ms * 3 / 2;
}

//  The n-th latest contact (1: the latest) when it is fresh (s_lately). Contacts are in
//  order, so the first stale one ends any walk.
static const contact_t *
s_fresh_contact (ocf_gossip_t *self, size_t n)
{
    const contact_t *contact = &self->contacts[(self->contact_next + MAX_CONTACTS - n) % MAX_CONTACTS];
    return contact->id[0] && s_lately (self, contact->at) ? contact : NULL;
}

bool
ocf_gossip_heard_lately (ocf_gossip_t *self, const char *peer)
{
    const contact_t *contact;
    for (size_t n = 1; n <= MAX_CONTACTS && (contact = s_fresh_contact (self, n)); n++)
        if (strcmp (contact->id, peer) == 0)
            return true;
    return false;
}

size_t
ocf_gossip_recent_contacts (ocf_gossip_t *self, const ocf_peer_t **out, size_t want, const char *except, bool suspects)
{
    size_t count = 0;
    const contact_t *contact;
    for (size_t n = 1; n <= MAX_CONTACTS && count < want && (contact = s_fresh_contact (self, n)); n++) {
        const ocf_peer_t *member = ocf_members_get (self->view, contact->id);
        if (member && (member->status == OCF_STATUS_ALIVE || (suspects && member->status == OCF_STATUS_SUSPECT))
        &&  (!except || strcmp (member->id, except) != 0))
            out[count++] = member;
    }
    return count;
}

void
ocf_gossip_detect_heard (ocf_gossip_t *self, const char *peer)
{
    //  A node we suspect that sends us anything (its late answer to our probe, a rumour, an
    //  IHAVE) runs and reaches us: slow, not gone, whatever else fails meanwhile. That ends
    //  our suspicion; the node refutes what we spread about it by itself.
    watched_t *watched = s_watched_find (self, peer);
    if (watched)
        watched->heard_at = self->now;
    if (watched && watched->suspecting) {
        ocf_gossip_log (self, OCF_LOG_INFO, "%s sent us a message %lld ms after our probe began: slow, not gone", peer,
                        (long long) (self->now - watched->probe_started));
        watched->suspecting = false;
        s_update_probe_at (self, watched, self->now);
    }
    for (size_t n = 1; n <= MAX_CONTACTS; n++) {
        contact_t *contact = &self->contacts[(self->contact_next + MAX_CONTACTS - n) % MAX_CONTACTS];
        if (strcmp (contact->id, peer) == 0) {
            //  The ring is in order of when we last heard: this one is fresh if its own time is.
            if (!s_lately (self, contact->at))
                ocf_gossip_spread_new_contact (self, peer);
            //  Moved to the latest place: the ring stays free of duplicates.
            for (size_t m = n; m > 1; m--)
                self->contacts[(self->contact_next + MAX_CONTACTS - m) % MAX_CONTACTS]
                    = self->contacts[(self->contact_next + MAX_CONTACTS - m + 1) % MAX_CONTACTS];
            contact = &self->contacts[(self->contact_next + MAX_CONTACTS - 1) % MAX_CONTACTS];
            memcpy (contact->id, peer, OCF_ID_SIZE);
            contact->at = self->now;
            return;
        }
    }
    ocf_gossip_spread_new_contact (self, peer);
    contact_t *contact = &self->contacts[self->contact_next];
    memcpy (contact->id, peer, OCF_ID_SIZE);
    contact->at = self->now;
    self->contact_next = (self->contact_next + 1) % MAX_CONTACTS;
}

void
ocf_gossip_on_heartbeat (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg)
{
    self->stats.heartbeats_in++;
    watched_t *watched = s_watched_find (self, from);
    if (msg->flags & OCF_WIRE_BYE) {
        if (watched)
            s_watched_remove (self, watched);
        return;
    }
    if (!watched && !(watched = s_watched_add (self, from)))
        return;
    if (!watched->heard || watched->generation != msg->generation) {
        //  A first heartbeat, or a new run of that node: no history to go by.
        ocf_phi_init (&watched->phi, self->config.heartbeat_interval_ms);
        watched->generation = msg->generation;
        watched->heard = true;
    }
    watched->disowned = false;
    ocf_phi_heartbeat (&watched->phi, self->now);
    s_update_probe_at (self, watched, self->now);
    //  A heartbeat answers for any probe under way; our suspicion, if any, ended as the
    //  message arrived (ocf_gossip_detect_heard), and the node refutes others' by itself.
    watched->probe_nonce = 0;
    //  Tables that differ for a whole heartbeat interval with neither root moving are not
    //  just an update on its way; nor are tables that keep differing for several intervals
    //  (a busy cluster, whose roots never hold still): repair them now.
    if (!self->root_known || msg->root == self->root) {
        watched->mismatch_since = watched->differing_since = 0;
        return;
    }
    int64_t interval = self->config.heartbeat_interval_ms;
    if (!watched->differing_since)
        watched->differing_since = self->now;
    bool same = watched->mismatch_since && watched->mismatch_theirs == msg->root && watched->mismatch_ours == self->root;
    bool settled = same && self->now - watched->mismatch_since >= interval / 2;
    bool lasting = self->now - watched->differing_since >= LASTING_DIFFERENCE * interval;
    if (settled || lasting) {
        watched->mismatch_since = watched->differing_since = 0;
        ocf_gossip_sync_start (self, from);
    }
    else
    if (!same) {
        watched->mismatch_theirs = msg->root;
        watched->mismatch_ours = self->root;
        watched->mismatch_since = self->now;
    }
}

void
ocf_gossip_on_ping (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg)
{
    ocf_wire_msg_t ack = { .type = OCF_WIRE_ACK, .nonce = msg->nonce,
                           .flags = s_is_observer (self, from) ? 0 : OCF_WIRE_UNWATCHED };
    ocf_gossip_send (self, from, &ack);
}

void
ocf_gossip_on_ping_req (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg)
{
    if (strcmp (msg->target, self->id) == 0) {
        ocf_wire_msg_t ack = { .type = OCF_WIRE_ACK, .nonce = msg->nonce };
        ocf_gossip_send (self, from, &ack);
        return;
    }
    if (self->relay_cap < MAX_RELAYS) {
        bool full = true;
        for (size_t i = 0; i < self->relay_cap && full; i++)
            full = self->relays[i].nonce != 0;
        if (full) {
            size_t cap = self->relay_cap ? self->relay_cap * 2 : 4;
            self->relays = ocf_realloc (self->relays, cap * sizeof *self->relays);
            memset (self->relays + self->relay_cap, 0, (cap - self->relay_cap) * sizeof *self->relays);
            self->relay_cap = cap;
        }
    }
    for (size_t i = 0; i < self->relay_cap; i++) {
        relay_t *relay = &self->relays[i];
        if (relay->nonce)
            continue;
        relay->nonce = ocf_gossip_nonce (self);
        relay->requester_nonce = msg->nonce;
        memcpy (relay->requester, from, OCF_ID_SIZE);
        memcpy (relay->target, msg->target, OCF_ID_SIZE);
        //  Answer the requester before its own probe times out (it asked us a quarter of the
        //  way into it), so that a NACK still counts.
        relay->deadline = self->now + (int64_t) (self->config.probe_timeout_ms * RELAY_SHARE * ocf_gossip_health_scale (self));
        ocf_wire_msg_t ping = { .type = OCF_WIRE_PING, .nonce = relay->nonce };
        ocf_gossip_send (self, relay->target, &ping);
        return;
    }
    //  All relay slots busy (a partition being swept): "no answer" at once, which tells the
    //  requester that we reach it, so that our being busy does not count against its health.
    ocf_wire_msg_t nack = { .type = OCF_WIRE_ACK, .nonce = msg->nonce, .flags = OCF_WIRE_NACK };
    ocf_gossip_send (self, from, &nack);
}

void
ocf_gossip_on_ack (ocf_gossip_t *self, const char *from, const ocf_wire_msg_t *msg)
{
    for (size_t i = 0; i < self->relay_cap; i++) {
        relay_t *relay = &self->relays[i];
        if (relay->nonce && relay->nonce == msg->nonce && strcmp (relay->target, from) == 0) {
            ocf_wire_msg_t ack = { .type = OCF_WIRE_ACK, .nonce = relay->requester_nonce };
            ocf_gossip_send (self, relay->requester, &ack);
            relay->nonce = 0;
            return;
        }
    }
    for (size_t i = 0; i < self->watched_count; i++) {
        watched_t *watched = &self->watched[i];
        if (!watched->probe_nonce || watched->probe_nonce != msg->nonce)
            continue;
        if (msg->flags & OCF_WIRE_NACK) {
            watched->nacks++;
            return;
        }
        watched->probe_nonce = 0;
        //  It heartbeats to others: our view of who watches it is not its own (yet).
        if ((msg->flags & OCF_WIRE_UNWATCHED) && strcmp (from, watched->id) == 0)
            watched->disowned = true;
        //  A swept member that answers may be where the sweep stops: the window is drawn again.
        if (watched->swept)
            self->observers_dirty = true;
        s_update_probe_at (self, watched, self->now);
        return;
    }
}

void
ocf_gossip_detect_on_member (ocf_gossip_t *self, const char *id, const ocf_wire_member_t *member)
{
    if (!member->accuser[0] || strcmp (member->accuser, self->id) == 0)
        return;
    if (strcmp (id, self->id) == 0) {
        if (member->status == OCF_STATUS_SUSPECT || member->status == OCF_STATUS_DEAD) {
            //  Being suspected of this run may mean we were too slow to answer: Lifeguard
            //  counts it. A death we never heard suspected, or one of an earlier run, tells
            //  of the network (a healed partition) or the past, not of our speed.
            const ocf_peer_t *me = ocf_members_get (self->view, self->id);
            if (member->status == OCF_STATUS_SUSPECT && me && me->generation == member->generation)
                s_health_up (self, "suspected by a peer");
            ocf_gossip_detect_accused_by (self, member->accuser);
        }
        return;
    }
    watched_t *watched = s_watched_find (self, id);
    if (!watched || !watched->suspecting || member->status != OCF_STATUS_SUSPECT
    ||  member->generation != watched->suspect_generation || member->incarnation != watched->suspect_incarnation)
        return;
    for (int i = 0; i < watched->confirmer_count; i++)
        if (strcmp (watched->confirmers[i], member->accuser) == 0)
            return;
    if (watched->confirmer_count < MAX_OBSERVERS)
        memcpy (watched->confirmers[watched->confirmer_count++], member->accuser, OCF_ID_SIZE);
    int64_t deadline = watched->suspect_since + s_suspicion_timeout (self, watched->confirmer_count);
    if (deadline < watched->suspect_deadline)
        watched->suspect_deadline = deadline;
}

void
ocf_gossip_detect_accused_by (ocf_gossip_t *self, const char *peer)
{
    ocf_gossip_id_set_add (self->accusers, &self->accuser_count, MAX_ACCUSERS, peer);
}

void
ocf_gossip_detect_refuted (ocf_gossip_t *self, const ocf_item_t *item)
{
    ocf_wire_member_t member;
    if (ocf_wire_member_decode (item->data, item->size, &member) != 0 || member.status != OCF_STATUS_ALIVE)
        return;
    self->stats.refutations++;
    ocf_gossip_log (self, OCF_LOG_NOTICE, "refuted %zu accusation(s) with incarnation %llu", self->accuser_count,
                    (unsigned long long) member.incarnation);
    //  Each accuser also spreads it on its side: after a partition, the side that declared us
    //  dead may not be in our view, nor we in theirs.
    for (size_t i = 0; i < self->accuser_count; i++)
        ocf_gossip_send_items (self, self->accusers[i], item, 1, true);
    self->accuser_count = 0;
    //  While others held us suspect, much of what they spread passed us over (the tree leaves
    //  silent suspects out, and only the few that heard from us lately advertise to us): once
    //  our refutation has had a heartbeat interval to spread, an exchange fetches what we
    //  missed, rather than a random one much later.
    self->exchange_due_at = self->now + self->config.heartbeat_interval_ms;
}

//  Our table says a member failed while it still reaches us: in a healed partition, the other
//  side's verdicts about this side arrive by repair. The member learns it from us at once and
//  refutes, instead of at its own next exchange with that side (one every 1-3 s, to a dead
//  member picked at random: the tail of a heal). An observer's own verdict went to it first
//  hand already; a member that does not reach us gets nothing.
static void
s_tell_accused (ocf_gossip_t *self, const ocf_peer_t *member, const watched_t *watched)
{
    if (!ocf_gossip_heard_lately (self, member->id) && !(watched && watched->heard_at && s_lately (self, watched->heard_at)))
        return;
    uint8_t payload[OCF_WIRE_PAYLOAD_MAX];
    ocf_item_t item = s_member_item (member, member->status, NULL, payload);
    ocf_gossip_send_items (self, item.id, &item, 1, false);
}

//  A member alive in our view whose membership just changed (mostly its refutation: a
//  healed partition, a false suspicion ended; or a join), and that we do not watch yet, is
//  watched from now on phi, like a newcomer, in case our window takes it in: not probed at
//  once as a sweep's members are (s_expect_heartbeats). Its refutation, signed by itself, is a sign of life as fresh as
//  an answer, and a heal swamps everybody with refutations and verdicts for a second or
//  two: probes of every returner at once were answered 0.5-1.4 s late there, past the
//  probe's timeout, and made false suspects that had to refute once more (64-node heals:
//  20-45 of them, each one the last to turn alive again). The next s_expect_heartbeats
//  drops it when the window does not take it in.
static void
s_watch_returning (ocf_gossip_t *self, const ocf_peer_t *member)
{
    if (!self->sweep_since || !member || member->status != OCF_STATUS_ALIVE || strcmp (member->id, self->id) == 0)
        return;
    s_watch_new (self, member->id, false);
}

void
ocf_gossip_detect_member_changed (ocf_gossip_t *self, const char *id)
{
    self->observers_dirty = true;
    const ocf_peer_t *member = ocf_members_get (self->view, id);
    watched_t *watched = s_watched_find (self, id);
    if (member && (member->status == OCF_STATUS_SUSPECT || member->status == OCF_STATUS_DEAD)
    &&  strcmp (id, self->id) != 0) {
        self->failure_seen_at = self->now;
        s_confirm_together (self, id);
        s_tell_accused (self, member, watched);
    }
    if (!watched) {
        s_watch_returning (self, member);
        return;
    }
    if (!member || !ocf_peer_live (member))
        s_watched_remove (self, watched);
    else
    if (watched->suspecting
    &&  (member->generation != watched->suspect_generation || member->incarnation > watched->suspect_incarnation)) {
        watched->suspecting = false;
        s_update_probe_at (self, watched, self->now);
    }
}

void
ocf_gossip_detect_free (ocf_gossip_t *self)
{
    free (self->watched);
    free (self->relays);
    self->watched = NULL;
    self->relays = NULL;
    self->watched_count = self->relay_cap = 0;
}

/*  ocf_choose: provider choice policies.  */
#include "ocf_choose.h"
#include "ocf_hash.h"

#include <string.h>

static const char *s_names[] = { "p2c", "local_first", "round_robin", "random", "prefix" };

int
ocf_policy_parse (const char *name)
{
    for (int i = 0; i < (int) (sizeof s_names / sizeof s_names[0]); i++)
        if (name && strcmp (name, s_names[i]) == 0)
            return i;
    return -1;
}

const char *
ocf_policy_name (ocf_policy_t policy)
{
    return s_names[policy];
}

const char *
ocf_choice_name (ocf_choice_t choice)
{
    static const char *names[OCF_CHOICE_COUNT] = { "local", "balanced", "affinity", "spilled" };
    return names[choice];
}

uint64_t
ocf_choose_id_hash (const char *node_id)
{
    return ocf_hash64 (node_id, strlen (node_id), 0);
}

void
ocf_chooser_init (ocf_chooser_t *self, ocf_policy_t policy, uint64_t seed)
{
    self->policy = policy;
    self->random = seed ? seed : 0x9E3779B97F4A7C15ULL;
    self->turn = 0;
    self->balance = 0.25;
    self->near_ms = 20;
    self->last = OCF_CHOICE_BALANCED;
}

uint64_t
ocf_chooser_random (ocf_chooser_t *self)
{
    //  xorshift64*: fast and good enough to spread load; not for secrets.
    uint64_t x = self->random;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    self->random = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static bool
s_full (const ocf_candidate_t *candidate)
{
    return candidate->capacity > 0 && candidate->load >= candidate->capacity;
}

//  Candidates considered: not excluded, and not full unless only full ones remain; with a
//  distance limit, no farther than it (one not measured yet counts as near: a host that just
//  joined, a peer whose gossipd does not measure).
typedef struct {
    const ocf_candidate_t *candidates;
    size_t n;
    bool allow_full;
    double max_rtt;              //  < 0: no limit
    size_t count;
} pool_t;

static bool
s_within_reach (const pool_t *pool, size_t i)
{
    double rtt = pool->candidates[i].rtt_ms;
    return pool->max_rtt < 0 || rtt <= pool->max_rtt;
}

static bool
s_in_pool (const pool_t *pool, size_t i)
{
    const ocf_candidate_t *candidate = &pool->candidates[i];
    return !candidate->excluded && (pool->allow_full || !s_full (candidate)) && s_within_reach (pool, i);
}

static void
s_pool_init (pool_t *pool, const ocf_candidate_t *candidates, size_t n, bool prefer_free)
{
    *pool = (pool_t) { candidates, n, !prefer_free, -1, 0 };
    for (size_t i = 0; i < n; i++)
        pool->count += s_in_pool (pool, i);
    if (pool->count == 0 && prefer_free) {
        pool->allow_full = true;
        for (size_t i = 0; i < n; i++)
            pool->count += s_in_pool (pool, i);
    }
}

//  Keeps the near members of the pool only: those within near_ms of the nearest measured one.
static void
s_pool_near (pool_t *pool, double near_ms)
{
    double nearest = -1, farthest = -1;
    for (size_t i = 0; i < pool->n; i++) {
        double rtt = pool->candidates[i].rtt_ms;
        if (!s_in_pool (pool, i) || rtt < 0)
            continue;
        if (nearest < 0 || rtt < nearest)
            nearest = rtt;
        if (rtt > farthest)
            farthest = rtt;
    }
    //  Nobody to leave out (all near, the usual case within a site): no filter to apply later.
    if (near_ms <= 0 || farthest <= nearest + near_ms)
        return;
    pool->max_rtt = nearest + near_ms;
    pool->count = 0;
    for (size_t i = 0; i < pool->n; i++)
        pool->count += s_in_pool (pool, i);
}

//  p2c's comparison: the less loaded; of two equally loaded, the nearer (unmeasured last).
static bool
s_better (const ocf_candidate_t *a, const ocf_candidate_t *b)
{
    if (a->load != b->load)
        return a->load < b->load;
    return a->rtt_ms >= 0 && (b->rtt_ms < 0 || a->rtt_ms < b->rtt_ms);
}

//  The k-th member of the pool (0-based).
static int
s_pool_at (const pool_t *pool, size_t k)
{
    for (size_t i = 0; i < pool->n; i++)
        if (s_in_pool (pool, i) && k-- == 0)
            return (int) i;
    return -1;
}

static int
s_self (const ocf_candidate_t *candidates, size_t n, bool busy_ok)
{
    for (size_t i = 0; i < n; i++)
        if (candidates[i].self && !candidates[i].excluded && (busy_ok || !s_full (&candidates[i])))
            return (int) i;
    return -1;
}

//  Rendezvous hashing with bounded loads: of the providers under the key's bound, the one with
//  the highest hash(key, id). The order depends on the key and the ids alone, so every host has
//  the same; a provider that leaves moves only the keys it was first for. The bound is on what
//  this chooser sent each provider lately (consistent hashing with bounded loads, Mirrokni,
//  Thorup, Zadimoghaddam 2018): a recent count that stays within (1 + balance x u) x the mean
//  once it takes this request (of a full window at least), u in [0, 1) drawn from hash(key,
//  id); within it after the choice, not only before, or with few requests a provider each
//  (many hosts, each its own chooser) the count one over the bound is a tenth of the mean. A
//  provider over its share thus sheds whole keys, those of least u first and the same ones
//  every time, which then stay cached on their next provider; a bound on requests in flight
//  sheds requests of every key at random, each a miss where it lands. In flight, only a long
//  queue counts: at twice the bound (x the mean in-flight load) or more. When every one within
//  its bound has a long queue, the first of them in the key's order takes the request; when
//  none is within its bound (counted alike, each near its bound: one must pass the mean), the
//  least counted (of equals, the first in the key's order).
static int
s_prefix (ocf_chooser_t *self, const pool_t *pool, uint64_t key)
{
    double total = 1, load = 1;
    for (size_t i = 0; i < pool->n; i++)
        if (s_in_pool (pool, i)) {
            total += pool->candidates[i].recent;
            load += (double) pool->candidates[i].load;
        }
    //  Counts are shares of a window only once a window of choices was made: before (after a
    //  start, for a new model), what is missing counts as spread evenly.
    double mean = (total > OCF_CHOOSE_WINDOW ? total : OCF_CHOOSE_WINDOW) / (double) pool->count;
    double mean_load = load / (double) pool->count;
    int best = -1, queued = -1, least = -1;
    uint64_t best_score = 0, queued_score = 0, least_score = 0, top_score = 0;
    for (size_t i = 0; i < pool->n; i++) {
        const ocf_candidate_t *candidate = &pool->candidates[i];
        uint64_t score = ocf_hash_u64 (key, candidate->id_hash);
        if (score > top_score && s_within_reach (pool, i))
            top_score = score;      //  far providers are not in the order at all
        if (!s_in_pool (pool, i))
            continue;
        if (least < 0 || candidate->recent < pool->candidates[least].recent
        ||  (candidate->recent == pool->candidates[least].recent && score > least_score)) {
            least = (int) i;
            least_score = score;
        }
        if (best >= 0 && score <= best_score)
            continue;
        //  The low bits: independent enough of the high ones that order the providers.
        double bound = 1.0 + self->balance * (double) (score & 0xFFFF) / 65536.0;
        if (candidate->recent + 1 > bound * mean)
            continue;
        if ((double) candidate->load < 2 * bound * mean_load) {
            best = (int) i;
            best_score = score;
        }
        else if (queued < 0 || score > queued_score) {
            queued = (int) i;
            queued_score = score;
        }
    }
    if (best < 0) {
        best = queued;
        best_score = queued_score;
    }
    //  Counted alike and each near its bound, every one would pass it: the least counted.
    if (best < 0) {
        best = least;
        best_score = least_score;
    }
    self->last = best_score == top_score ? OCF_CHOICE_AFFINITY : OCF_CHOICE_SPILLED;
    return best;
}

void
ocf_choose_count (double *recent, bool chosen)
{
    *recent = *recent * (1.0 - 1.0 / OCF_CHOOSE_WINDOW) + (chosen ? 1.0 : 0.0);
}

int
ocf_choose (ocf_chooser_t *self, const ocf_candidate_t *candidates, size_t n, uint64_t key)
{
    bool keyed = self->policy == OCF_POLICY_PREFIX && key;
    bool balanced = self->policy == OCF_POLICY_P2C || self->policy == OCF_POLICY_LOCAL_FIRST
                 || self->policy == OCF_POLICY_PREFIX;
    //  Without a key the prefix policy is p2c, this host first included.
    if (balanced && !keyed) {
        int local = s_self (candidates, n, self->policy == OCF_POLICY_LOCAL_FIRST);
        self->last = OCF_CHOICE_LOCAL;
        if (local >= 0)
            return local;
    }
    self->last = OCF_CHOICE_BALANCED;
    pool_t pool;
    s_pool_init (&pool, candidates, n, balanced);
    if (pool.count == 0)
        return -1;
    if (self->policy == OCF_POLICY_PREFIX)
        s_pool_near (&pool, self->near_ms);
    if (keyed)
        return s_prefix (self, &pool, key);
    if (pool.count == 1)
        return s_pool_at (&pool, 0);
    switch (self->policy) {
        case OCF_POLICY_ROUND_ROBIN:
            return s_pool_at (&pool, (size_t) (self->turn++ % pool.count));
        case OCF_POLICY_RANDOM:
            return s_pool_at (&pool, (size_t) (ocf_chooser_random (self) % pool.count));
        default: {
            size_t a = (size_t) (ocf_chooser_random (self) % pool.count);
            size_t b = (size_t) (ocf_chooser_random (self) % (pool.count - 1));
            if (b >= a)
                b++;                 //  two distinct draws
            int first = s_pool_at (&pool, a), second = s_pool_at (&pool, b);
            return s_better (&candidates[second], &candidates[first]) ? second : first;
        }
    }
}

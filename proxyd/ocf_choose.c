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

//  Rendezvous hashing with bounded loads: of the providers whose load is under the bound, the
//  one with the highest hash(key, id). The order depends on the key and the ids alone, so every
//  host has the same; a provider that leaves moves only the keys it was first for. The bound
//  is ceil((1 + balance) x the mean load with this request counted), as in consistent hashing
//  with bounded loads (Mirrokni, Thorup, Zadimoghaddam 2018); the least loaded provider is
//  always under it, so one is always found.
static int
s_prefix (ocf_chooser_t *self, const pool_t *pool, uint64_t key)
{
    int64_t total = 1;
    for (size_t i = 0; i < pool->n; i++)
        if (s_in_pool (pool, i))
            total += pool->candidates[i].load;
    //  load < ceil (x) is load < x for an integer load
    double bound = (1.0 + self->balance) * (double) total / (double) pool->count;
    int best = -1;
    uint64_t best_score = 0, top_score = 0;
    for (size_t i = 0; i < pool->n; i++) {
        uint64_t score = ocf_hash_u64 (key, pool->candidates[i].id_hash);
        if (score > top_score && s_within_reach (pool, i))
            top_score = score;      //  far providers are not in the order at all
        if (!s_in_pool (pool, i) || (double) pool->candidates[i].load >= bound)
            continue;
        if (best < 0 || score > best_score) {
            best = (int) i;
            best_score = score;
        }
    }
    self->last = best_score == top_score ? OCF_CHOICE_AFFINITY : OCF_CHOICE_SPILLED;
    return best;
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

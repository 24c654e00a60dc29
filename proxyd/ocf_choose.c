/*  ocf_choose: provider choice policies.  */
#include "ocf_choose.h"

#include <string.h>

static const char *s_names[] = { "p2c", "local_first", "round_robin", "random" };

int
ocf_policy_parse (const char *name)
{
    for (int i = 0; i < (int) (sizeof s_names / sizeof s_names[0]); i++)
        if (name && strcmp (name, s_names[i]) == 0)
            return i;
    return -1;
}

void
ocf_chooser_init (ocf_chooser_t *self, ocf_policy_t policy, uint64_t seed)
{
    self->policy = policy;
    self->random = seed ? seed : 0x9E3779B97F4A7C15ULL;
    self->turn = 0;
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

//  Candidates considered: not excluded, and not full unless only full ones remain.
typedef struct {
    const ocf_candidate_t *candidates;
    size_t n;
    bool allow_full;
    size_t count;
} pool_t;

static bool
s_in_pool (const pool_t *pool, size_t i)
{
    return !pool->candidates[i].excluded && (pool->allow_full || !s_full (&pool->candidates[i]));
}

static void
s_pool_init (pool_t *pool, const ocf_candidate_t *candidates, size_t n, bool prefer_free)
{
    *pool = (pool_t) { candidates, n, !prefer_free, 0 };
    for (size_t i = 0; i < n; i++)
        pool->count += s_in_pool (pool, i);
    if (pool->count == 0 && prefer_free) {
        pool->allow_full = true;
        for (size_t i = 0; i < n; i++)
            pool->count += s_in_pool (pool, i);
    }
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

int
ocf_choose (ocf_chooser_t *self, const ocf_candidate_t *candidates, size_t n)
{
    if (self->policy == OCF_POLICY_P2C || self->policy == OCF_POLICY_LOCAL_FIRST) {
        int local = s_self (candidates, n, self->policy == OCF_POLICY_LOCAL_FIRST);
        if (local >= 0)
            return local;
    }
    pool_t pool;
    s_pool_init (&pool, candidates, n, self->policy == OCF_POLICY_P2C || self->policy == OCF_POLICY_LOCAL_FIRST);
    if (pool.count == 0)
        return -1;
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
            return candidates[second].load < candidates[first].load ? second : first;
        }
    }
}

/*  ocf_choose: which provider serves a request, given what is known about each.
    Pure and deterministic for a given random state, so policies are unit-tested exactly.
    Policies:
      p2c          this host when it serves the request and has capacity; otherwise the less
                   loaded of two providers drawn at random ("power of two choices")
      local_first  this host whenever it serves the request, busy or not; otherwise as p2c
      round_robin  providers in turn
      random       a provider drawn uniformly
      prefix       among the near providers (below), the request's prefix key (ocf_prefix)
                   orders them, the same way on every host that sees the same near ones
                   (rendezvous hashing: by hash(key, node id)); the first in that order under
                   the key's bound takes it (bounded loads): its recent count with this
                   request within (1 + balance x u) times their mean, u in [0, 1) from
                   hash(key, node id) (none within: the least counted), so
                   that a provider over its share sheds the same keys each time, and its
                   in-flight load under twice that bound times theirs (a short queue);
                   without a key, this host when it has capacity, else as p2c among the near
    A provider is full when it declares max_inflight and its load reaches it; p2c, local_first
    and prefix prefer providers that are not full, and fall back to full ones rather than
    refusing (the backend queues).
    Distance: a candidate's round-trip time from this host (0 for this host; unknown for
    hosts not measured yet). p2c's two draws of equal load go to the nearer (the unmeasured
    last). prefix keeps the near providers only: those within near_ms of the nearest of the
    candidates left (not tried, not full while others are not), the unmeasured ones counted
    as near; so far providers take requests only when every near one is full, tried or gone.  */
#ifndef OCF_CHOOSE_H
#define OCF_CHOOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    OCF_POLICY_P2C = 0,
    OCF_POLICY_LOCAL_FIRST,
    OCF_POLICY_ROUND_ROBIN,
    OCF_POLICY_RANDOM,
    OCF_POLICY_PREFIX
} ocf_policy_t;

typedef struct {
    bool self;                   //  this host
    bool excluded;               //  already tried for this request
    int64_t load;                //  requests in flight toward it plus its reported in-flight and queue
    int64_t capacity;            //  its max_inflight; 0 when it declares none
    uint64_t id_hash;            //  ocf_choose_id_hash of its node id: its place in a key's order
    double rtt_ms;               //  round-trip time from this host: 0 for this host, < 0 unknown
    double recent;               //  prefix: requests this chooser sent it lately (ocf_choose_count)
} ocf_candidate_t;

//  How the last choice was made (for the metrics).
typedef enum {
    OCF_CHOICE_LOCAL = 0,        //  this host, by p2c or local_first
    OCF_CHOICE_BALANCED,         //  by load or in turn: p2c's draw, round_robin, random, prefix without a key
    OCF_CHOICE_AFFINITY,         //  prefix: the first provider in the key's order
    OCF_CHOICE_SPILLED,          //  prefix: a later one (the first was loaded, full, tried or gone)
    OCF_CHOICE_COUNT
} ocf_choice_t;

typedef struct {
    ocf_policy_t policy;
    ocf_choice_t last;           //  how the last choice was made
    uint64_t random;             //  xorshift state, never 0
    uint64_t turn;               //  round-robin position
    double balance;              //  prefix: no provider above (1 + balance) x the mean recent count
    double near_ms;              //  prefix: near = within this of the nearest (0: every provider)
} ocf_chooser_t;

//  Parses "p2c", "local_first", "round_robin", "random" or "prefix"; -1 otherwise.
int ocf_policy_parse (const char *name);
const char *ocf_policy_name (ocf_policy_t policy);
//  balance starts at 0.25, near_ms at 20.
void ocf_chooser_init (ocf_chooser_t *self, ocf_policy_t policy, uint64_t seed);
//  The index of the chosen candidate, or -1 when every candidate is excluded (or n is 0).
//  key: the request's prefix key for the prefix policy (0: none); other policies ignore it.
int ocf_choose (ocf_chooser_t *self, const ocf_candidate_t *candidates, size_t n, uint64_t key);
const char *ocf_choice_name (ocf_choice_t choice);
//  What a candidate's id_hash is made from: its node id.
uint64_t ocf_choose_id_hash (const char *node_id);
//  How many of the last choices a provider's recent count spans (about: an exponential decay).
#define OCF_CHOOSE_WINDOW 64
//  After each choice of the prefix policy, for each candidate's recent count: decays it, and
//  adds the request to the chosen one's.
void ocf_choose_count (double *recent, bool chosen);
//  The next pseudo-random number (also used for request ids).
uint64_t ocf_chooser_random (ocf_chooser_t *self);

#endif

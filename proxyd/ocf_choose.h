/*  ocf_choose: which provider serves a request, given what is known about each.
    Pure and deterministic for a given random state, so policies are unit-tested exactly.
    Policies:
      p2c          this host when it serves the request and has capacity; otherwise the less
                   loaded of two providers drawn at random ("power of two choices")
      local_first  this host whenever it serves the request, busy or not; otherwise as p2c
      round_robin  providers in turn
      random       a provider drawn uniformly
    A provider is full when it declares max_inflight and its load reaches it; p2c and
    local_first prefer providers that are not full, and fall back to full ones rather than
    refusing (the backend queues).  */
#ifndef OCF_CHOOSE_H
#define OCF_CHOOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    OCF_POLICY_P2C = 0,
    OCF_POLICY_LOCAL_FIRST,
    OCF_POLICY_ROUND_ROBIN,
    OCF_POLICY_RANDOM
} ocf_policy_t;

typedef struct {
    bool self;                   //  this host
    bool excluded;               //  already tried for this request
    int64_t load;                //  requests in flight toward it plus its reported in-flight and queue
    int64_t capacity;            //  its max_inflight; 0 when it declares none
} ocf_candidate_t;

typedef struct {
    ocf_policy_t policy;
    uint64_t random;             //  xorshift state, never 0
    uint64_t turn;               //  round-robin position
} ocf_chooser_t;

//  Parses "p2c", "local_first", "round_robin" or "random"; -1 otherwise.
int ocf_policy_parse (const char *name);
void ocf_chooser_init (ocf_chooser_t *self, ocf_policy_t policy, uint64_t seed);
//  The index of the chosen candidate, or -1 when every candidate is excluded (or n is 0).
int ocf_choose (ocf_chooser_t *self, const ocf_candidate_t *candidates, size_t n);
//  The next pseudo-random number (also used for request ids).
uint64_t ocf_chooser_random (ocf_chooser_t *self);

#endif

/*  ocf_phi: the phi accrual failure detector (Hayashibara et al., 2004) for one watched node.
    Keeps a window of the last heartbeat inter-arrival times and answers, at any moment, how
    unlikely it is that the next heartbeat is merely late: phi = -log10 P(a gap this long), so
    phi 8 means one mistake in 10^8. A small value type, embedded where a node is watched.  */
#ifndef OCF_PHI_H
#define OCF_PHI_H

#include <stddef.h>
#include <stdint.h>

#define OCF_PHI_WINDOW 100

typedef struct {
    uint32_t intervals[OCF_PHI_WINDOW];  //  ms, a ring
    size_t count;
    size_t next;
    int64_t sum;                 //  exact sums: no drift over millions of heartbeats
    int64_t sum_squares;
    int64_t last;                //  arrival of the latest heartbeat (ms), 0 before the first
    int64_t expected;            //  the sender's heartbeat interval, used until samples exist
} ocf_phi_t;

typedef struct {
    int64_t min_std_ms;          //  floor of the standard deviation (a LAN is too regular)
    int64_t acceptable_pause_ms; //  added to the mean: a gap this much longer is not suspicious yet
    double time_scale;           //  >= 1: stretches every gap's allowance (local health)
} ocf_phi_params_t;

void ocf_phi_init (ocf_phi_t *self, int64_t expected_interval_ms);
void ocf_phi_heartbeat (ocf_phi_t *self, int64_t now);
//  Heartbeats are due from now on (none came yet): phi starts to grow from now.
void ocf_phi_start (ocf_phi_t *self, int64_t now);
//  Phi at now; 0 before the first heartbeat.
double ocf_phi_value (const ocf_phi_t *self, int64_t now, const ocf_phi_params_t *params);
//  The time since the last heartbeat at which phi reaches threshold.
int64_t ocf_phi_deadline (const ocf_phi_t *self, double threshold, const ocf_phi_params_t *params);
//  Moves the last arrival forward by delta ms: time this process did not run is not a gap.
void ocf_phi_forgive (ocf_phi_t *self, int64_t delta);
size_t ocf_phi_samples (const ocf_phi_t *self);

#endif

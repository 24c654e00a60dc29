/*  ocf_rtt: round-trip times to peers, as this host measures them.
    Owns the round-trip time per peer (the least of its last few samples: what a process
    waited for a CPU only ever adds to a sample), the one ping in flight that yields the next sample, and what was
    last reported, so that only changes beyond a threshold go to tabled. The gossip core pings
    (PING/ACK, docs/gossip.md) and feeds the answers here; the runner takes the reports. Pure:
    no sockets, no clock. Bounded: one entry per live member, forgotten when it goes.  */
#ifndef OCF_RTT_H
#define OCF_RTT_H

#include "ocf_record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  How often the runner hands the reports to tabled, at most.
#define OCF_RTT_REPORT_MS 5000

typedef struct {
    char id[OCF_ID_SIZE];
    double rtt_ms;               //  the least of the recent samples
} ocf_rtt_report_t;

typedef struct _ocf_rtt_t ocf_rtt_t;

ocf_rtt_t *ocf_rtt_new (void);
void ocf_rtt_destroy (ocf_rtt_t **self_p);

//  A ping went to peer with this nonce at now; it replaces any ping still unanswered.
void ocf_rtt_sent (ocf_rtt_t *self, const char *peer, uint32_t nonce, int64_t now);
//  An ACK from peer: true when it answers the ping in flight (then a sample is taken);
//  false when it is someone else's (a probe's).
bool ocf_rtt_answered (ocf_rtt_t *self, const char *peer, uint32_t nonce, int64_t now);
//  When peer last gave a sample (INT64_MIN: never), to ping the stalest first.
int64_t ocf_rtt_sampled_at (ocf_rtt_t *self, const char *peer);
//  The time to peer in ms (the least of its recent samples), or -1 when unknown.
double ocf_rtt_get (ocf_rtt_t *self, const char *peer);
void ocf_rtt_forget (ocf_rtt_t *self, const char *peer);
//  Up to max peers whose time moved by more than 10 % and 1 ms since their last report (or
//  that were never reported), marked reported. Returns how many.
size_t ocf_rtt_report (ocf_rtt_t *self, ocf_rtt_report_t *out, size_t max);
size_t ocf_rtt_size (ocf_rtt_t *self);

#endif

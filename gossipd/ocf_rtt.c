/*  ocf_rtt: round-trip times per peer, the least of the recent samples.  */
#include "ocf_rtt.h"
#include "ocf_alloc.h"

#include <czmq.h>
#include <math.h>

//  The time to a peer is the least of its last WINDOW samples, not an average: a sample is
//  the path's time plus whatever the two processes waited for a CPU, and that wait only ever
//  adds. On a loaded host an average took waits of tens of ms for distance (a LAN peer read
//  23 ms, within near_rtt of a peer 40 ms away) and sent requests to the far host. A slower
//  path shows once WINDOW samples saw it; a faster one at its first sample.
#define WINDOW 5
#define REPORT_FRACTION 0.10
#define REPORT_MIN_MS 1.0

typedef struct {
    double samples[WINDOW];      //  a ring, the last `count` samples
    size_t count, next;
    double reported;             //  < 0: never reported
    int64_t sampled_at;
} peer_t;

static double
s_least (const peer_t *entry)
{
    double least = entry->samples[0];
    for (size_t index = 1; index < entry->count; index++)
        least = fmin (least, entry->samples[index]);
    return least;
}

struct _ocf_rtt_t {
    zhashx_t *peers;             //  id -> peer_t
    char ping_peer[OCF_ID_SIZE]; //  the ping in flight ("": none)
    uint32_t ping_nonce;
    int64_t ping_sent;
};

static void
s_peer_free (void **item)
{
    free (*item);
    *item = NULL;
}

ocf_rtt_t *
ocf_rtt_new (void)
{
    ocf_rtt_t *self = ocf_calloc (1, sizeof *self);
    self->peers = zhashx_new ();
    zhashx_set_destructor (self->peers, s_peer_free);
    return self;
}

void
ocf_rtt_destroy (ocf_rtt_t **self_p)
{
    ocf_rtt_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->peers);
    free (self);
    *self_p = NULL;
}

void
ocf_rtt_sent (ocf_rtt_t *self, const char *peer, uint32_t nonce, int64_t now)
{
    snprintf (self->ping_peer, sizeof self->ping_peer, "%s", peer);
    self->ping_nonce = nonce;
    self->ping_sent = now;
}

bool
ocf_rtt_answered (ocf_rtt_t *self, const char *peer, uint32_t nonce, int64_t now)
{
    if (!self->ping_peer[0] || nonce != self->ping_nonce || strcmp (peer, self->ping_peer) != 0)
        return false;
    self->ping_peer[0] = 0;
    double sample = (double) (now - self->ping_sent);
    if (sample < 0)
        return true;
    peer_t *entry = zhashx_lookup (self->peers, peer);
    if (!entry) {
        entry = ocf_calloc (1, sizeof *entry);
        entry->reported = -1;
        zhashx_insert (self->peers, peer, entry);
    }
    entry->samples[entry->next] = sample;
    entry->next = (entry->next + 1) % WINDOW;
    if (entry->count < WINDOW)
        entry->count++;
    entry->sampled_at = now;
    return true;
}

int64_t
ocf_rtt_sampled_at (ocf_rtt_t *self, const char *peer)
{
    peer_t *entry = zhashx_lookup (self->peers, peer);
    return entry ? entry->sampled_at : INT64_MIN;
}

double
ocf_rtt_get (ocf_rtt_t *self, const char *peer)
{
    peer_t *entry = zhashx_lookup (self->peers, peer);
    return entry ? s_least (entry) : -1;
}

void
ocf_rtt_forget (ocf_rtt_t *self, const char *peer)
{
    zhashx_delete (self->peers, peer);
}

size_t
ocf_rtt_report (ocf_rtt_t *self, ocf_rtt_report_t *out, size_t max)
{
    size_t count = 0;
    for (peer_t *entry = zhashx_first (self->peers); entry && count < max; entry = zhashx_next (self->peers)) {
        double threshold = fmax (REPORT_MIN_MS, REPORT_FRACTION * entry->reported), rtt = s_least (entry);
        if (entry->reported >= 0 && fabs (rtt - entry->reported) <= threshold)
            continue;
        snprintf (out[count].id, sizeof out[count].id, "%s", (const char *) zhashx_cursor (self->peers));
        out[count++].rtt_ms = rtt;
        entry->reported = rtt;
    }
    return count;
}

size_t
ocf_rtt_size (ocf_rtt_t *self)
{
    return zhashx_size (self->peers);
}

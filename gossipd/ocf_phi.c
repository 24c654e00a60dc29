/*  ocf_phi: phi accrual failure detector.  */
#include "ocf_phi.h"

#include <math.h>
#include <string.h>

#define MAX_INTERVAL_MS 600000           //  a longer gap is recorded as this

void
ocf_phi_init (ocf_phi_t *self, int64_t expected_interval_ms)
{
    memset (self, 0, sizeof *self);
    self->expected = expected_interval_ms > 0 ? expected_interval_ms : 1000;
}

void
ocf_phi_heartbeat (ocf_phi_t *self, int64_t now)
{
    if (self->last) {
        int64_t gap = now - self->last;
        uint32_t interval = gap < 0 ? 0 : gap > MAX_INTERVAL_MS ? MAX_INTERVAL_MS : (uint32_t) gap;
        if (self->count == OCF_PHI_WINDOW) {
            uint32_t old = self->intervals[self->next];
            self->sum -= old;
            self->sum_squares -= (int64_t) old * old;
        }
        else
            self->count++;
        self->intervals[self->next] = interval;
        self->next = (self->next + 1) % OCF_PHI_WINDOW;
        self->sum += interval;
        self->sum_squares += (int64_t) interval * interval;
    }
    if (now > self->last)
        self->last = now;
}

void
ocf_phi_start (ocf_phi_t *self, int64_t now)
{
    self->last = now;
}

//  Mean and standard deviation of the window; until two samples exist, the expected
//  interval with a quarter of it as deviation (as Akka bootstraps its detector).
static void
s_moments (const ocf_phi_t *self, const ocf_phi_params_t *params, double *mean, double *std)
{
    if (self->count < 2) {
        *mean = (double) self->expected;
        *std = *mean / 4;
    }
    else {
        *mean = (double) self->sum / self->count;
        double variance = (double) self->sum_squares / self->count - *mean * *mean;
        *std = variance > 0 ? sqrt (variance) : 0;
    }
    if (*std < params->min_std_ms)
        *std = (double) params->min_std_ms;
    *mean += (double) params->acceptable_pause_ms;
    double scale = params->time_scale >= 1 ? params->time_scale : 1;
    *mean *= scale;
    *std *= scale;
}

//  -log10 of the probability that a normally distributed gap exceeds elapsed, with the
//  logistic approximation of the normal CDF (error below 1e-4, no erfc in the hot path).
static double
s_phi (double elapsed, double mean, double std)
{
    double y = (elapsed - mean) / std;
    double e = exp (-y * (1.5976 + 0.070566 * y * y));
    if (elapsed > mean)
        return -log10 (e / (1.0 + e));
    return -log10 (1.0 - 1.0 / (1.0 + e));
}

double
ocf_phi_value (const ocf_phi_t *self, int64_t now, const ocf_phi_params_t *params)
{
    if (!self->last)
        return 0;
    double mean, std;
    s_moments (self, params, &mean, &std);
    double phi = s_phi ((double) (now - self->last), mean, std);
    return isfinite (phi) ? phi : 1e9;
}

int64_t
ocf_phi_deadline (const ocf_phi_t *self, double threshold, const ocf_phi_params_t *params)
{
    double mean, std;
    s_moments (self, params, &mean, &std);
    //  phi grows monotonically with elapsed time: bisect for the crossing.
    double low = 0, high = mean + 100 * std;
    for (int i = 0; i < 60; i++) {
        double middle = (low + high) / 2;
        if (s_phi (middle, mean, std) < threshold)
            low = middle;
        else
            high = middle;
    }
    return (int64_t) ceil (high);
}

void
ocf_phi_forgive (ocf_phi_t *self, int64_t delta)
{
    if (self->last && delta > 0)
        self->last += delta;
}

size_t
ocf_phi_samples (const ocf_phi_t *self)
{
    return self->count;
}

/*  ocf_modelstats: a minute of per-model request statistics.  */
#include "ocf_modelstats.h"
#include "ocf_alloc.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

//  Bucket k holds first-byte times up to FIRST_MS * GROWTH^k: 1 ms to 36 s in 25 % steps,
//  so that a percentile read as its bucket's bound is within 25 % of the truth.
#define BUCKETS 48
#define FIRST_MS 1.0
#define GROWTH 1.25
#define NAME_MAX_LEN 255

typedef struct {
    int64_t second;              //  which second of time it counts (-1: none yet)
    uint32_t requests;
    uint32_t errors;
    uint32_t ttft[BUCKETS + 1];  //  the last one: beyond the last bound
} second_t;

typedef struct {
    char name[NAME_MAX_LEN + 1];
    int64_t inflight;
    second_t seconds[OCF_MODELSTATS_WINDOW_S];
} model_t;

struct _ocf_modelstats_t {
    pthread_mutex_t lock;
    size_t count;
    double bounds_ms[BUCKETS];
    model_t models[OCF_MODELSTATS_MODELS];
};

ocf_modelstats_t *
ocf_modelstats_new (void)
{
    ocf_modelstats_t *self = ocf_calloc (1, sizeof *self);
    pthread_mutex_init (&self->lock, NULL);
    double bound = FIRST_MS;
    for (size_t i = 0; i < BUCKETS; i++, bound *= GROWTH)
        self->bounds_ms[i] = bound;
    return self;
}

void
ocf_modelstats_destroy (ocf_modelstats_t **self_p)
{
    ocf_modelstats_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

int
ocf_modelstats_begin (ocf_modelstats_t *self, const char *model, int64_t now_ms)
{
    if (strlen (model) > NAME_MAX_LEN)
        return -1;
    pthread_mutex_lock (&self->lock);
    int slot = -1;
    for (size_t i = 0; i < self->count && slot < 0; i++)
        if (strcmp (self->models[i].name, model) == 0)
            slot = (int) i;
    if (slot < 0 && self->count < OCF_MODELSTATS_MODELS) {
        slot = (int) self->count++;
        model_t *entry = &self->models[slot];
        strcpy (entry->name, model);
        for (size_t i = 0; i < OCF_MODELSTATS_WINDOW_S; i++)
            entry->seconds[i].second = -1;
    }
    if (slot >= 0)
        self->models[slot].inflight++;
    pthread_mutex_unlock (&self->lock);
    return slot;
}

//  The bucket of this second, emptied when it last counted an older one.
static second_t *
s_second (model_t *model, int64_t now_ms)
{
    int64_t second = now_ms / 1000;
    second_t *bucket = &model->seconds[second % OCF_MODELSTATS_WINDOW_S];
    if (bucket->second != second) {
        memset (bucket, 0, sizeof *bucket);
        bucket->second = second;
    }
    return bucket;
}

void
ocf_modelstats_end (ocf_modelstats_t *self, int slot, int64_t now_ms, int status, bool broken, int64_t first_byte_us)
{
    if (slot < 0)
        return;
    pthread_mutex_lock (&self->lock);
    model_t *model = &self->models[slot];
    model->inflight--;
    second_t *bucket = s_second (model, now_ms);
    bucket->requests++;
    if (status >= 500 || broken)
        bucket->errors++;
    if (first_byte_us >= 0) {
        size_t i = 0;
        while (i < BUCKETS && (double) first_byte_us > self->bounds_ms[i] * 1000)
            i++;
        bucket->ttft[i]++;
    }
    pthread_mutex_unlock (&self->lock);
}

//  The bound of the bucket that holds the quantile; null without samples.
static json_t *
s_quantile (ocf_modelstats_t *self, const uint64_t *ttft, uint64_t count, double quantile)
{
    if (!count)
        return json_null ();
    uint64_t rank = (uint64_t) ceil (quantile * (double) count), seen = 0;
    for (size_t i = 0; i < BUCKETS; i++) {
        seen += ttft[i];
        if (seen >= rank)
            return json_real (round (self->bounds_ms[i] * 10) / 10);
    }
    return json_real (self->bounds_ms[BUCKETS - 1]);     //  beyond: at least the last bound
}

json_t *
ocf_modelstats_json (ocf_modelstats_t *self, int64_t now_ms)
{
    json_t *models = json_object ();
    int64_t oldest = now_ms / 1000 - OCF_MODELSTATS_WINDOW_S + 1;
    pthread_mutex_lock (&self->lock);
    for (size_t m = 0; m < self->count; m++) {
        model_t *model = &self->models[m];
        uint64_t requests = 0, errors = 0, ttft[BUCKETS + 1] = { 0 }, samples = 0;
        for (size_t s = 0; s < OCF_MODELSTATS_WINDOW_S; s++) {
            second_t *second = &model->seconds[s];
            if (second->second < oldest)
                continue;
            requests += second->requests;
            errors += second->errors;
            for (size_t i = 0; i <= BUCKETS; i++) {
                ttft[i] += second->ttft[i];
                samples += second->ttft[i];
            }
        }
        json_object_set_new (models, model->name, json_pack ("{s:I, s:I, s:f, s:o, s:o, s:o}",
            "inflight", (json_int_t) model->inflight, "requests", (json_int_t) requests,
            "requests_per_s", round ((double) requests / OCF_MODELSTATS_WINDOW_S * 100) / 100,
            "error_rate", requests ? json_real ((double) errors / (double) requests) : json_null (),
            "ttft_p50_ms", s_quantile (self, ttft, samples, 0.5), "ttft_p99_ms", s_quantile (self, ttft, samples, 0.99)));
    }
    pthread_mutex_unlock (&self->lock);
    return models;
}

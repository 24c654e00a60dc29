/*  ocf_prom: reads a backend's load from its Prometheus metrics (text exposition format).
    Sans-I/O: the scraped text in, numbers out: the queue depth (requests waiting for a slot),
    the KV-cache use (0.0-1.0) and the prefix cache's figures, from whichever of these the
    backend exposes:

        queue depth   vllm:num_requests_waiting, llamacpp:requests_deferred      (summed)
        KV cache      vllm:kv_cache_usage_perc, else vllm:gpu_cache_usage_perc
                      (its name before vLLM 0.10), llamacpp:kv_cache_usage_ratio  (largest)
        prefix cache  counters (summed): vllm:prefix_cache_queries_total and _hits_total
                      (vLLM V1; vllm:gpu_prefix_cache_queries_total / _hits_total, their
                      earlier names); a hit rate (largest): vllm:gpu_prefix_cache_hit_rate
                      (vLLM V0), sglang:cache_hit_rate

    Summed and largest because a backend exposes one series per model or engine. Counters are
    totals since the backend started: the rate over an interval is ocf_service's to compute. Any line the
    format does not allow fails the whole scrape, as it does in Prometheus itself.  */
#ifndef OCF_PROM_H
#define OCF_PROM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    bool has_queue;
    int64_t queue_depth;
    bool has_kv;
    double kv_cache;             //  0.0-1.0
    bool has_prefix_counters;
    double prefix_queries;       //  totals: tokens (vLLM) looked up in the prefix cache
    double prefix_hits;          //  and found there
    bool has_prefix_rate;
    double prefix_hit_rate;      //  0.0-1.0, as the backend computes it
} ocf_prom_load_t;

//  Returns 0, or -1 with the problem (naming the line) in error, also when the text holds
//  none of the metrics above.
int ocf_prom_parse_load (const char *text, size_t size, ocf_prom_load_t *load, char *error, size_t error_size);

#endif

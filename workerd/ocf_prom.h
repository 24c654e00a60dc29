/*  ocf_prom: reads a backend's load from its Prometheus metrics (text exposition format).
    Sans-I/O: the scraped text in, two numbers out: the queue depth (requests waiting for a
    slot) and the KV-cache use (0.0-1.0), from whichever of these the backend exposes:

        queue depth   vllm:num_requests_waiting, llamacpp:requests_deferred      (summed)
        KV cache      vllm:kv_cache_usage_perc, else vllm:gpu_cache_usage_perc
                      (its name before vLLM 0.10), llamacpp:kv_cache_usage_ratio  (largest)

    Summed and largest because a backend exposes one series per model or engine. Any line the
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
} ocf_prom_load_t;

//  Returns 0, or -1 with the problem (naming the line) in error, also when the text holds
//  none of the metrics above.
int ocf_prom_parse_load (const char *text, size_t size, ocf_prom_load_t *load, char *error, size_t error_size);

#endif

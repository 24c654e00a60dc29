/*  ocf_prom: Prometheus text format reader for load metrics.  */
#include "ocf_prom.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { QUEUE, KV, PREFIX_QUERIES, PREFIX_HITS, PREFIX_RATE } kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    int rank;                    //  for KV: a higher rank wins when several are present
} known_t;

static const known_t s_known[] = {
    { "vllm:num_requests_waiting", QUEUE, 0 },
    { "llamacpp:requests_deferred", QUEUE, 0 },
    { "vllm:kv_cache_usage_perc", KV, 3 },
    { "vllm:gpu_cache_usage_perc", KV, 2 },
    { "llamacpp:kv_cache_usage_ratio", KV, 1 },
    { "vllm:prefix_cache_queries_total", PREFIX_QUERIES, 0 },
    { "vllm:prefix_cache_hits_total", PREFIX_HITS, 0 },
    { "vllm:gpu_prefix_cache_queries_total", PREFIX_QUERIES, 0 },
    { "vllm:gpu_prefix_cache_hits_total", PREFIX_HITS, 0 },
    { "vllm:gpu_prefix_cache_hit_rate", PREFIX_RATE, 0 },
    { "sglang:cache_hit_rate", PREFIX_RATE, 0 },
};
#define KNOWN_COUNT (sizeof s_known / sizeof s_known[0])

typedef struct {
    const char *cursor;
    const char *end;
} line_t;

static bool
s_name_start (char c)
{
    return isalpha ((unsigned char) c) || c == '_' || c == ':';
}

static bool
s_name_char (char c)
{
    return isalnum ((unsigned char) c) || c == '_' || c == ':';
}

static void
s_skip_blanks (line_t *line)
{
    while (line->cursor < line->end && (*line->cursor == ' ' || *line->cursor == '\t'))
        line->cursor++;
}

//  {name="value",...}: label values are quoted strings with \\, \" and \n escapes.
static const char *
s_skip_labels (line_t *line)
{
    line->cursor++;                              //  '{'
    while (true) {
        s_skip_blanks (line);
        if (line->cursor < line->end && *line->cursor == '}') {
            line->cursor++;
            return NULL;
        }
        if (line->cursor >= line->end || !(isalpha ((unsigned char) *line->cursor) || *line->cursor == '_'))
            return "expected a label name or '}'";
        while (line->cursor < line->end && (isalnum ((unsigned char) *line->cursor) || *line->cursor == '_'))
            line->cursor++;
        s_skip_blanks (line);
        if (line->cursor >= line->end || *line->cursor != '=')
            return "expected =\"value\" after a label name";
        line->cursor++;
        s_skip_blanks (line);
        if (line->cursor >= line->end || *line->cursor != '"')
            return "expected =\"value\" after a label name";
        line->cursor++;
        while (line->cursor < line->end && *line->cursor != '"') {
            if (*line->cursor == '\\') {
                if (line->cursor + 1 >= line->end || !strchr ("\\\"n", line->cursor[1]))
                    return "bad escape in a label value";
                line->cursor++;
            }
            line->cursor++;
        }
        if (line->cursor >= line->end)
            return "unterminated label value";
        line->cursor++;
        s_skip_blanks (line);
        if (line->cursor < line->end && *line->cursor == ',')
            line->cursor++;
        else
        if (line->cursor >= line->end || *line->cursor != '}')
            return "expected ',' or '}' after a label";
    }
}

//  A sample value: a float, NaN, +Inf or -Inf (as Go's ParseFloat reads them).
static const char *
s_value (line_t *line, double *value)
{
    const char *start = line->cursor;
    while (line->cursor < line->end && *line->cursor != ' ' && *line->cursor != '\t')
        line->cursor++;
    size_t len = (size_t) (line->cursor - start);
    char text[64];
    if (len == 0)
        return "missing value";
    if (len >= sizeof text)
        return "value too long";
    memcpy (text, start, len);
    text[len] = '\0';
    char *end;
    *value = strtod (text, &end);
    if (*end || end == text || isspace ((unsigned char) text[0]))
        return "value is not a number";
    return NULL;
}

//  Parses one sample line; *known is the index in s_known, or -1 for other metrics.
static const char *
s_sample (line_t *line, int *known, double *value)
{
    const char *name = line->cursor;
    if (!s_name_start (*line->cursor))
        return "expected a metric name";
    while (line->cursor < line->end && s_name_char (*line->cursor))
        line->cursor++;
    size_t name_len = (size_t) (line->cursor - name);
    *known = -1;
    for (size_t i = 0; i < KNOWN_COUNT; i++)
        if (strlen (s_known[i].name) == name_len && memcmp (s_known[i].name, name, name_len) == 0)
            *known = (int) i;
    s_skip_blanks (line);
    if (line->cursor < line->end && *line->cursor == '{') {
        const char *problem = s_skip_labels (line);
        if (problem)
            return problem;
        s_skip_blanks (line);
    }
    const char *problem = s_value (line, value);
    if (problem)
        return problem;
    s_skip_blanks (line);
    if (line->cursor < line->end && *line->cursor != '#') {
        //  An optional timestamp (integer milliseconds).
        const char *start = line->cursor;
        if (*line->cursor == '-' || *line->cursor == '+')
            line->cursor++;
        while (line->cursor < line->end && isdigit ((unsigned char) *line->cursor))
            line->cursor++;
        if (line->cursor == start)
            return "unexpected text after the value";
        s_skip_blanks (line);
    }
    //  What follows '#' is an OpenMetrics exemplar; it carries nothing we use.
    if (line->cursor < line->end && *line->cursor != '#')
        return "unexpected text after the timestamp";
    return NULL;
}

int
ocf_prom_parse_load (const char *text, size_t size, ocf_prom_load_t *load, char *error, size_t error_size)
{
    memset (load, 0, sizeof *load);
    int kv_rank = -1;
    double queue = 0;
    bool current_names = false;  //  vLLM's current prefix counter names were seen
    int number = 0;
    const char *cursor = text, *end = text + size;
    while (cursor < end) {
        const char *newline = memchr (cursor, '\n', (size_t) (end - cursor));
        line_t line = { cursor, newline ? newline : end };
        cursor = newline ? newline + 1 : end;
        number++;
        if (line.end > line.cursor && line.end[-1] == '\r')
            line.end--;
        s_skip_blanks (&line);
        if (line.cursor == line.end || *line.cursor == '#')
            continue;
        int known;
        double value;
        const char *problem = s_sample (&line, &known, &value);
        if (problem) {
            snprintf (error, error_size, "line %d: %s", number, problem);
            return -1;
        }
        if (known < 0 || isnan (value))
            continue;
        kind_t kind = s_known[known].kind;
        if (kind == QUEUE) {
            load->has_queue = true;
            if (value > 0)
                queue += value;
        }
        else
        if (kind == PREFIX_QUERIES || kind == PREFIX_HITS) {
            //  A backend exports both names or neither; vLLM's renamed ones are not summed twice.
            bool current = strncmp (s_known[known].name, "vllm:gpu_", 9) != 0;
            if (current && !current_names) {
                current_names = true;
                load->prefix_queries = load->prefix_hits = 0;
            }
            if (current == current_names && value > 0 && !isinf (value))
                *(kind == PREFIX_QUERIES ? &load->prefix_queries : &load->prefix_hits) += value;
            load->has_prefix_counters = true;
        }
        else
        if (kind == PREFIX_RATE) {
            if (!load->has_prefix_rate || value > load->prefix_hit_rate)
                load->prefix_hit_rate = value;
            load->has_prefix_rate = true;
        }
        else
        if (s_known[known].rank > kv_rank || (s_known[known].rank == kv_rank && value > load->kv_cache)) {
            load->has_kv = true;
            load->kv_cache = value;
            kv_rank = s_known[known].rank;
        }
    }
    if (!load->has_queue && !load->has_kv && !load->has_prefix_counters && !load->has_prefix_rate) {
        snprintf (error, error_size, "none of the known load metrics (vllm:num_requests_waiting, vllm:kv_cache_usage_perc, "
                  "llamacpp:requests_deferred, ...) is present");
        return -1;
    }
    if (load->has_prefix_rate)
        load->prefix_hit_rate = load->prefix_hit_rate < 0 ? 0 : load->prefix_hit_rate > 1 ? 1 : load->prefix_hit_rate;
    load->queue_depth = queue > 1e12 ? (int64_t) 1e12 : (int64_t) llround (queue);
    if (load->has_kv)
        load->kv_cache = load->kv_cache < 0 ? 0 : load->kv_cache > 1 ? 1 : load->kv_cache;
    return 0;
}

/*  ocf-test-backend: an OpenAI-compatible streaming server written for the tests.
    It stands in for vLLM where there is no GPU: /health, /v1/models, /v1/chat/completions and
    /v1/completions (plain or streamed as server-sent events, one token per event at a set
    pace, with stream_options.include_usage's last chunk), /v1/embeddings (floats or base64),
    /v1/responses, /v1/audio/transcriptions and /translations (multipart uploads),
    /v1/audio/speech, /v1/moderations, /v1/rerank, /v1/score, vLLM-style /metrics, /ping (a
    tiny fast reply for benchmarks) and an echo of anything else (method, path, headers, body
    size) so tests can see what a proxy forwarded. Every model route answers 404 for a model
    it does not serve, so a request routed to the wrong backend shows. Behaviour is set by flags, or per request by X-Test-* headers. Each streamed
    event carries "x_sent_us" (wall clock, microseconds) so clients can measure delay added on
    the way. With --prefix-cache-blocks it simulates a GPU backend's prefix cache
    (prefix_cache.c): a prompt's blocks (ocf_prefix's, 256 bytes of normalised text) already
    held are not prefilled again; the others cost --prefill-us-per-kib each, one prompt at a
    time (a GPU prefills in turn), before the first streamed event; vLLM's counters
    vllm:prefix_cache_queries_total / _hits_total report it (in blocks, not tokens). It is not
    part of the fabric and is never installed.  */
#include <errno.h>
#include <getopt.h>
#include <h2o.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ocf_prefix.h"
#include "prefix_cache.h"

#define MAX_MODELS 64
#define PREFIX_BLOCK 256
#define PREFIX_MAX_BLOCKS 4096
#define MAX_TIMEOUTS 32

typedef struct {
    const char *name;            //  shown in replies, to tell backends apart
    const char *host;
    int port;
    int threads;
    const char *models[MAX_MODELS];
    int model_count;
    const char *models_file;     //  re-read at each request: tests add models at run time
    const char *sick_file;       //  /health answers 503 while this file exists
    int startup_delay_ms;        //  /health answers 503 until then
    int tokens;
    int token_delay_ms;
    int first_token_delay_ms;
    int fail_status;             //  answer the OpenAI routes with this status
    int max_running;             //  above this, requests count as waiting in /metrics
    int prefix_cache_blocks;     //  0: no simulated prefix cache
    int prefill_us_per_kib;      //  prefill cost of uncached prompt text
} options_t;

static options_t s_options = {
    .name = "test-backend", .host = "127.0.0.1", .port = 8000, .threads = 1,
    .tokens = 16, .token_delay_ms = 20, .max_running = 8
};
static struct timespec s_started;
static int s_inflight;           //  requests being answered, all threads
static prefix_cache_t *s_cache;
static uint64_t s_prefix_queries, s_prefix_hits;   //  blocks
static pthread_mutex_t s_prefill_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t s_prefill_until_us;   //  monotonic: when the simulated GPU is done prefilling

typedef struct {
    h2o_evloop_t *loop;
    h2o_context_t context;
    h2o_accept_ctx_t accept;
    struct { uint64_t ms; h2o_timeout_t timeout; } timeouts[MAX_TIMEOUTS];
    int timeout_count;
} worker_t;

static h2o_globalconf_t s_config;
static __thread worker_t *s_worker;

static int64_t
s_wall_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
s_mono_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
s_uptime_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (now.tv_sec - s_started.tv_sec) * 1000 + (now.tv_nsec - s_started.tv_nsec) / 1000000;
}

//  h2o 2.2 timers are queues of one fixed duration: keep one queue per delay in use.
static h2o_timeout_t *
s_timeout (uint64_t ms)
{
    for (int i = 0; i < s_worker->timeout_count; i++)
        if (s_worker->timeouts[i].ms == ms)
            return &s_worker->timeouts[i].timeout;
    int slot = s_worker->timeout_count < MAX_TIMEOUTS ? s_worker->timeout_count++ : MAX_TIMEOUTS - 1;
    s_worker->timeouts[slot].ms = ms;
    h2o_timeout_init (s_worker->context.loop, &s_worker->timeouts[slot].timeout, ms);
    return &s_worker->timeouts[slot].timeout;
}

//  --------------------------------------------------------------------------
//  Request helpers

static int
s_header_int (h2o_req_t *req, const char *name, int fallback)
{
    ssize_t index = h2o_find_header_by_str (&req->headers, name, strlen (name), -1);
    if (index < 0)
        return fallback;
    h2o_iovec_t value = req->headers.entries[index].value;
    char text[32];
    size_t len = value.len < sizeof text - 1 ? value.len : sizeof text - 1;
    memcpy (text, value.base, len);
    text[len] = '\0';
    return atoi (text);
}

static void
s_respond (h2o_req_t *req, int status, const char *content_type, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = status == 200 ? "OK" : status == 404 ? "Not Found" : status == 400 ? "Bad Request" : "Error";
    h2o_add_header (&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen (content_type));
    //  h2o sends inline bodies from the request's pool.
    char *copy = h2o_mem_alloc_pool (&req->pool, len + 1);
    memcpy (copy, body, len);
    h2o_send_inline (req, copy, len);
}

static void
s_respond_json (h2o_req_t *req, int status, json_t *body)
{
    char *text = json_dumps (body, JSON_COMPACT);
    s_respond (req, status, "application/json", text, strlen (text));
    free (text);
    json_decref (body);
}

static void
s_respond_error (h2o_req_t *req, int status, const char *type, const char *message)
{
    s_respond_json (req, status, json_pack ("{s:{s:s, s:s, s:n}}", "error", "message", message, "type", type, "code"));
}

//  The models served now: from --models-file when given (one per line), else --model.
static json_t *
s_models (void)
{
    json_t *models = json_array ();
    if (s_options.models_file) {
        FILE *file = fopen (s_options.models_file, "r");
        char line[512];
        while (file && fgets (line, sizeof line, file)) {
            line[strcspn (line, "\r\n")] = '\0';
            if (*line)
                json_array_append_new (models, json_string (line));
        }
        if (file)
            fclose (file);
    }
    else
        for (int i = 0; i < s_options.model_count; i++)
            json_array_append_new (models, json_string (s_options.models[i]));
    return models;
}

static bool
s_model_known (const char *model)
{
    json_t *models = s_models ();
    size_t index;
    json_t *item;
    bool known = false;
    json_array_foreach (models, index, item)
        known |= strcmp (json_string_value (item), model) == 0;
    json_decref (models);
    return known;
}

//  --------------------------------------------------------------------------
//  Streaming completions: one server-sent event per token, paced by a timer

typedef struct {
    h2o_generator_t generator;
    h2o_req_t *req;
    h2o_timeout_entry_t timer;
    bool chat;
    bool include_usage;          //  stream_options.include_usage: a last chunk with the usage
    char model[256];
    char id[64];
    int tokens;                  //  content tokens to send
    int sent;                    //  events sent so far
    int token_delay_ms;
    bool may_send;               //  h2o asked for more (proceed) since our last send
    bool due;                    //  the timer says the next event is due
    bool done;
    int64_t first_due_us;        //  monotonic: when the first event is due (0: none pending)
    char buffer[1024];
} stream_t;

static void s_stream_try (stream_t *stream);

//  Waits until the first event's due time with queues of 1, 2, 4 ... ms (a delay of any
//  length in a few hops, without a queue per delay).
static bool
s_wait_first (stream_t *stream)
{
    int64_t left_ms = (stream->first_due_us - s_mono_us ()) / 1000;
    if (left_ms < 1) {
        stream->first_due_us = 0;
        return false;
    }
    uint64_t step = 1;
    while (step * 2 <= (uint64_t) left_ms && step < 4096)
        step *= 2;
    h2o_timeout_link (s_worker->context.loop, s_timeout (step), &stream->timer);
    return true;
}

static void
s_stream_timer (h2o_timeout_entry_t *entry)
{
    stream_t *stream = H2O_STRUCT_FROM_MEMBER (stream_t, timer, entry);
    if (stream->first_due_us && s_wait_first (stream))
        return;
    stream->due = true;
    s_stream_try (stream);
}

static void
s_stream_proceed (h2o_generator_t *generator, h2o_req_t *req)
{
    stream_t *stream = (stream_t *) generator;
    stream->may_send = true;
    s_stream_try (stream);
}

static void
s_stream_stop (h2o_generator_t *generator, h2o_req_t *req)
{
    //  The client went away: the request's memory goes with it, so drop the timer now.
    stream_t *stream = (stream_t *) generator;
    if (h2o_timeout_is_linked (&stream->timer))
        h2o_timeout_unlink (&stream->timer);
    if (!stream->done)
        __atomic_sub_fetch (&s_inflight, 1, __ATOMIC_RELAXED);
    stream->done = true;
}

static void
s_stream_try (stream_t *stream)
{
    if (!stream->may_send || !stream->due || stream->done)
        return;
    stream->may_send = stream->due = false;
    int len;
    bool last = stream->sent > stream->tokens;
    //  As OpenAI's: with include_usage, every chunk has "usage": null and one more chunk,
    //  without choices, carries it before [DONE].
    const char *usage = stream->include_usage ? ",\"usage\":null" : "";
    if (last && stream->include_usage)
        len = snprintf (stream->buffer, sizeof stream->buffer,
            "data: {\"id\":\"%s\",\"object\":\"%s\",\"created\":%ld,\"model\":\"%s\",\"choices\":[],"
            "\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":%d,\"total_tokens\":%d}}\n\ndata: [DONE]\n\n",
            stream->id, stream->chat ? "chat.completion.chunk" : "text_completion", (long) time (NULL), stream->model,
            stream->tokens, 8 + stream->tokens);
    else
    if (last)
        len = snprintf (stream->buffer, sizeof stream->buffer, "data: [DONE]\n\n");
    else {
        bool finish = stream->sent == stream->tokens;
        //  The first token names the backend, so tests can tell who answered.
        char content[128];
        if (stream->sent == 0)
            snprintf (content, sizeof content, "%s:", s_options.name);
        else
            snprintf (content, sizeof content, " tok%d", stream->sent);
        if (stream->chat)
            len = snprintf (stream->buffer, sizeof stream->buffer,
                "data: {\"id\":\"%s\",\"object\":\"chat.completion.chunk\",\"created\":%ld,\"model\":\"%s\","
                "\"choices\":[{\"index\":0,\"delta\":{%s\"content\":\"%s\"},\"finish_reason\":%s}]%s,\"x_sent_us\":%lld}\n\n",
                stream->id, (long) time (NULL), stream->model, stream->sent == 0 ? "\"role\":\"assistant\"," : "",
                finish ? "" : content, finish ? "\"stop\"" : "null", usage, (long long) s_wall_us ());
        else
            len = snprintf (stream->buffer, sizeof stream->buffer,
                "data: {\"id\":\"%s\",\"object\":\"text_completion\",\"created\":%ld,\"model\":\"%s\","
                "\"choices\":[{\"index\":0,\"text\":\"%s\",\"finish_reason\":%s}]%s,\"x_sent_us\":%lld}\n\n",
                stream->id, (long) time (NULL), stream->model, finish ? "" : content, finish ? "\"stop\"" : "null", usage,
                (long long) s_wall_us ());
    }
    stream->sent++;
    h2o_iovec_t buf = h2o_iovec_init (stream->buffer, len);
    if (last) {
        stream->done = true;
        __atomic_sub_fetch (&s_inflight, 1, __ATOMIC_RELAXED);
        h2o_send (stream->req, &buf, 1, H2O_SEND_STATE_FINAL);
        return;
    }
    h2o_timeout_link (s_worker->context.loop, s_timeout ((uint64_t) stream->token_delay_ms), &stream->timer);
    h2o_send (stream->req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
}

//  --------------------------------------------------------------------------
//  Routes

//  The simulated prefix cache: the prefill time of this prompt's uncached part, after the
//  prefills before it (in microseconds from now); 0 without a cache.
static int64_t
s_prefill_us (h2o_req_t *req, bool chat)
{
    if (!s_cache)
        return 0;
    static __thread uint64_t chain[PREFIX_MAX_BLOCKS];
    ocf_prefix_key_t whole;
    char error[256];
    if (ocf_prefix_chain (req->entity.base, req->entity.len, chat ? OCF_PREFIX_CHAT : OCF_PREFIX_COMPLETION, PREFIX_BLOCK,
                          chain, PREFIX_MAX_BLOCKS, &whole, error, sizeof error) != 0)
        return 0;
    size_t hits = prefix_cache_use (s_cache, chain, whole.blocks);
    __atomic_add_fetch (&s_prefix_queries, whole.blocks, __ATOMIC_RELAXED);
    __atomic_add_fetch (&s_prefix_hits, hits, __ATOMIC_RELAXED);
    int64_t cost = (int64_t) (whole.anchor_bytes - hits * PREFIX_BLOCK) * s_options.prefill_us_per_kib / 1024;
    int64_t now = s_mono_us ();
    pthread_mutex_lock (&s_prefill_lock);
    int64_t start = s_prefill_until_us > now ? s_prefill_until_us : now;
    s_prefill_until_us = start + cost;
    pthread_mutex_unlock (&s_prefill_lock);
    return start + cost - now;
}

//  The text every non-streamed answer holds: the backend's name first, as in completions.
static void
s_text (char *out, size_t size, int tokens)
{
    int len = snprintf (out, size, "%s:", s_options.name);
    for (int i = 1; i < tokens && len < (int) size - 16; i++)
        len += snprintf (out + len, size - (size_t) len, " tok%d", i);
}

static void
s_completion (h2o_req_t *req, bool chat)
{
    json_error_t error;
    json_t *body = json_loadb (req->entity.base, req->entity.len, 0, &error);
    if (!json_is_object (body)) {
        json_decref (body);
        s_respond_error (req, 400, "invalid_request_error", "request body is not a JSON object");
        return;
    }
    const char *model = json_string_value (json_object_get (body, "model"));
    int status = s_header_int (req, "x-test-status", s_options.fail_status);
    if (status) {
        json_decref (body);
        s_respond_error (req, status, "server_error", "failing as told (--fail-status or X-Test-Status)");
        return;
    }
    if (!model || !s_model_known (model)) {
        json_decref (body);
        s_respond_error (req, 404, "invalid_request_error", "model not served by this backend");
        return;
    }
    int tokens = s_header_int (req, "x-test-tokens", s_options.tokens);
    json_t *max_tokens = json_object_get (body, "max_tokens");
    if (json_is_integer (max_tokens) && json_integer_value (max_tokens) > 0 && json_integer_value (max_tokens) < tokens)
        tokens = (int) json_integer_value (max_tokens);
    int first_delay = s_header_int (req, "x-test-first-token-delay-ms", s_options.first_token_delay_ms);
    bool streamed = json_is_true (json_object_get (body, "stream"));
    static __thread unsigned long counter;
    char id[64];
    snprintf (id, sizeof id, "%s-%lx-%lu", chat ? "chatcmpl" : "cmpl", (unsigned long) pthread_self () & 0xffff, ++counter);
    if (!streamed) {
        char content[4096];
        s_text (content, sizeof content, tokens);
        json_t *choice = chat ? json_pack ("{s:i, s:{s:s, s:s}, s:s}", "index", 0, "message", "role", "assistant",
                                           "content", content, "finish_reason", "stop")
                              : json_pack ("{s:i, s:s, s:s}", "index", 0, "text", content, "finish_reason", "stop");
        json_t *reply = json_pack ("{s:s, s:s, s:I, s:s, s:[o], s:{s:i, s:i, s:i}, s:s}", "id", id,
                                   "object", chat ? "chat.completion" : "text_completion", "created", (json_int_t) time (NULL),
                                   "model", model, "choices", choice, "usage", "prompt_tokens", 8, "completion_tokens", tokens,
                                   "total_tokens", 8 + tokens, "backend", s_options.name);
        json_decref (body);
        s_respond_json (req, 200, reply);
        return;
    }
    stream_t *stream = h2o_mem_alloc_pool (&req->pool, sizeof *stream);
    memset (stream, 0, sizeof *stream);
    stream->generator = (h2o_generator_t) { s_stream_proceed, s_stream_stop };
    stream->req = req;
    stream->chat = chat;
    stream->include_usage = json_is_true (json_object_get (json_object_get (body, "stream_options"), "include_usage"));
    stream->tokens = tokens;
    stream->token_delay_ms = s_header_int (req, "x-test-token-delay-ms", s_options.token_delay_ms);
    stream->timer.cb = s_stream_timer;
    stream->may_send = true;
    snprintf (stream->model, sizeof stream->model, "%s", model);
    snprintf (stream->id, sizeof stream->id, "%s", id);
    json_decref (body);
    __atomic_add_fetch (&s_inflight, 1, __ATOMIC_RELAXED);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header (&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT ("text/event-stream"));
    h2o_add_header (&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT ("no-cache"));
    h2o_start_response (req, &stream->generator);
    //  The first event (the role) goes after the first-token delay and the prefill, later
    //  ones at the pace.
    int64_t prefill_us = s_prefill_us (req, chat);
    if (prefill_us > 0) {
        stream->first_due_us = s_mono_us () + (int64_t) first_delay * 1000 + prefill_us;
        if (!s_wait_first (stream)) {
            stream->due = true;
            s_stream_try (stream);
        }
    }
    else
    if (first_delay > 0)
        h2o_timeout_link (s_worker->context.loop, s_timeout ((uint64_t) first_delay), &stream->timer);
    else {
        stream->due = true;
        s_stream_try (stream);
    }
}

//  The JSON body of a model route, with a model this backend serves; NULL when answered (400,
//  404). The caller decrefs.
static json_t *
s_model_body (h2o_req_t *req, const char **model)
{
    json_t *body = json_loadb (req->entity.base, req->entity.len, 0, NULL);
    *model = json_string_value (json_object_get (body, "model"));
    if (!json_is_object (body)) {
        json_decref (body);
        s_respond_error (req, 400, "invalid_request_error", "request body is not a JSON object");
        return NULL;
    }
    if (!*model || !s_model_known (*model)) {
        json_decref (body);
        s_respond_error (req, 404, "invalid_request_error", "model not served by this backend");
        return NULL;
    }
    return body;
}

static char *
s_base64 (const unsigned char *data, size_t len)
{
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc ((len + 2) / 3 * 4 + 1), *at = out;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t bits = (uint32_t) data[i] << 16 | (i + 1 < len ? (uint32_t) data[i + 1] << 8 : 0)
                      | (i + 2 < len ? data[i + 2] : 0);
        *at++ = digits[bits >> 18 & 63];
        *at++ = digits[bits >> 12 & 63];
        *at++ = i + 1 < len ? digits[bits >> 6 & 63] : '=';
        *at++ = i + 2 < len ? digits[bits & 63] : '=';
    }
    *at = '\0';
    return out;
}

//  Eight values (i + 1) / 8; encoding_format "base64" (what OpenAI's SDKs ask for by default)
//  sends them as little-endian float32, as vLLM and OpenAI do.
static void
s_embeddings (h2o_req_t *req)
{
    const char *model;
    json_t *body = s_model_body (req, &model);
    if (!body)
        return;
    json_t *vector;
    if (strcmp (json_string_value (json_object_get (body, "encoding_format")) ?: "float", "base64") == 0) {
        float values[8];
        for (int i = 0; i < 8; i++)
            values[i] = (float) (i + 1) / 8.0f;
        char *text = s_base64 ((const unsigned char *) values, sizeof values);
        vector = json_string (text);
        free (text);
    }
    else {
        vector = json_array ();
        for (int i = 0; i < 8; i++)
            json_array_append_new (vector, json_real ((double) (i + 1) / 8.0));
    }
    json_t *reply = json_pack ("{s:s, s:[{s:s, s:i, s:o}], s:s, s:{s:i, s:i}}", "object", "list", "data",
                               "object", "embedding", "index", 0, "embedding", vector, "model", model,
                               "usage", "prompt_tokens", 8, "total_tokens", 8);
    json_decref (body);
    s_respond_json (req, 200, reply);
}

static void
s_responses (h2o_req_t *req)
{
    const char *model;
    json_t *body = s_model_body (req, &model);
    if (!body)
        return;
    char text[1024];
    s_text (text, sizeof text, 4);
    static __thread unsigned long counter;
    char id[64];
    snprintf (id, sizeof id, "resp_%lx%lu", (unsigned long) pthread_self () & 0xffff, ++counter);
    json_t *content = json_pack ("[{s:s, s:s, s:[]}]", "type", "output_text", "text", text, "annotations");
    json_t *message = json_pack ("{s:s, s:s, s:s, s:s, s:o}", "type", "message", "id", "msg_1", "status", "completed",
                                 "role", "assistant", "content", content);
    json_t *reply = json_pack ("{s:s, s:s, s:I, s:s, s:s, s:[o], s:{s:i, s:i, s:i}}", "id", id, "object", "response",
                               "created_at", (json_int_t) time (NULL), "status", "completed", "model", model, "output", message,
                               "usage", "input_tokens", 8, "output_tokens", 4, "total_tokens", 12);
    json_decref (body);
    s_respond_json (req, 200, reply);
}

//  An upload's form field (a test's minimal reader: the field's part as multipart clients
//  write it), copied into value.
static bool
s_form_field (h2o_req_t *req, const char *name, char *value, size_t size)
{
    char marker[128];
    int len = snprintf (marker, sizeof marker, "name=\"%s\"\r\n\r\n", name);
    const char *at = memmem (req->entity.base, req->entity.len, marker, (size_t) len);
    if (!at)
        return false;
    at += len;
    const char *end = memmem (at, req->entity.len - (size_t) (at - req->entity.base), "\r\n", 2);
    if (!end || (size_t) (end - at) >= size)
        return false;
    memcpy (value, at, (size_t) (end - at));
    value[end - at] = '\0';
    return true;
}

//  Transcriptions and translations: "<name>: <bytes> bytes of <filename>" as the text.
static void
s_audio_text (h2o_req_t *req)
{
    char model[256];
    if (!s_form_field (req, "model", model, sizeof model) || !s_model_known (model)) {
        s_respond_error (req, 404, "invalid_request_error", "model not served by this backend (or no model field)");
        return;
    }
    const char *file = memmem (req->entity.base, req->entity.len, H2O_STRLIT ("name=\"file\""));
    char text[512];
    snprintf (text, sizeof text, "%s: %zu bytes%s", s_options.name, req->entity.len, file ? " with a file" : "");
    s_respond_json (req, 200, json_pack ("{s:s}", "text", text));
}

static void
s_speech (h2o_req_t *req)
{
    const char *model;
    json_t *body = s_model_body (req, &model);
    if (!body)
        return;
    json_decref (body);
    //  A WAV header and no samples: bytes a client saves as audio.
    static const char wav[44] = "RIFF\x24\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x80\x3e\0\0\0\x7d\0\0\x02\0\x10\0data\0\0\0\0";
    s_respond (req, 200, "audio/wav", wav, sizeof wav);
}

static void
s_moderations (h2o_req_t *req)
{
    const char *model;
    json_t *body = s_model_body (req, &model);
    if (!body)
        return;
    json_t *reply = json_pack ("{s:s, s:s, s:[{s:b, s:{}, s:{}}], s:s}", "id", "modr-1", "model", model, "results",
                               "flagged", 0, "categories", "category_scores", "backend", s_options.name);
    json_decref (body);
    s_respond_json (req, 200, reply);
}

//  vLLM's /v1/rerank (documents scored against a query) and /v1/score (text_1 against text_2).
static void
s_rerank (h2o_req_t *req, bool score)
{
    const char *model;
    json_t *body = s_model_body (req, &model);
    if (!body)
        return;
    json_t *reply = score ? json_pack ("{s:s, s:s, s:s, s:[{s:i, s:s, s:f}], s:{s:i, s:i}, s:s}", "id", "score-1", "object",
                                       "list", "model", model, "data", "index", 0, "object", "score", "score", 0.5, "usage",
                                       "prompt_tokens", 8, "total_tokens", 8, "backend", s_options.name)
                          : json_pack ("{s:s, s:s, s:[{s:i, s:f}], s:{s:i}, s:s}", "id", "rerank-1", "model", model,
                                       "results", "index", 0, "relevance_score", 0.5, "usage", "total_tokens", 8,
                                       "backend", s_options.name);
    json_decref (body);
    s_respond_json (req, 200, reply);
}

static void
s_models_route (h2o_req_t *req)
{
    json_t *data = json_array ();
    json_t *models = s_models ();
    size_t index;
    json_t *model;
    json_array_foreach (models, index, model)
        json_array_append_new (data, json_pack ("{s:O, s:s, s:i, s:s}", "id", model, "object", "model",
                                                "created", 1700000000, "owned_by", "ocf-test-backend"));
    json_decref (models);
    s_respond_json (req, 200, json_pack ("{s:s, s:o}", "object", "list", "data", data));
}

static void
s_health (h2o_req_t *req)
{
    struct stat st;
    bool sick = s_options.sick_file && stat (s_options.sick_file, &st) == 0;
    if (s_uptime_ms () < s_options.startup_delay_ms || sick)
        s_respond (req, 503, "text/plain", "starting or sick\n", 17);
    else
        s_respond (req, 200, "text/plain", "ok\n", 3);
}

static void
s_metrics (h2o_req_t *req)
{
    int inflight = __atomic_load_n (&s_inflight, __ATOMIC_RELAXED);
    int running = inflight < s_options.max_running ? inflight : s_options.max_running;
    char text[3072];
    json_t *models = s_models ();
    const char *model = json_array_size (models) ? json_string_value (json_array_get (models, 0)) : "none";
    int len = snprintf (text, sizeof text,
        "# HELP vllm:num_requests_running Number of requests currently running on GPU.\n"
        "# TYPE vllm:num_requests_running gauge\n"
        "vllm:num_requests_running{model_name=\"%s\"} %d.0\n"
        "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n"
        "# TYPE vllm:num_requests_waiting gauge\n"
        "vllm:num_requests_waiting{model_name=\"%s\"} %d.0\n"
        "# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.\n"
        "# TYPE vllm:gpu_cache_usage_perc gauge\n"
        "vllm:gpu_cache_usage_perc{model_name=\"%s\"} %.3f\n",
        model, running, model, inflight - running, model, running * 0.05);
    if (s_cache)
        len += snprintf (text + len, sizeof text - len,
            "# HELP vllm:prefix_cache_queries Prefix cache queries, in terms of number of queried tokens.\n"
            "# TYPE vllm:prefix_cache_queries counter\n"
            "vllm:prefix_cache_queries_total{model_name=\"%s\"} %llu.0\n"
            "# HELP vllm:prefix_cache_hits Prefix cache hits, in terms of number of cached tokens.\n"
            "# TYPE vllm:prefix_cache_hits counter\n"
            "vllm:prefix_cache_hits_total{model_name=\"%s\"} %llu.0\n",
            model, (unsigned long long) __atomic_load_n (&s_prefix_queries, __ATOMIC_RELAXED),
            model, (unsigned long long) __atomic_load_n (&s_prefix_hits, __ATOMIC_RELAXED));
    json_decref (models);
    s_respond (req, 200, "text/plain; version=0.0.4", text, (size_t) len);
}

//  X-Test-Hop-Header: NAME answers with "NAME: hop" and "Connection: NAME", a header its
//  Connection header makes hop-by-hop, which a proxy must not relay.
static void
s_echo (h2o_req_t *req)
{
    ssize_t hop = h2o_find_header_by_str (&req->headers, H2O_STRLIT ("x-test-hop-header"), -1);
    if (hop >= 0) {
        h2o_iovec_t name = h2o_strdup (&req->pool, req->headers.entries[hop].value.base, req->headers.entries[hop].value.len);
        h2o_add_header_by_str (&req->pool, &req->res.headers, name.base, name.len, 1, NULL, H2O_STRLIT ("hop"));
        h2o_add_header (&req->pool, &req->res.headers, H2O_TOKEN_CONNECTION, NULL, name.base, name.len);
    }
    json_t *headers = json_object ();
    for (size_t i = 0; i < req->headers.size; i++) {
        h2o_header_t *header = &req->headers.entries[i];
        char *name = strndup (header->name->base, header->name->len);
        json_object_set_new (headers, name, json_stringn (header->value.base, header->value.len));
        free (name);
    }
    s_respond_json (req, 200, json_pack ("{s:s%, s:s%, s:o, s:I, s:s}", "method", req->method.base, req->method.len,
                                         "path", req->path.base, req->path.len, "headers", headers,
                                         "body_bytes", (json_int_t) req->entity.len, "backend", s_options.name));
}

static bool
s_is (h2o_req_t *req, const char *method, const char *path)
{
    size_t path_len = req->path_normalized.len;
    return h2o_memis (req->method.base, req->method.len, method, strlen (method))
        && h2o_memis (req->path_normalized.base, path_len, path, strlen (path));
}

static int
s_on_request (h2o_handler_t *handler, h2o_req_t *req)
{
    if (s_is (req, "GET", "/ping"))
        s_respond (req, 200, "text/plain", "pong\n", 5);
    else
    if (s_is (req, "GET", "/health"))
        s_health (req);
    else
    if (s_is (req, "GET", "/v1/models"))
        s_models_route (req);
    else
    if (s_is (req, "POST", "/v1/chat/completions"))
        s_completion (req, true);
    else
    if (s_is (req, "POST", "/v1/completions"))
        s_completion (req, false);
    else
    if (s_is (req, "POST", "/v1/embeddings"))
        s_embeddings (req);
    else
    if (s_is (req, "POST", "/v1/responses"))
        s_responses (req);
    else
    if (s_is (req, "POST", "/v1/audio/transcriptions") || s_is (req, "POST", "/v1/audio/translations"))
        s_audio_text (req);
    else
    if (s_is (req, "POST", "/v1/audio/speech"))
        s_speech (req);
    else
    if (s_is (req, "POST", "/v1/moderations"))
        s_moderations (req);
    else
    if (s_is (req, "POST", "/v1/rerank") || s_is (req, "POST", "/v1/score"))
        s_rerank (req, h2o_memis (req->path_normalized.base, req->path_normalized.len, H2O_STRLIT ("/v1/score")));
    else
    if (s_is (req, "GET", "/metrics"))
        s_metrics (req);
    else
        s_echo (req);
    return 0;
}

//  --------------------------------------------------------------------------

static void
s_on_accept (h2o_socket_t *listener, const char *error)
{
    if (error)
        return;
    h2o_socket_t *sock;
    while ((sock = h2o_evloop_socket_accept (listener)) != NULL)
        h2o_accept (&s_worker->accept, sock);
}

static int
s_listen (void)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) s_options.port) };
    if (inet_pton (AF_INET, s_options.host, &addr.sin_addr) != 1)
        return -1;
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int on = 1;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    //  Threads share the port; another process must not (it would silently take a share of
    //  the connections, as a leftover backend of an earlier run once did).
    if (s_options.threads > 1)
        setsockopt (fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
    if (bind (fd, (struct sockaddr *) &addr, sizeof addr) != 0 || listen (fd, SOMAXCONN) != 0) {
        close (fd);
        return -1;
    }
    return fd;
}

static void *
s_worker_run (void *arg)
{
    worker_t *worker = arg;
    s_worker = worker;
    worker->loop = h2o_evloop_create ();
    h2o_context_init (&worker->context, worker->loop, &s_config);
    worker->accept.ctx = &worker->context;
    worker->accept.hosts = s_config.hosts;
    int fd = s_listen ();
    if (fd < 0) {
        fprintf (stderr, "ocf-test-backend: cannot listen on %s:%d: %s\n", s_options.host, s_options.port, strerror (errno));
        exit (1);
    }
    h2o_socket_read_start (h2o_evloop_socket_create (worker->loop, fd, H2O_SOCKET_FLAG_DONT_READ), s_on_accept);
    while (h2o_evloop_run (worker->loop, INT32_MAX) == 0 || errno == EINTR)
        ;
    return NULL;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "Usage: ocf-test-backend [options]\n"
        "An OpenAI-compatible streaming server for the tests (stands in for vLLM).\n\n"
        "  --listen HOST:PORT         address (default 127.0.0.1:8000)\n"
        "  --name NAME                named in replies (default test-backend)\n"
        "  --model ID                 a model served (repeatable; default test-model)\n"
        "  --models-file PATH         models, one per line, re-read at each request\n"
        "  --tokens N                 tokens per completion (default 16; max_tokens lowers it)\n"
        "  --token-delay-ms MS        pace of streamed events (default 20)\n"
        "  --first-token-delay-ms MS  delay before the first event (default 0)\n"
        "  --startup-delay-ms MS      /health answers 503 until then (default 0)\n"
        "  --sick-file PATH           /health answers 503 while PATH exists\n"
        "  --fail-status CODE         answer completions with CODE\n"
        "  --max-running N            in-flight requests above N count as waiting in /metrics\n"
        "  --threads N                event loops (SO_REUSEPORT), default 1\n"
        "  --prefix-cache-blocks N    simulate a prefix cache of N blocks of 256 bytes (default 0: none)\n"
        "  --prefill-us-per-kib US    with it: prefill time of uncached prompt text, one prompt at a time\n"
        "Per request: X-Test-Tokens, X-Test-Token-Delay-Ms, X-Test-First-Token-Delay-Ms,\n"
        "X-Test-Status override the flags; X-Test-Hop-Header: NAME makes the echo answer\n"
        "with a header NAME that its Connection header names.\n");
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        { "listen", required_argument, NULL, 'l' }, { "name", required_argument, NULL, 'n' },
        { "model", required_argument, NULL, 'm' }, { "models-file", required_argument, NULL, 'M' },
        { "tokens", required_argument, NULL, 't' }, { "token-delay-ms", required_argument, NULL, 'd' },
        { "first-token-delay-ms", required_argument, NULL, 'f' }, { "startup-delay-ms", required_argument, NULL, 's' },
        { "sick-file", required_argument, NULL, 'S' }, { "fail-status", required_argument, NULL, 'F' },
        { "max-running", required_argument, NULL, 'r' }, { "threads", required_argument, NULL, 'T' },
        { "prefix-cache-blocks", required_argument, NULL, 'P' }, { "prefill-us-per-kib", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        switch (option) {
            case 'l': {
                char *colon = strrchr (optarg, ':');
                if (!colon) {
                    fprintf (stderr, "ocf-test-backend: --listen needs HOST:PORT\n");
                    return 2;
                }
                *colon = '\0';
                s_options.host = optarg;
                s_options.port = atoi (colon + 1);
                break;
            }
            case 'n': s_options.name = optarg; break;
            case 'm': if (s_options.model_count < MAX_MODELS) s_options.models[s_options.model_count++] = optarg; break;
            case 'M': s_options.models_file = optarg; break;
            case 't': s_options.tokens = atoi (optarg); break;
            case 'd': s_options.token_delay_ms = atoi (optarg); break;
            case 'f': s_options.first_token_delay_ms = atoi (optarg); break;
            case 's': s_options.startup_delay_ms = atoi (optarg); break;
            case 'S': s_options.sick_file = optarg; break;
            case 'F': s_options.fail_status = atoi (optarg); break;
            case 'r': s_options.max_running = atoi (optarg); break;
            case 'P': s_options.prefix_cache_blocks = atoi (optarg); break;
            case 'p': s_options.prefill_us_per_kib = atoi (optarg); break;
            case 'T': s_options.threads = atoi (optarg) > 0 ? atoi (optarg) : 1; break;
            case 'h': s_usage (stdout); return 0;
            default: s_usage (stderr); return 2;
        }
    }
    if (s_options.model_count == 0)
        s_options.models[s_options.model_count++] = "test-model";
    if (s_options.prefix_cache_blocks > 0)
        s_cache = prefix_cache_new ((size_t) s_options.prefix_cache_blocks);
    signal (SIGPIPE, SIG_IGN);
    clock_gettime (CLOCK_MONOTONIC, &s_started);
    h2o_config_init (&s_config);
    s_config.http1.upgrade_to_http2 = 0;
    h2o_hostconf_t *host = h2o_config_register_host (&s_config, h2o_iovec_init (H2O_STRLIT ("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path (host, "/", 0);
    h2o_create_handler (path, sizeof (h2o_handler_t))->on_req = s_on_request;
    fprintf (stderr, "ocf-test-backend %s listening on %s:%d (%d thread%s)\n", s_options.name, s_options.host,
             s_options.port, s_options.threads, s_options.threads > 1 ? "s" : "");
    pthread_t threads[64];
    worker_t *workers = calloc ((size_t) s_options.threads, sizeof *workers);
    for (int i = 1; i < s_options.threads && i < 64; i++)
        pthread_create (&threads[i], NULL, s_worker_run, &workers[i]);
    s_worker_run (&workers[0]);
    return 0;
}

/*  policy = prefix on two hosts on loopback, each with its real ocf-tabled and ocf-proxyd and a
    test backend (A: a1, B: b1), rows copied between the tables as gossip would: every turn of
    a conversation, whichever host it enters at, reaches the same backend, and different
    conversations spread over both; a full backend (b1 declares max_inflight 1) spills to the
    next in the key's order.  */
#include "fabric.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static fabric_t s_fabric;
static fabric_host_t *A, *B;

static void
s_setup (void)
{
    A = fabric_host (&s_fabric, "host-a", "policy = prefix\n");
    B = fabric_host (&s_fabric, "host-b", "policy = prefix\n");
    const char *m1[] = { "--model", "m1", NULL };
    fabric_service (A, "llm", fabric_backend (&s_fabric, "a1", m1), "model=m1", NULL);
    //  As B's workerd reports its backend's prefix cache.
    fabric_service (B, "llm", fabric_backend (&s_fabric, "b1", m1), "model=m1",
                    "{\"load\": {\"prefix_hit_rate\": 0.75, \"max_inflight\": 1}}");
    fabric_sync (&s_fabric);
    cr_assert (fabric_wait_model (A, "m1", 2, 5000), "host A does not route m1 to two providers");
    cr_assert (fabric_wait_model (B, "m1", 2, 5000), "host B does not route m1 to two providers");
}

static void
s_teardown (void)
{
    fabric_stop (&s_fabric);
}

TestSuite (proxyd_routing, .init = s_setup, .fini = s_teardown, .timeout = 90);

static void
s_conversation (char *body, size_t size, int conversation, int turns)
{
    int len = snprintf (body, size, "{\"model\": \"m1\", \"messages\": [{\"role\": \"system\", \"content\": "
                        "\"You answer in one line.\"}");
    for (int turn = 0; turn < turns; turn++) {
        if (turn)
            len += snprintf (body + len, size - len, ", {\"role\": \"assistant\", \"content\": \"answer %d\"}", turn);
        len += snprintf (body + len, size - len, ", {\"role\": \"user\", \"content\": \"conversation %d, question %d\"}",
                         conversation, turn);
    }
    snprintf (body + len, size - len, "]}");
}

static fabric_host_t *
s_served_by (fabric_response_t *response)
{
    char *node = fabric_header (response, "x-computing-node");
    cr_assert (node);
    fabric_host_t *served = strcmp (node, A->id) == 0 ? A : strcmp (node, B->id) == 0 ? B : NULL;
    cr_assert (served, "X-Computing-Node %s is no host", node);
    free (node);
    return served;
}

//  The host whose backend answered turn `turns` of conversation `conversation`, sent to host.
static fabric_host_t *
s_turn (fabric_host_t *host, int conversation, int turns)
{
    char body[2048], url[128];
    s_conversation (body, sizeof body, conversation, turns);
    snprintf (url, sizeof url, "%s/v1/chat/completions", host->url);
    fabric_response_t response = fabric_http ("POST", url, NULL, body);
    cr_assert_eq (response.status, 200, "%s: %ld %s", body, response.status, response.body);
    fabric_host_t *served = s_served_by (&response);
    fabric_response_free (&response);
    return served;
}

Test (proxyd_routing, a_conversation_sticks_to_one_backend_through_any_host)
{
    int served[2] = { 0 };
    for (int conversation = 0; conversation < 16; conversation++) {
        fabric_host_t *first = s_turn (A, conversation, 1);
        //  Turns alternate between the hosts; with p2c each host would keep its own turns.
        for (int turns = 2; turns <= 4; turns++) {
            fabric_host_t *entry = turns % 2 ? A : B;
            fabric_host_t *host = s_turn (entry, conversation, turns);
            cr_assert_eq (host, first, "conversation %d: turn 1 went to %s, turn %d through %s to %s", conversation,
                          first->name, turns, entry->name, host->name);
        }
        served[first == B]++;
    }
    //  The keys spread (all 16 on one host by chance: 1 in 32,768).
    cr_assert (served[0] && served[1], "host-a served %d conversations, host-b %d", served[0], served[1]);
    //  A chose for turns 1 and 3 of each: always the key's first provider (one request at a
    //  time, fewer than a window of choices: no load, no share to spill for), counted by
    //  policy and by provider.
    cr_assert_eq (fabric_metric (A, "ocf_proxyd_choices_total{policy=\"prefix\",how=\"affinity\"} "), 32);
    cr_assert_eq (fabric_metric (A, "ocf_proxyd_choices_total{policy=\"prefix\",how=\"spilled\"} "), 0);
    char sample[160];
    double by_provider = 0;
    for (int i = 0; i < 2; i++) {
        snprintf (sample, sizeof sample, "ocf_proxyd_provider_choices_total{node=\"%s\",how=\"affinity\"} ",
                  (i ? B : A)->id);
        by_provider += fabric_metric (A, sample);
    }
    cr_assert_eq (by_provider, 32);
}

Test (proxyd_routing, providers_prefix_hit_rates_in_metrics)
{
    char sample[160];
    snprintf (sample, sizeof sample, "ocf_proxyd_provider_prefix_cache_hit_ratio{node=\"%s\",service=\"llm\"} ", B->id);
    cr_assert_float_eq (fabric_metric (A, sample), 0.75, 1e-9);
    cr_assert_float_eq (fabric_metric (B, sample), 0.75, 1e-9);
}

typedef struct {
    char url[128];
    char body[2048];
    fabric_response_t response;
} slow_t;

static void *
s_slow (void *arg)
{
    slow_t *slow = arg;
    //  Streamed slowly: 40 tokens 50 ms apart keep the request in flight for 2 s.
    const char *headers[] = { "X-Test-Tokens: 40", "X-Test-Token-Delay-Ms: 50", NULL };
    slow->response = fabric_http ("POST", slow->url, headers, slow->body);
    return NULL;
}

//  b1 (on B) declares max_inflight 1: while a request of a conversation whose key prefers B is
//  in flight there, A sends its next turn to the next provider in the key's order (a1), and
//  counts it as spilled.
Test (proxyd_routing, a_full_backend_spills_to_the_next)
{
    int conversation = 0;
    while (s_turn (A, conversation, 1) != B)
        cr_assert_lt (++conversation, 64, "no conversation of 64 prefers host-b");
    slow_t *slow = calloc (1, sizeof *slow);
    snprintf (slow->url, sizeof slow->url, "%s/v1/chat/completions", A->url);
    //  Streamed (the same key: "stream" is not part of the prompt).
    memcpy (slow->body, "{\"stream\": true,", 16);
    s_conversation (slow->body + 16, sizeof slow->body - 16, conversation, 1);
    slow->body[16] = ' ';        //  the conversation's own "{"
    double before = fabric_metric (A, "ocf_proxyd_choices_total{policy=\"prefix\",how=\"affinity\"} ");
    pthread_t thread;
    pthread_create (&thread, NULL, s_slow, slow);
    //  Once A has chosen B for it, the slow request is in flight toward B.
    for (int i = 0; i < 500 && fabric_metric (A, "ocf_proxyd_choices_total{policy=\"prefix\",how=\"affinity\"} ") == before; i++)
        usleep (10000);
    cr_assert_gt (fabric_metric (A, "ocf_proxyd_choices_total{policy=\"prefix\",how=\"affinity\"} "), before);
    cr_assert_eq (s_turn (A, conversation, 2), A, "the turn did not spill from the full backend");
    cr_assert_eq (fabric_metric (A, "ocf_proxyd_choices_total{policy=\"prefix\",how=\"spilled\"} "), 1);
    pthread_join (thread, NULL);
    cr_assert_eq (slow->response.status, 200);
    cr_assert_eq (s_served_by (&slow->response), B);
    fabric_response_free (&slow->response);
    free (slow);
    //  Free again: back to its first provider.
    cr_assert_eq (s_turn (A, conversation, 3), B);
}

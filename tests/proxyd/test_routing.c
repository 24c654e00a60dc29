/*  policy = prefix on two hosts on loopback, each with its real ocf-tabled and ocf-proxyd and a
    test backend (A: a1, B: b1), rows copied between the tables as gossip would: every turn of
    a conversation, whichever host it enters at, reaches the same backend, and different
    conversations spread over both.  */
#include "fabric.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

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
    fabric_service (B, "llm", fabric_backend (&s_fabric, "b1", m1), "model=m1", "{\"load\": {\"prefix_hit_rate\": 0.75}}");
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

//  The host whose backend answered turn `turns` of conversation `conversation`, sent to host.
static fabric_host_t *
s_turn (fabric_host_t *host, int conversation, int turns)
{
    char body[2048], url[128];
    int len = snprintf (body, sizeof body, "{\"model\": \"m1\", \"messages\": [{\"role\": \"system\", \"content\": "
                        "\"You answer in one line.\"}");
    for (int turn = 0; turn < turns; turn++) {
        if (turn)
            len += snprintf (body + len, sizeof body - len, ", {\"role\": \"assistant\", \"content\": \"answer %d\"}", turn);
        len += snprintf (body + len, sizeof body - len, ", {\"role\": \"user\", \"content\": \"conversation %d, question %d\"}",
                         conversation, turn);
    }
    snprintf (body + len, sizeof body - len, "]}");
    snprintf (url, sizeof url, "%s/v1/chat/completions", host->url);
    fabric_response_t response = fabric_http ("POST", url, NULL, body);
    cr_assert_eq (response.status, 200, "%s: %ld %s", body, response.status, response.body);
    char *node = fabric_header (&response, "x-computing-node");
    cr_assert (node);
    fabric_host_t *served = strcmp (node, A->id) == 0 ? A : strcmp (node, B->id) == 0 ? B : NULL;
    cr_assert (served, "X-Computing-Node %s is no host", node);
    free (node);
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
    //  time: no load to spill for), counted by policy and by provider.
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

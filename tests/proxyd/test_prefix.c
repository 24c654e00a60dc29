/*  The prefix policy's pure parts: the key a request body gives (ocf_prefix) and the choice it
    makes among providers (ocf_choose, policy prefix).  */
#include "ocf_choose.h"
#include "ocf_prefix.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char s_error[256];

static ocf_prefix_key_t
s_key_sized (ocf_prefix_kind_t kind, const char *body, size_t max_blocks)
{
    ocf_prefix_key_t key;
    int rc = ocf_prefix_key (body, strlen (body), kind, 256, max_blocks, &key, s_error, sizeof s_error);
    cr_assert_eq (rc, 0, "refused %s: %s", body, s_error);
    return key;
}

static uint64_t
s_chat (const char *body)
{
    return s_key_sized (OCF_PREFIX_CHAT, body, 16).anchor;
}

static uint64_t
s_prompt (const char *body)
{
    return s_key_sized (OCF_PREFIX_COMPLETION, body, 16).anchor;
}

#define SYS "{\"role\": \"system\", \"content\": \"You are terse.\"}"

Test (proxyd_prefix, every_turn_of_a_conversation_has_its_key)
{
    uint64_t turn1 = s_chat ("{\"model\": \"m\", \"messages\": [" SYS ", {\"role\": \"user\", \"content\": \"hi\"}]}");
    uint64_t turn2 = s_chat ("{\"model\": \"m\", \"messages\": [" SYS ", {\"role\": \"user\", \"content\": \"hi\"},"
                             "{\"role\": \"assistant\", \"content\": \"hello\"}, {\"role\": \"user\", \"content\": \"more\"}],"
                             "\"stream\": true, \"max_tokens\": 5}");
    uint64_t other = s_chat ("{\"model\": \"m\", \"messages\": [" SYS ", {\"role\": \"user\", \"content\": \"bye\"}]}");
    uint64_t other_system = s_chat ("{\"model\": \"m\", \"messages\": [{\"role\": \"system\", \"content\": \"You are long.\"},"
                                    "{\"role\": \"user\", \"content\": \"hi\"}]}");
    cr_assert_neq (turn1, 0);
    cr_assert_eq (turn1, turn2, "the second turn of a conversation must have the first's key");
    cr_assert_neq (turn1, other);
    cr_assert_neq (turn1, other_system);
    //  The role is part of the text the backend sees.
    cr_assert_neq (turn1, s_chat ("{\"messages\": [" SYS ", {\"role\": \"assistant\", \"content\": \"hi\"}]}"));
}

Test (proxyd_prefix, normalised)
{
    uint64_t plain = s_chat ("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"caf\xc3\xa9 a/b\"}]}");
    cr_assert_eq (plain, s_chat ("{ \"messages\" : [ { \"content\" : \"caf\\u00e9 a\\/b\", \"role\" : \"user\" } ],\n"
                                 "  \"model\" : \"other\" }"));
    //  Astral characters from a surrogate pair, as UTF-8.
    cr_assert_eq (s_chat ("{\"messages\":[{\"role\":\"user\",\"content\":\"\xf0\x9f\x98\x80\"}]}"),
                  s_chat ("{\"messages\":[{\"role\":\"user\",\"content\":\"\\ud83d\\ude00\"}]}"));
    //  Content given as parts is the text the template renders from them: another key.
    cr_assert_neq (plain, s_chat ("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"caf\xc3\xa9 a/b\"}]}]}"));
}

Test (proxyd_prefix, tools_and_tool_calls_count)
{
    const char *tools_a = "{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"a\"}}],"
                          "\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}";
    const char *tools_b = "{\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"b\"}}],"
                          "\"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}";
    const char *none = "{\"tools\": [], \"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}";
    cr_assert_neq (s_chat (tools_a), s_chat (tools_b));
    cr_assert_eq (s_chat (none), s_chat ("{\"tools\": null, \"messages\": [{\"role\": \"user\", \"content\": \"q\"}]}"));
    //  Before the first user message, an assistant's tool calls are part of the key.
    cr_assert_neq (s_chat ("{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": [{\"id\": \"1\"}]},"
                           "{\"role\": \"user\", \"content\": \"q\"}]}"),
                   s_chat ("{\"messages\": [{\"role\": \"assistant\", \"tool_calls\": [{\"id\": \"2\"}]},"
                           "{\"role\": \"user\", \"content\": \"q\"}]}"));
    //  No user message at all: everything.
    cr_assert_neq (s_chat ("{\"messages\": [" SYS "]}"), 0);
    cr_assert_eq (s_chat ("{\"messages\": []}"), 0);
}

//  A system prompt that fills the anchor's blocks makes every conversation that shares it
//  share the key; with room for more blocks, the users' messages tell them apart.
Test (proxyd_prefix, a_long_shared_prefix_is_the_key)
{
    char system[6000];
    memset (system, 'x', sizeof system - 1);
    system[sizeof system - 1] = '\0';
    char *a, *b;
    cr_assert (asprintf (&a, "{\"messages\": [{\"role\": \"system\", \"content\": \"%s\"}, {\"role\": \"user\", \"content\": \"a\"}]}", system) > 0);
    cr_assert (asprintf (&b, "{\"messages\": [{\"role\": \"system\", \"content\": \"%s\"}, {\"role\": \"user\", \"content\": \"b\"}]}", system) > 0);
    ocf_prefix_key_t ka = s_key_sized (OCF_PREFIX_CHAT, a, 16), kb = s_key_sized (OCF_PREFIX_CHAT, b, 16);
    cr_assert_eq (ka.anchor, kb.anchor);
    cr_assert_eq (ka.blocks, 16);
    cr_assert_eq (ka.anchor_bytes, 16 * 256);
    ka = s_key_sized (OCF_PREFIX_CHAT, a, 64);
    kb = s_key_sized (OCF_PREFIX_CHAT, b, 64);
    cr_assert_neq (ka.anchor, kb.anchor);
    //  "system", 4 separators, 5,999 x, 0x1e; "user", 0x1f 0x1f "a" 0x1f 0x1f 0x1e: 6,020 bytes
    cr_assert_eq (ka.blocks, 23);
    cr_assert_eq (ka.anchor_bytes, 6020);
    free (a);
    free (b);
}

Test (proxyd_prefix, completions)
{
    uint64_t text = s_prompt ("{\"model\": \"m\", \"prompt\": \"Once upon a time\"}");
    cr_assert_neq (text, 0);
    cr_assert_eq (text, s_prompt ("{\"prompt\": \"Once upon\\u0020a time\", \"max_tokens\": 3}"));
    cr_assert_neq (text, s_prompt ("{\"prompt\": \"Once upon a tide\"}"));
    cr_assert_neq (s_prompt ("{\"prompt\": [1, 2, 3]}"), s_prompt ("{\"prompt\": [1, 2, 4]}"));
    cr_assert_eq (s_prompt ("{\"model\": \"m\"}"), 0);
    cr_assert_eq (s_prompt ("{\"prompt\": \"\"}"), 0);
}

static void
s_refused (ocf_prefix_kind_t kind, const char *body, const char *why)
{
    ocf_prefix_key_t key;
    s_error[0] = '\0';
    cr_assert_eq (ocf_prefix_key (body, strlen (body), kind, 256, 16, &key, s_error, sizeof s_error), -1, "accepted %s", body);
    cr_assert (strstr (s_error, why), "%s: '%s' does not say '%s'", body, s_error, why);
    cr_assert_eq (key.anchor, 0);
}

Test (proxyd_prefix, bad_bodies_say_why)
{
    s_refused (OCF_PREFIX_CHAT, "{\"messages\": [", "at byte 14");
    s_refused (OCF_PREFIX_CHAT, "[1]", "not a JSON object");
    s_refused (OCF_PREFIX_CHAT, "{\"model\": \"m\"}", "\"messages\" must be an array");
    s_refused (OCF_PREFIX_CHAT, "{\"messages\": {}}", "\"messages\" must be an array");
    s_refused (OCF_PREFIX_CHAT, "{\"messages\": [1]}", "must be an object");
    s_refused (OCF_PREFIX_CHAT, "{\"messages\": [{\"content\": \"x\"}]}", "string \"role\"");
    //  Even after the anchor's end: whether a body is refused does not depend on the knobs.
    s_refused (OCF_PREFIX_CHAT, "{\"messages\": [{\"role\": \"user\"}, {\"role\": 1}]}", "string \"role\"");
    s_refused (OCF_PREFIX_CHAT, "{\"tools\": {}, \"messages\": []}", "\"tools\" must be an array");
    s_refused (OCF_PREFIX_COMPLETION, "{\"prompt\": 5}", "\"prompt\" must be a string or an array");
    ocf_prefix_key_t key;
    cr_assert_eq (ocf_prefix_key ("{}", 2, OCF_PREFIX_COMPLETION, 0, 16, &key, s_error, sizeof s_error), -1);
    cr_assert_eq (ocf_prefix_key ("{}", 2, OCF_PREFIX_COMPLETION, 256, 0, &key, s_error, sizeof s_error), -1);
}

//  --------------------------------------------------------------------------
//  The choice

#define NODES 4
static const char *s_ids[NODES] = { "node-a", "node-b", "node-c", "node-d" };

static void
s_candidates (ocf_candidate_t *candidates, const int *order, size_t n)
{
    for (size_t i = 0; i < n; i++)
        candidates[i] = (ocf_candidate_t) { .id_hash = ocf_choose_id_hash (s_ids[order[i]]) };
}

static uint64_t
s_key_of (int i)
{
    char body[128];
    snprintf (body, sizeof body, "{\"messages\": [{\"role\": \"user\", \"content\": \"conversation %d\"}]}", i);
    return s_chat (body);
}

//  The same key gives the same node whatever the host: its random state and the order its
//  view lists the providers in do not matter.
Test (proxyd_prefix, same_choice_on_every_host)
{
    int order_a[NODES] = { 0, 1, 2, 3 }, order_b[NODES] = { 3, 1, 0, 2 };
    ocf_candidate_t a[NODES], b[NODES];
    s_candidates (a, order_a, NODES);
    s_candidates (b, order_b, NODES);
    ocf_chooser_t host_a, host_b;
    ocf_chooser_init (&host_a, OCF_POLICY_PREFIX, 1);
    ocf_chooser_init (&host_b, OCF_POLICY_PREFIX, 99);
    int counts[NODES] = { 0 };
    for (int i = 0; i < 2000; i++) {
        uint64_t key = s_key_of (i);
        int chosen_a = ocf_choose (&host_a, a, NODES, key), chosen_b = ocf_choose (&host_b, b, NODES, key);
        cr_assert_eq (order_a[chosen_a], order_b[chosen_b], "key %d: %s on one host, %s on the other", i,
                      s_ids[order_a[chosen_a]], s_ids[order_b[chosen_b]]);
        counts[order_a[chosen_a]]++;
    }
    //  Keys spread over the providers (500 each expected).
    for (int i = 0; i < NODES; i++)
        cr_assert (counts[i] > 400 && counts[i] < 600, "%s chosen for %d keys of 2000", s_ids[i], counts[i]);
}

//  Consistent hashing: a provider that leaves moves its own keys only.
Test (proxyd_prefix, a_provider_leaving_moves_only_its_keys)
{
    int all[NODES] = { 0, 1, 2, 3 }, without_c[NODES - 1] = { 0, 1, 3 };
    ocf_candidate_t before[NODES], after[NODES - 1];
    s_candidates (before, all, NODES);
    s_candidates (after, without_c, NODES - 1);
    ocf_chooser_t chooser;
    ocf_chooser_init (&chooser, OCF_POLICY_PREFIX, 5);
    int moved = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t key = s_key_of (i);
        int was = all[ocf_choose (&chooser, before, NODES, key)];
        int is = without_c[ocf_choose (&chooser, after, NODES - 1, key)];
        if (was != 2)
            cr_assert_eq (was, is, "key %d moved from %s to %s", i, s_ids[was], s_ids[is]);
        else
            moved++;
    }
    cr_assert (moved > 150 && moved < 350, "%d keys were node-c's", moved);
}

//  Bounded loads: a provider whose recent count is at (1 + balance) x the mean or more is
//  passed over for the next in the key's order; so is one with a long queue, a full one, and
//  one already tried.
Test (proxyd_prefix, a_loaded_provider_spills_to_the_next)
{
    int all[NODES] = { 0, 1, 2, 3 };
    ocf_candidate_t candidates[NODES];
    s_candidates (candidates, all, NODES);
    ocf_chooser_t chooser;
    ocf_chooser_init (&chooser, OCF_POLICY_PREFIX, 5);
    uint64_t key = s_key_of (7);
    int first = ocf_choose (&chooser, candidates, NODES, key);
    candidates[first].excluded = true;
    int second = ocf_choose (&chooser, candidates, NODES, key);
    candidates[second].excluded = true;
    int third = ocf_choose (&chooser, candidates, NODES, key);
    candidates[first].excluded = candidates[second].excluded = false;
    cr_assert_neq (first, second);
    cr_assert_neq (third, first);
    cr_assert_neq (third, second);
    //  Recent counts 60, 30, 30, 30 (with this request: mean 37.75, bound at most 47.2): over it.
    for (int i = 0; i < NODES; i++)
        candidates[i].recent = i == first ? 60 : 30;
    cr_assert_eq (ocf_choose (&chooser, candidates, NODES, key), second);
    //  Fewer than a window of choices so far (after a start): 6, 0, 0, 0 is no share yet, what
    //  is missing counts as spread evenly (mean: a window over 4), and the first keeps its keys.
    for (int i = 0; i < NODES; i++)
        candidates[i].recent = i == first ? 6 : 0;
    cr_assert_eq (ocf_choose (&chooser, candidates, NODES, key), first);
    //  50, 50, 60, 60 (mean 55.25): at the mean or under, the first keeps its keys, even at
    //  balance 0.
    for (int i = 0; i < NODES; i++)
        candidates[i].recent = i == first || i == second ? 50 : 60;
    cr_assert_eq (ocf_choose (&chooser, candidates, NODES, key), first);
    chooser.balance = 0;
    cr_assert_eq (ocf_choose (&chooser, candidates, NODES, key), first);
    //  55, then 54.9 each at balance 0 (the mean with this request 55.175): taking it would
    //  put any of them above the mean (the bound holds after the choice, not only before it),
    //  so the least counted takes it, of equals the first in the key's order; 55 each: the
    //  first. Never none (a 503 to the client).
    for (int i = 0; i < NODES; i++)
        candidates[i].recent = i == first ? 55 : 54.9;
    cr_assert_eq (ocf_choose (&chooser, candidates, NODES, key), second);
    for (int i = 0; i < NODES; i++)
        candidates[i].recent = 55;
    cr_assert_eq (ocf_choose (&chooser, candidates, NODES, key), first);
    //  64, 64, 46, 46 at balance 0 (bound: the mean, 55.25): the first two are over it.
    for (int i = 0; i < NODES; i++)
        candidates[i].recent = i == first || i == second ? 64 : 46;
    cr_assert_eq (ocf_choose (&chooser, candidates, NODES, key), third);
    chooser.balance = 0.25;
    for (int i = 0; i < NODES; i++)
        candidates[i].recent = 0;
    //  In flight 2, 2, 0, 0 (mean 1.25): above (1 + balance) x the mean, but a short queue (under
    //  twice the bound): the first keeps it. 3, 0, 0, 0 (mean 1): a long one, passed over.
    candidates[first].load = candidates[second].load = 2;
    cr_assert_eq (ocf_choose (&chooser, candidates, NODES, key), first);
    candidates[first].load = 3;
    candidates[second].load = 0;
    cr_assert_eq (ocf_choose (&chooser, candidates, NODES, key), second);
    //  The only one under its recent bound has a long queue: it still takes the request.
    for (int i = 0; i < NODES; i++) {
        candidates[i].recent = i == third ? 0 : 60;
        candidates[i].load = i == third ? 5 : 0;
    }
    cr_assert_eq (ocf_choose (&chooser, candidates, NODES, key), third);
    for (int i = 0; i < NODES; i++)
        candidates[i].recent = 0;
    //  Full (its max_inflight reached): passed over whatever the mean.
    for (int i = 0; i < NODES; i++)
        candidates[i].load = 0;
    candidates[first].capacity = 1;
    candidates[first].load = 1;
    cr_assert_eq (ocf_choose (&chooser, candidates, NODES, key), second);
    //  Everyone full: still the key's order among them (the backends queue).
    for (int i = 0; i < NODES; i++)
        candidates[i].capacity = candidates[i].load = 1;
    cr_assert_eq (ocf_choose (&chooser, candidates, NODES, key), first);
    for (int i = 0; i < NODES; i++)
        candidates[i].excluded = true;
    cr_assert_eq (ocf_choose (&chooser, candidates, NODES, key), -1);
}

//  A provider over its share sheds whole keys, the same ones every time and on every host
//  (they then stay cached on their next provider), more of them the further over it is: the
//  keys with the lowest bound first. Its other keys stay.
Test (proxyd_prefix, an_overloaded_provider_sheds_the_same_keys)
{
    enum { KEYS = 2000 };
    int all[NODES] = { 0, 1, 2, 3 };
    ocf_candidate_t candidates[NODES];
    s_candidates (candidates, all, NODES);
    ocf_chooser_t host_a, host_b;
    ocf_chooser_init (&host_a, OCF_POLICY_PREFIX, 1);
    ocf_chooser_init (&host_b, OCF_POLICY_PREFIX, 99);
    static int home[KEYS], shed_at[KEYS];
    int own = 0;
    for (int i = 0; i < KEYS; i++) {
        home[i] = ocf_choose (&host_a, candidates, NODES, s_key_of (i));
        own += home[i] == 0;
        shed_at[i] = -1;
    }
    //  node-a's recent count from under the others' 40 up to 60 (0.92 to 1.33 x the mean). A
    //  provider keeps a key while taking it leaves it within the key's bound: one left at the
    //  mean or under with this request keeps all its keys.
    static const double counts[] = { 36, 44, 47, 50, 53, 60 };
    int shed[6] = { 0 };
    for (size_t c = 0; c < 6; c++) {
        double mean = 1.0 / NODES;      //  (this request + the recent counts) / n
        for (int n = 0; n < NODES; n++) {
            candidates[n].recent = n == 0 ? counts[c] : 40;
            mean += candidates[n].recent / NODES;
        }
        for (int i = 0; i < KEYS; i++) {
            if (home[i] != 0) {
                if (candidates[home[i]].recent + 1 <= mean)
                    cr_assert_eq (ocf_choose (&host_a, candidates, NODES, s_key_of (i)), home[i],
                                  "key %d moved off a provider under its share", i);
                continue;
            }
            int to = ocf_choose (&host_a, candidates, NODES, s_key_of (i));
            cr_assert_eq (ocf_choose (&host_b, candidates, NODES, s_key_of (i)), to, "key %d: hosts differ", i);
            cr_assert_eq (ocf_choose (&host_a, candidates, NODES, s_key_of (i)), to, "key %d: not the same again", i);
            if (to == 0) {
                cr_assert_eq (shed_at[i], -1, "key %d came back at a higher count", i);
                continue;
            }
            shed[c]++;
            if (shed_at[i] < 0)
                shed_at[i] = to;
            cr_assert_eq (to, shed_at[i], "key %d shed to another provider at a higher count", i);
        }
    }
    cr_assert (own > 400 && own < 600, "node-a first for %d keys", own);
    cr_assert_eq (shed[0], 0, "under the mean, %d keys shed", shed[0]);
    for (size_t c = 1; c < 5; c++)
        cr_assert (shed[c] > shed[c - 1] && shed[c] < own, "at %.0f, %d of %d keys shed (before: %d)", counts[c],
                   shed[c], own, shed[c - 1]);
    cr_assert_eq (shed[5], own, "above (1 + balance) x the mean, %d of %d keys shed", shed[5], own);
}

//  Each choice decays every candidate's recent count and adds the request to the chosen one's:
//  at a steady rate a provider's count tends to the requests it took of the last window.
Test (proxyd_prefix, recent_counts_decay)
{
    double taken = 0, other = 0;
    for (int i = 0; i < 20 * OCF_CHOOSE_WINDOW; i++) {
        ocf_choose_count (&taken, i % 4 == 0);
        ocf_choose_count (&other, false);
    }
    cr_assert (taken > 0.24 * OCF_CHOOSE_WINDOW && taken < 0.26 * OCF_CHOOSE_WINDOW, "%f", taken);
    cr_assert (other == 0);
    for (int i = 0; i < 4 * OCF_CHOOSE_WINDOW; i++)
        ocf_choose_count (&taken, false);
    cr_assert (taken < 0.01 * OCF_CHOOSE_WINDOW, "%f after 4 windows without a request", taken);
}

//  No key (a body without a prompt, another route): p2c, this host first.
Test (proxyd_prefix, without_a_key_as_p2c)
{
    int all[NODES] = { 0, 1, 2, 3 };
    ocf_candidate_t candidates[NODES];
    s_candidates (candidates, all, NODES);
    candidates[2].self = true;
    ocf_chooser_t chooser;
    ocf_chooser_init (&chooser, OCF_POLICY_PREFIX, 5);
    for (int i = 0; i < 20; i++)
        cr_assert_eq (ocf_choose (&chooser, candidates, NODES, 0), 2);
    cr_assert_eq (ocf_policy_parse ("prefix"), OCF_POLICY_PREFIX);
    cr_assert_str_eq (ocf_policy_name (OCF_POLICY_PREFIX), "prefix");
}

//  The whole prompt's blocks, as ocf-test-backend's cache sees them: a conversation's next
//  turn starts with every full block of the one before.
Test (proxyd_prefix, chain_of_the_whole_prompt)
{
    char turn1[2048], turn2[4096];
    char long_text[1500];
    memset (long_text, 'y', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    snprintf (turn1, sizeof turn1, "{\"messages\": [{\"role\": \"user\", \"content\": \"%s\"}]}", long_text);
    snprintf (turn2, sizeof turn2, "{\"messages\": [{\"role\": \"user\", \"content\": \"%s\"},"
              "{\"role\": \"assistant\", \"content\": \"%s\"}, {\"role\": \"user\", \"content\": \"q\"}]}", long_text, long_text);
    uint64_t chain1[64], chain2[64];
    ocf_prefix_key_t whole1, whole2;
    cr_assert_eq (ocf_prefix_chain (turn1, strlen (turn1), OCF_PREFIX_CHAT, 256, chain1, 64, &whole1, s_error, sizeof s_error), 0);
    cr_assert_eq (ocf_prefix_chain (turn2, strlen (turn2), OCF_PREFIX_CHAT, 256, chain2, 64, &whole2, s_error, sizeof s_error), 0);
    cr_assert_eq (whole1.blocks, 5);             //  "user" 0x1f 0x1f 1,499 y 0x1f 0x1f 0x1e: 1,508 bytes
    cr_assert_eq (whole1.anchor_bytes, 1508);
    cr_assert_eq (whole2.blocks, 11);            //  and "assistant" ... "user" ... "q": 3,031 bytes
    cr_assert_eq (memcmp (chain1, chain2, 5 * sizeof chain1[0]), 0);
    //  The whole prompt goes past the first user message; the key stops there.
    cr_assert_neq (chain2[10], 0);
    cr_assert_eq (s_chat (turn1), s_chat (turn2));
    //  At most max_blocks.
    cr_assert_eq (ocf_prefix_chain (turn2, strlen (turn2), OCF_PREFIX_CHAT, 256, chain2, 3, &whole2, s_error, sizeof s_error), 0);
    cr_assert_eq (whole2.blocks, 3);
}

//  --------------------------------------------------------------------------
//  Blocks and escapes: the key hashes whole blocks in place where the body's text is plain
//  and copies the rest; whichever way, the same text must give the same chain.

static size_t
s_chain (const char *body, ocf_prefix_kind_t kind, size_t block_size, uint64_t *chain, size_t max_blocks,
         ocf_prefix_key_t *whole)
{
    cr_assert_eq (ocf_prefix_chain (body, strlen (body), kind, block_size, chain, max_blocks, whole, s_error,
                                    sizeof s_error), 0, "%s", s_error);
    return whole->blocks;
}

//  A prompt of 1,300 characters (ASCII, two- and four-byte UTF-8), written raw in one body
//  and, in the other, with every non-ASCII character and every 37th ASCII one as \u escapes
//  (surrogate pairs for the astral ones), so that escapes fall on and across block ends.
Test (proxyd_prefix, escaped_and_raw_text_give_the_same_chain)
{
    char raw[8192] = "", escaped[16384] = "";
    size_t raw_len = 0, escaped_len = 0;
    for (int i = 0; i < 1300; i++) {
        if (i % 11 == 5) {
            raw_len += (size_t) sprintf (raw + raw_len, "\xc3\xa9");
            escaped_len += (size_t) sprintf (escaped + escaped_len, "\\u00e9");
        }
        else if (i % 97 == 3) {
            raw_len += (size_t) sprintf (raw + raw_len, "\xf0\x9f\x98\x80");
            escaped_len += (size_t) sprintf (escaped + escaped_len, "\\ud83d\\ude00");
        }
        else {
            char c = (char) ('a' + i % 26);
            raw[raw_len++] = c;
            escaped_len += (size_t) (i % 37 == 0 ? sprintf (escaped + escaped_len, "\\u%04x", c)
                                                 : sprintf (escaped + escaped_len, "%c", c));
        }
    }
    raw[raw_len] = escaped[escaped_len] = '\0';
    char *body_raw, *body_escaped, *prompt_raw, *prompt_escaped;
    cr_assert (asprintf (&body_raw, "{\"messages\":[{\"role\":\"system\",\"content\":\"%s\"},{\"role\":\"user\",\"content\":\"%s\"}]}",
                         raw, raw) > 0);
    cr_assert (asprintf (&body_escaped, "{ \"messages\" : [ {\"content\": \"%s\", \"role\": \"system\"},\n"
                         "{\"role\": \"user\", \"content\": \"%s\"} ] }", escaped, raw) > 0);
    cr_assert (asprintf (&prompt_raw, "{\"prompt\": \"%s\"}", raw) > 0);
    cr_assert (asprintf (&prompt_escaped, "{\"prompt\": \"%s\"}", escaped) > 0);
    static const size_t block_sizes[] = { 1, 7, 16, 256, 4096 };
    for (size_t b = 0; b < sizeof block_sizes / sizeof block_sizes[0]; b++) {
        uint64_t chain_raw[64], chain_escaped[64];
        ocf_prefix_key_t whole_raw, whole_escaped;
        size_t blocks = s_chain (body_raw, OCF_PREFIX_CHAT, block_sizes[b], chain_raw, 64, &whole_raw);
        cr_assert_eq (s_chain (body_escaped, OCF_PREFIX_CHAT, block_sizes[b], chain_escaped, 64, &whole_escaped), blocks);
        cr_assert_eq (whole_raw.anchor_bytes, whole_escaped.anchor_bytes);
        cr_assert_eq (memcmp (chain_raw, chain_escaped, blocks * sizeof chain_raw[0]), 0, "block size %zu", block_sizes[b]);
        blocks = s_chain (prompt_raw, OCF_PREFIX_COMPLETION, block_sizes[b], chain_raw, 64, &whole_raw);
        cr_assert_eq (s_chain (prompt_escaped, OCF_PREFIX_COMPLETION, block_sizes[b], chain_escaped, 64, &whole_escaped), blocks);
        cr_assert_eq (memcmp (chain_raw, chain_escaped, blocks * sizeof chain_raw[0]), 0, "block size %zu", block_sizes[b]);
        for (size_t max_blocks = 1; max_blocks <= 64; max_blocks *= 4) {
            ocf_prefix_key_t a, b2;
            cr_assert_eq (ocf_prefix_key (body_raw, strlen (body_raw), OCF_PREFIX_CHAT, block_sizes[b], max_blocks, &a,
                                          s_error, sizeof s_error), 0);
            cr_assert_eq (ocf_prefix_key (body_escaped, strlen (body_escaped), OCF_PREFIX_CHAT, block_sizes[b], max_blocks,
                                          &b2, s_error, sizeof s_error), 0);
            cr_assert_eq (memcmp (&a, &b2, sizeof a), 0, "block size %zu, %zu blocks", block_sizes[b], max_blocks);
        }
    }
    free (body_raw);
    free (body_escaped);
    free (prompt_raw);
    free (prompt_escaped);
}

//  A completion's normalised text is its prompt: n bytes make n / 256 full blocks; a key that
//  ends on a block's end is that block's chain hash, any other adds the partial block.
Test (proxyd_prefix, block_boundaries)
{
    static const size_t sizes[] = { 1, 255, 256, 257, 511, 512, 513, 4095, 4096, 4097 };
    char text[4200], body[4300];
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (size_t j = 0; j < sizes[i]; j++)
            text[j] = (char) ('a' + (j * 7) % 26);
        text[sizes[i]] = '\0';
        snprintf (body, sizeof body, "{\"prompt\": \"%s\"}", text);
        ocf_prefix_key_t key = s_key_sized (OCF_PREFIX_COMPLETION, body, 64);
        cr_assert_eq (key.blocks, sizes[i] / 256, "%zu bytes", sizes[i]);
        cr_assert_eq (key.anchor_bytes, sizes[i]);
        uint64_t chain[64];
        ocf_prefix_key_t whole;
        cr_assert_eq (s_chain (body, OCF_PREFIX_COMPLETION, 256, chain, 64, &whole), key.blocks);
        if (sizes[i] % 256 == 0)
            cr_assert_eq (key.anchor, chain[key.blocks - 1], "%zu bytes", sizes[i]);
        else
            cr_assert (key.blocks == 0 || key.anchor != chain[key.blocks - 1], "%zu bytes", sizes[i]);
        //  Cut at 16 blocks: 4,096 bytes at most.
        key = s_key_sized (OCF_PREFIX_COMPLETION, body, 16);
        cr_assert_eq (key.anchor_bytes, sizes[i] < 4096 ? sizes[i] : 4096);
    }
}

//  Text that differs at one byte has the same blocks before the one holding it, and another
//  chain from there on: the chain carries the difference into every later block.
Test (proxyd_prefix, different_text_different_chains)
{
    char text[2000], body_a[2100], body_b[2100];
    for (size_t j = 0; j < sizeof text - 1; j++)
        text[j] = (char) ('a' + (j * 5) % 26);
    text[sizeof text - 1] = '\0';
    snprintf (body_a, sizeof body_a, "{\"prompt\": \"%s\"}", text);
    for (size_t at = 0; at < sizeof text - 1; at += 333) {
        text[at] = text[at] == 'z' ? 'y' : 'z';
        snprintf (body_b, sizeof body_b, "{\"prompt\": \"%s\"}", text);
        text[at] = body_a[12 + at];
        uint64_t chain_a[16], chain_b[16];
        ocf_prefix_key_t whole_a, whole_b;
        size_t blocks = s_chain (body_a, OCF_PREFIX_COMPLETION, 256, chain_a, 16, &whole_a);
        cr_assert_eq (s_chain (body_b, OCF_PREFIX_COMPLETION, 256, chain_b, 16, &whole_b), blocks);
        for (size_t i = 0; i < blocks; i++)
            cr_assert_eq (chain_a[i] == chain_b[i], i < at / 256, "byte %zu changed, block %zu", at, i);
        cr_assert_neq (s_prompt (body_a), s_prompt (body_b), "byte %zu changed", at);
    }
}

//  proxyd reads the model and the key in one validation: the key from that index is the key.
Test (proxyd_prefix, the_key_from_the_model_lookups_index)
{
    const char *bodies[] = {
        "{\"model\": \"m\", \"messages\": [" SYS ", {\"role\": \"user\", \"content\": \"caf\\u00e9\"}]}",
        "{\"tools\": [{\"type\": \"function\"}], \"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": [1]}]}",
        "{\"model\": \"m\", \"messages\": []}",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        ocf_json_index_t index = { 0 };
        char model[16];
        cr_assert_eq (ocf_json_find_key (bodies[i], strlen (bodies[i]), "model", model, sizeof model, &index, s_error,
                                         sizeof s_error), OCF_JSON_KEY_FOUND);
        ocf_json_span_t root = ocf_json_root (bodies[i], strlen (bodies[i]), &index);
        cr_assert_not_null (root.index);
        ocf_prefix_key_t shared, alone;
        cr_assert_eq (ocf_prefix_key_json (root, OCF_PREFIX_CHAT, 256, 16, &shared, s_error, sizeof s_error), 0);
        cr_assert_eq (ocf_prefix_key (bodies[i], strlen (bodies[i]), OCF_PREFIX_CHAT, 256, 16, &alone, s_error,
                                      sizeof s_error), 0);
        cr_assert_eq (memcmp (&shared, &alone, sizeof shared), 0, "%s", bodies[i]);
        ocf_json_index_clear (&index);
    }
}

//  Every host must compute the same key from the same body, whatever its processor: words
//  are read little-endian. The value below is the key on x86-64, and what a reference of the
//  normalisation and the hash written apart in Python gives; a host that computes another
//  routes conversations elsewhere than its peers. It changes only with the normalisation or
//  the block hash, and then every host of a fabric must change together.
Test (proxyd_prefix, the_same_key_on_every_machine)
{
    char text[700], body[800];
    for (size_t j = 0; j < sizeof text - 1; j++)
        text[j] = (char) ('a' + (j * 3) % 26);
    text[sizeof text - 1] = '\0';
    snprintf (body, sizeof body, "{\"messages\": [{\"role\": \"system\", \"content\": \"%s\"}, {\"role\": \"user\", \"content\": \"hi\"}]}",
              text);
    ocf_prefix_key_t key = s_key_sized (OCF_PREFIX_CHAT, body, 16);
    //  "system", 4 separators, the content, the end; "user", 4 separators, "hi", the end
    cr_assert_eq (key.anchor_bytes, 6 + 4 + 699 + 1 + 4 + 4 + 2 + 1);
    cr_assert_eq (key.anchor, 0xebaf5b54dd2c1b65ULL, "%016llx", (unsigned long long) key.anchor);
}

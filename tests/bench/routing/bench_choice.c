/*  What the prefix policy costs per request: ocf_prefix_key on request bodies of the routing
    benchmark's shapes, then ocf_choose among the providers, timed over many repetitions.
    Prints one line per body: its size and the nanoseconds per key and per choice, in CPU
    time of the thread (wall time on a shared machine counts the waits for a CPU). Half the
    providers are near (1 ms), half far (41 ms), so the choice also weighs distance; the last
    line is a choice without a key (p2c among the near ones). Then what proxyd runs for the
    body under each policy: every policy reads the model (ocf_json_find_key, one validation);
    prefix records the index in that validation and derives the key from it, and "added" is
    the difference, what the key costs a request in proxyd.
    Usage: bench_choice [providers]  (default 3)  */
#include "ocf_choose.h"
#include "ocf_json.h"
#include "ocf_prefix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *
s_text (size_t size, char seed)
{
    char *text = malloc (size + 1);
    for (size_t i = 0; i < size; i++)
        text[i] = i % 7 == 6 ? ' ' : (char) ('a' + (i * 31 + (size_t) seed) % 26);
    text[size] = '\0';
    return text;
}

static void
s_measure (const char *name, const char *body, size_t providers)
{
    size_t len = strlen (body);
    ocf_candidate_t candidates[64] = { { 0 } };
    char id[16];
    for (size_t i = 0; i < providers; i++) {
        snprintf (id, sizeof id, "node-%zu", i);
        candidates[i].id_hash = ocf_choose_id_hash (id);
        candidates[i].load = (int64_t) (i % 3);
        candidates[i].rtt_ms = i % 2 ? 41 : 1;
    }
    ocf_chooser_t chooser;
    ocf_chooser_init (&chooser, OCF_POLICY_PREFIX, 1);
    ocf_prefix_key_t key;
    char error[256];
    int rounds = 20000;
    uint64_t sink = 0;
    double start = s_now ();
    for (int i = 0; i < rounds; i++) {
        if (ocf_prefix_key (body, len, OCF_PREFIX_CHAT, 256, 16, &key, error, sizeof error) != 0) {
            fprintf (stderr, "bench_choice: %s\n", error);
            exit (1);
        }
        sink += key.anchor;
    }
    double keyed = s_now ();
    for (int i = 0; i < rounds; i++)
        sink += (uint64_t) ocf_choose (&chooser, candidates, providers, key.anchor + (uint64_t) i);
    double chosen = s_now ();
    for (int i = 0; i < rounds; i++)
        sink += (uint64_t) ocf_choose (&chooser, candidates, providers, 0);
    double unkeyed = s_now ();
    char model[256];
    for (int i = 0; i < rounds; i++)
        sink += (uint64_t) ocf_json_find_key (body, len, "model", model, sizeof model, NULL, error, sizeof error);
    double read = s_now ();
    for (int i = 0; i < rounds; i++) {
        ocf_json_index_t index = { 0 };
        if (ocf_json_find_key (body, len, "model", model, sizeof model, &index, error, sizeof error) != OCF_JSON_KEY_FOUND
        ||  ocf_prefix_key_json (ocf_json_root (body, len, &index), OCF_PREFIX_CHAT, 256, 16, &key, error, sizeof error) != 0) {
            fprintf (stderr, "bench_choice: %s\n", error);
            exit (1);
        }
        sink += key.anchor;
        ocf_json_index_clear (&index);
    }
    double shared = s_now ();
    printf ("%s: %zu bytes, key %.0f ns, choice among %zu %.0f ns, without a key %.0f ns; model %.0f ns, model and key "
            "%.0f ns: added %.0f ns (%llu)\n", name, len, (keyed - start) / rounds * 1e9, providers,
            (chosen - keyed) / rounds * 1e9, (unkeyed - chosen) / rounds * 1e9, (read - unkeyed) / rounds * 1e9,
            (shared - read) / rounds * 1e9, ((shared - read) - (read - unkeyed)) / rounds * 1e9,
            (unsigned long long) (sink & 1));
}

int
main (int argc, char **argv)
{
    size_t providers = argc > 1 ? (size_t) atoi (argv[1]) : 3;
    if (providers < 1 || providers > 64)
        providers = 3;
    char *system = s_text (6000, 'a'), *question = s_text (200, 'q'), *answer = s_text (800, 'r');
    size_t size = 64 * 1024;
    char *body = malloc (size);
    snprintf (body, size, "{\"model\":\"bench\",\"stream\":true,\"messages\":[{\"role\":\"system\",\"content\":\"%s\"},"
              "{\"role\":\"user\",\"content\":\"%s\"}]}", system, question);
    s_measure ("shared system prompt", body, providers);
    int len = snprintf (body, size, "{\"model\":\"bench\",\"stream\":true,\"messages\":[{\"role\":\"system\",\"content\":\"short\"}");
    for (int turn = 0; turn < 6; turn++)
        len += snprintf (body + len, size - (size_t) len, ",{\"role\":\"user\",\"content\":\"%s\"},{\"role\":\"assistant\",\"content\":\"%s\"}",
                         question, answer);
    snprintf (body + len, size - (size_t) len, ",{\"role\":\"user\",\"content\":\"%s\"}]}", question);
    s_measure ("sixth turn of a conversation", body, providers);
    snprintf (body, size, "{\"model\":\"bench\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    s_measure ("short prompt", body, providers);
    free (system);
    free (question);
    free (answer);
    free (body);
    return 0;
}

/*  bench_gossip_sim: failure detection across partitions, in the deterministic simulator
    (tests/gossipd/sim.h), in simulated time. For each size and split it measures, per seed:
    a lone crash (kill -9 -> every node sees it dead), the partition (cut -> each side sees
    every node of the other dead; false suspicions on one's own side, counted by the
    refutations they caused), what the split cost the busiest node (probes sent, distinct peers
    talked to, members watched at once), the heal (-> every node sees every other alive,
    identical tables), and a crash right after the heal. With --scale instead, at N = 64, 256, 1,000: the distinct peers each
    node talks to in a minute with a record change a second (the connections it would hold),
    a record change's latency to each node (p50, p99), and convergence after a join and
    after a crash. tests/bench/gossip/sim.sh runs it on this tree and on a baseline.
      bench_gossip_sim [--scale] [--seeds 3] [--loss 0] [--nodes N: only the cases of this size]  */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEADLINE_MS 60000

static bool
s_sees_dead (sim_t *sim, void *arg)
{
    size_t who = *(size_t *) arg;
    for (size_t i = 0; i < sim_size (sim); i++)
        if (sim_up (sim, i) && i != who && sim_entry (sim, i, who).status != OCF_STATUS_DEAD)
            return false;
    return true;
}

//  Whether every node of one side sees every node of the other dead.
static bool
s_side_sees_other_dead (sim_t *sim, const sim_split_t *split, bool cut_side)
{
    for (size_t i = 0; i < sim_size (sim); i++)
        for (size_t j = 0; j < sim_size (sim); j++)
            if (sim_cut_off (sim, split, i) == cut_side && sim_cut_off (sim, split, j) != cut_side
            &&  sim_entry (sim, i, j).status != OCF_STATUS_DEAD)
                return false;
    return true;
}

static uint64_t
s_refutations (sim_t *sim, size_t nodes)
{
    uint64_t count = 0;
    for (size_t i = 0; i < nodes; i++)
        if (sim_up (sim, i))
            count += ocf_gossip_stats (sim_node (sim, i)->core)->refutations;
    return count;
}

static int64_t
s_crash (sim_t *sim, size_t who)
{
    sim_crash (sim, who);
    int64_t start = sim_now (sim);
    if (!sim_run_until (sim, start + DEADLINE_MS, 5, s_sees_dead, &who))
        return -1;
    return sim_now (sim) - start;
}

typedef struct {
    int64_t lone, side_a, side_b, heal, after;
    uint64_t false_positives;
    //  What the split cost a node, the most of any: probes sent, distinct peers it talked
    //  to (its connections, if none closed) and members watched at once (the sweep's reach).
    int64_t probes, peers, watched;
} result_t;

static void
s_count_watched (void *arg, const char *id, double phi, size_t samples, bool suspected)
{
    (void) id, (void) phi, (void) samples, (void) suspected;
    (*(int64_t *) arg)++;
}

//  Raises each node's figure to its current count of watched members.
static void
s_watched_high_water (sim_t *sim, size_t nodes, int64_t *most)
{
    for (size_t i = 0; i < nodes; i++) {
        int64_t count = 0;
        if (sim_up (sim, i))
            ocf_gossip_foreach_watched (sim_node (sim, i)->core, s_count_watched, &count);
        if (count > most[i])
            most[i] = count;
    }
}

static result_t
s_scenario (size_t nodes, sim_split_t split, double loss, uint64_t seed)
{
    result_t result = { 0 };
    sim_options_t options;
    sim_options_defaults (&options);
    options.nodes = nodes;
    options.loss = loss;
    options.seed = seed;
    options.track_peers = true;
    sim_t *sim = sim_new (&options);
    sim_run (sim, 5000);
    //  A lone crash first, the reference; the node comes back with a new generation.
    size_t lone = nodes - 1;
    result.lone = s_crash (sim, lone);
    sim_restart (sim, lone);
    sim_run_until (sim, sim_now (sim) + DEADLINE_MS, 10, sim_all_alive_and_same, NULL);
    sim_run (sim, sim_now (sim) + 10000);
    uint64_t refutations = s_refutations (sim, nodes);
    uint64_t *probes = calloc (nodes, sizeof *probes);
    int64_t *watched = calloc (nodes, sizeof *watched);
    for (size_t i = 0; i < nodes; i++)
        probes[i] = ocf_gossip_stats (sim_node (sim, i)->core)->probes;
    sim_peers_reset (sim);
    sim_set_split (sim, &split, true);
    int64_t start = sim_now (sim);
    result.side_a = result.side_b = -1;
    while (sim_now (sim) < start + DEADLINE_MS && (result.side_a < 0 || result.side_b < 0)) {
        sim_run (sim, sim_now (sim) + 10);
        s_watched_high_water (sim, nodes, watched);
        if (result.side_a < 0 && s_side_sees_other_dead (sim, &split, true))
            result.side_a = sim_now (sim) - start;
        if (result.side_b < 0 && s_side_sees_other_dead (sim, &split, false))
            result.side_b = sim_now (sim) - start;
    }
    //  A false suspicion on one's own side is heard by the accused, which refutes it: the
    //  refutations made while split count them (the far side's verdicts are not heard).
    //  One still standing at the end counts too.
    result.false_positives = s_refutations (sim, nodes) - refutations;
    for (size_t i = 0; i < nodes; i++)
        for (size_t j = 0; j < nodes; j++)
            if (sim_cut_off (sim, &split, i) == sim_cut_off (sim, &split, j) && sim_entry (sim, i, j).status != OCF_STATUS_ALIVE)
                result.false_positives++;
    for (size_t i = 0; i < nodes; i++) {
        int64_t sent = (int64_t) (ocf_gossip_stats (sim_node (sim, i)->core)->probes - probes[i]);
        int64_t peers = (int64_t) sim_peers (sim, i);
        result.probes = sent > result.probes ? sent : result.probes;
        result.peers = peers > result.peers ? peers : result.peers;
        result.watched = watched[i] > result.watched ? watched[i] : result.watched;
    }
    free (probes);
    free (watched);
    sim_set_split (sim, &split, false);
    start = sim_now (sim);
    result.heal = sim_run_until (sim, start + DEADLINE_MS, 10, sim_all_alive_and_same, NULL) ? sim_now (sim) - start : -1;
    //  Right after the heal: a crash on either side.
    result.after = s_crash (sim, split.cut / 2);
    sim_destroy (&sim);
    return result;
}

static int
s_compare_size (const void *a, const void *b)
{
    size_t x = *(const size_t *) a, y = *(const size_t *) b;
    return x < y ? -1 : x > y;
}

static bool
s_joined (sim_t *sim, void *arg)
{
    size_t joiner = *(size_t *) arg;
    for (size_t i = 0; i < sim_size (sim); i++)
        if (sim_up (sim, i) && (sim_entry (sim, i, joiner).status != OCF_STATUS_ALIVE
                            ||  sim_entry (sim, joiner, i).status != OCF_STATUS_ALIVE))
            return false;
    return true;
}

static void
s_scale (size_t nodes, double loss, uint64_t seed)
{
    sim_options_t options;
    sim_options_defaults (&options);
    options.nodes = nodes;
    options.spare = 1;
    options.loss = loss;
    options.seed = seed;
    options.track_peers = true;
    sim_t *sim = sim_new (&options);
    sim_run (sim, 5000);
    //  A minute with a record change a second, by a different node each time.
    sim_peers_reset (sim);
    int64_t *latency = malloc (60 * nodes * sizeof *latency);
    size_t samples = 0;
    for (int change = 0; change < 60; change++) {
        size_t who = ((size_t) change * 7919 + 11) % nodes;
        sim_touch (sim, who);
        uint64_t version = sim_entry (sim, who, who).version;
        int64_t start = sim_now (sim);
        bool *seen = calloc (nodes, sizeof *seen);
        size_t missing = nodes - 1;
        while (missing && sim_now (sim) < start + 1000) {
            sim_run (sim, sim_now (sim) + 1);
            for (size_t i = 0; i < nodes; i++)
                if (i != who && !seen[i] && sim_entry (sim, i, who).version >= version) {
                    seen[i] = true;
                    missing--;
                    latency[samples++] = sim_now (sim) - start;
                }
        }
        for (size_t i = 0; i < missing; i++)
            latency[samples++] = 1000;           //  not within the second: counted as a second
        free (seen);
        sim_run (sim, start + 1000);
    }
    size_t *peers = malloc (nodes * sizeof *peers);
    for (size_t i = 0; i < nodes; i++)
        peers[i] = sim_peers (sim, i);
    qsort (peers, nodes, sizeof *peers, s_compare_size);
    sim_sort_int64 (latency, samples);
    //  A join through node 0, then a crash.
    int64_t start = sim_now (sim);
    sim_join (sim, nodes, 0);
    size_t joiner = nodes;
    int64_t join = sim_run_until (sim, start + DEADLINE_MS, 5, s_joined, &joiner) ? sim_now (sim) - start : -1;
    sim_run (sim, sim_now (sim) + 5000);
    int64_t crash = s_crash (sim, nodes / 3);
    printf ("| %zu | %zu | %zu | %lld | %lld | %lld | %lld |\n", nodes, peers[nodes / 2], peers[nodes - 1],
            (long long) latency[samples / 2], (long long) latency[samples * 99 / 100], (long long) join, (long long) crash);
    fflush (stdout);
    free (peers);
    free (latency);
    sim_destroy (&sim);
}

//  "median (min-max)" in seconds; -1 (not reached within the deadline) sorts first and says so.
static void
s_print (int64_t *values, int count)
{
    sim_sort_int64 (values, (size_t) count);
    if (values[0] < 0) {
        printf (" | not within %d s", DEADLINE_MS / 1000);
        return;
    }
    printf (" | %.1f (%.1f–%.1f)", values[count / 2] / 1000.0, values[0] / 1000.0, values[count - 1] / 1000.0);
}

//  "median (min-max)" of counts.
static void
s_print_count (int64_t *values, int count)
{
    sim_sort_int64 (values, (size_t) count);
    printf (" | %lld (%lld–%lld)", (long long) values[count / 2], (long long) values[0], (long long) values[count - 1]);
}

int
main (int argc, char *argv[])
{
    int seeds = 3;
    double loss = 0;
    size_t only = 0;
    bool scale = false;
    if (argc > 1 && strcmp (argv[1], "--scale") == 0) {
        scale = true;
        argv++, argc--;
    }
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp (argv[i], "--seeds") == 0)
            seeds = atoi (argv[i + 1]);
        else
        if (strcmp (argv[i], "--nodes") == 0)
            only = (size_t) atol (argv[i + 1]);
        else
        if (strcmp (argv[i], "--loss") == 0)
            loss = atof (argv[i + 1]);
        else {
            fprintf (stderr, "usage: bench_gossip_sim [--scale] [--seeds N] [--loss FRACTION] [--nodes N]\n");
            return 2;
        }
    }
    if (seeds < 1 || seeds > 32) {
        fprintf (stderr, "bench_gossip_sim: --seeds must be 1..32\n");
        return 2;
    }
    if (scale) {
        printf ("| N | peers per node in a minute, median | max | record change → each node p50 (ms) | p99 (ms) "
                "| join → all see it, it sees all (ms) | crash → all dead (ms) |\n|---|---|---|---|---|---|---|\n");
        static const size_t sizes[] = { 64, 256, 1000 };
        for (size_t i = 0; i < 3; i++)
            if (!only || sizes[i] == only)
                s_scale (sizes[i], loss, 500 + sizes[i]);
        return 0;
    }
    //  Arcs (nodes [0, cut), as the sim's indexes follow the ring) and scattered sets, as
    //  real ids put a site's hosts over the ring.
    static const struct { size_t nodes; sim_split_t split; const char *name; } cases[] = {
        { 5, { 2, false }, "2 + 3" }, { 64, { 32, false }, "half / half, arcs" },
        { 64, { 32, true }, "half / half, scattered" }, { 64, { 6, false }, "10 % cut off, an arc" },
        { 64, { 6, true }, "10 % cut off, scattered" }, { 256, { 128, false }, "half / half, arcs" },
        { 256, { 128, true }, "half / half, scattered" }, { 256, { 26, false }, "10 % cut off, an arc" },
        { 256, { 26, true }, "10 % cut off, scattered" }
    };
    printf ("| N | split | lone crash → all dead (s) | cut side sees rest dead (s) | rest sees cut side dead (s) "
            "| runs with a same-side false suspicion | healed → all alive, same tables (s) | crash after heal → all dead (s) "
            "| split's cost, the most of any node: probes sent | peers talked to | members watched at once |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        if (only && cases[c].nodes != only)
            continue;
        int64_t lone[32], side_a[32], side_b[32], heal[32], after[32], probes[32], peers[32], watched[32];
        size_t false_positives = 0;
        for (int s = 0; s < seeds; s++) {
            result_t result = s_scenario (cases[c].nodes, cases[c].split, loss, 1000 + (uint64_t) s * 77 + cases[c].nodes);
            lone[s] = result.lone, side_a[s] = result.side_a, side_b[s] = result.side_b;
            heal[s] = result.heal, after[s] = result.after;
            probes[s] = result.probes, peers[s] = result.peers, watched[s] = result.watched;
            false_positives += result.false_positives ? 1 : 0;
        }
        printf ("| %zu | %s", cases[c].nodes, cases[c].name);
        s_print (lone, seeds);
        s_print (side_a, seeds);
        s_print (side_b, seeds);
        printf (" | %zu of %d runs", false_positives, seeds);
        s_print (heal, seeds);
        s_print (after, seeds);
        s_print_count (probes, seeds);
        s_print_count (peers, seeds);
        s_print_count (watched, seeds);
        printf (" |\n");
        fflush (stdout);
    }
    return 0;
}

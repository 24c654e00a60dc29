/*  bench_tabled: how fast ocf-tabled persists and answers, measured on the real daemon.
    1. merged rows per second, verified and persisted (10,000-row bursts of ~1 KB rows, each
       signed by its own node's key, pipelined: one row per MERGE, and 100 rows per MERGE as
       gossipd sends them; new rows, then updates of rows already there; each burst REPS
       times: median and range);
    2. a joining host's snapshot: 10,000 signed rows in pages of 500 (SNAPSHOT's page) into
       a fresh ocf-tabled, from the first page sent to the last one acknowledged (verified
       and committed);
    3. API round trip, one request at a time: GET (read) and SERVICE.LOAD (a durable write);
    4. restart with 10,000 rows: spawn to READY=1;
    5. RSS with 10,000 rows loaded;
    and first the machine's verification ceiling, the anchor for 1: Ed25519 verifications per
    second of a row-sized message with libsodium (crypto_sign_verify_detached, what tabled
    uses) on 1 thread and on one thread per core, and with OpenSSL (EVP_DigestVerify) on 1;
    then merged rows per second are given as a fraction of the verification ceiling (cores /
    libsodium's CPU time per verification), with tabled's CPU time per merged row.
    Each merge figure comes with CPU times per merged row: tabled's (all its threads), of which
    signature verification (its STATS counter verify_cpu_us) and the rest, and this client's.
    BASELINE_TABLED=path/to/ocf-tabled (another build's, e.g. main's) runs 1 on that tabled too,
    in the same run: the two take turns burst by burst (order alternating), on the same rows.
    Run: tests/bench/tabled/run.sh (builds first; MERGES_ONLY=1: the anchors and 1 only). Not a
    test: it prints figures.  */
#include "ocf_msg.h"
#include "ocf_record.h"
#include "ocf_test.h"

#include <czmq.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define ROWS 10000
#define REPS 5
#define SNAPSHOT_PAGE 500

static int
s_compare_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

static void
s_sign (json_t *row, ocf_identity_t *identity)
{
    char error[256];
    if (ocf_record_sign_row_json (row, identity, error, sizeof error) != 0) {
        fprintf (stderr, "cannot sign a row: %s\n", error);
        exit (1);
    }
}

//  --------------------------------------------------------------------------
//  The verification ceiling

#define ANCHOR_MESSAGE 1200      //  what a row's signature covers: domain, id, versions, ~1.1 KB record
#define ANCHOR_KEYS 16
#define ANCHOR_MS 1000

typedef enum { SODIUM, OPENSSL, OPENSSL_NEW_KEY } anchor_kind_t;

typedef struct {
    anchor_kind_t kind;
    double rate;                 //  out: verifications per second (wall clock)
    double cpu_us;               //  out: CPU time of one verification (this thread's)
} anchor_t;

static uint8_t s_anchor_message[ANCHOR_KEYS][ANCHOR_MESSAGE];
static uint8_t s_anchor_public[ANCHOR_KEYS][crypto_sign_PUBLICKEYBYTES];
static uint8_t s_anchor_sig[ANCHOR_KEYS][crypto_sign_BYTES];

static int64_t
s_thread_cpu_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *
s_anchor_thread (void *arg)
{
    anchor_t *anchor = arg;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    EVP_PKEY *keys[ANCHOR_KEYS];
    for (int i = 0; i < ANCHOR_KEYS; i++)
        keys[i] = EVP_PKEY_new_raw_public_key (EVP_PKEY_ED25519, NULL, s_anchor_public[i], crypto_sign_PUBLICKEYBYTES);
    int64_t start = ocf_test_now_us (), now = start, cpu_start = s_thread_cpu_us ();
    long count = 0;
    while (now - start < ANCHOR_MS * 1000) {
        for (int i = 0; i < ANCHOR_KEYS; i++, count++) {
            bool good;
            if (anchor->kind != SODIUM) {
                //  OPENSSL_NEW_KEY: the key made from its 32 bytes each time, as a verifier that
                //  holds only the node id would (tabled decodes the id each time too).
                EVP_PKEY *key = anchor->kind == OPENSSL ? keys[i]
                              : EVP_PKEY_new_raw_public_key (EVP_PKEY_ED25519, NULL, s_anchor_public[i],
                                                             crypto_sign_PUBLICKEYBYTES);
                good = EVP_DigestVerifyInit (ctx, NULL, NULL, NULL, key) == 1
                    && EVP_DigestVerify (ctx, s_anchor_sig[i], crypto_sign_BYTES, s_anchor_message[i], ANCHOR_MESSAGE) == 1;
                if (anchor->kind == OPENSSL_NEW_KEY)
                    EVP_PKEY_free (key);
                EVP_MD_CTX_reset (ctx);
            }
            else
                good = crypto_sign_verify_detached (s_anchor_sig[i], s_anchor_message[i], ANCHOR_MESSAGE,
                                                    s_anchor_public[i]) == 0;
            if (!good) {
                fprintf (stderr, "anchor: a good signature did not verify\n");
                exit (1);
            }
        }
        now = ocf_test_now_us ();
    }
    anchor->cpu_us = (double) (s_thread_cpu_us () - cpu_start) / count;
    for (int i = 0; i < ANCHOR_KEYS; i++)
        EVP_PKEY_free (keys[i]);
    EVP_MD_CTX_free (ctx);
    anchor->rate = count / ((now - start) / 1e6);
    return NULL;
}

static double
s_median3 (double *v)
{
    double lo = fmin (v[0], fmin (v[1], v[2])), hi = fmax (v[0], fmax (v[1], v[2]));
    return v[0] + v[1] + v[2] - lo - hi;
}

//  Verifications per second on `threads` threads at once (the sum), and the CPU time of one;
//  medians of 3 runs.
static void
s_anchor (anchor_kind_t kind, int threads, double *rate, double *cpu_us)
{
    double rates[3], cpus[3];
    for (int run = 0; run < 3; run++) {
        pthread_t ids[64];
        anchor_t anchors[64];
        for (int t = 0; t < threads; t++) {
            anchors[t] = (anchor_t) { .kind = kind };
            pthread_create (&ids[t], NULL, s_anchor_thread, &anchors[t]);
        }
        rates[run] = cpus[run] = 0;
        for (int t = 0; t < threads; t++) {
            pthread_join (ids[t], NULL);
            rates[run] += anchors[t].rate;
            cpus[run] += anchors[t].cpu_us / threads;
        }
    }
    *rate = s_median3 (rates);
    *cpu_us = s_median3 (cpus);
}

static double s_ceiling;         //  libsodium verifications per second on all cores, wall clock
static double s_verify_cpu_us;   //  CPU time of one libsodium verification: the ceiling is
                                 //  s_cores / s_verify_cpu_us (wall-clock rates move with the
                                 //  machine's other load, CPU time much less)
static int s_cores;

static void
s_anchors (void)
{
    if (sodium_init () < 0)
        exit (1);
    for (int i = 0; i < ANCHOR_KEYS; i++) {
        uint8_t secret[crypto_sign_SECRETKEYBYTES];
        crypto_sign_keypair (s_anchor_public[i], secret);
        randombytes_buf (s_anchor_message[i], ANCHOR_MESSAGE);
        crypto_sign_detached (s_anchor_sig[i], NULL, s_anchor_message[i], ANCHOR_MESSAGE, secret);
    }
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    s_cores = cores < 1 ? 1 : cores > 64 ? 64 : (int) cores;
    double sodium_one, sodium_cpu, all_cpu, openssl_one, openssl_cpu, new_key_one, new_key_cpu;
    s_anchor (SODIUM, 1, &sodium_one, &sodium_cpu);
    s_anchor (SODIUM, s_cores, &s_ceiling, &all_cpu);
    s_anchor (OPENSSL, 1, &openssl_one, &openssl_cpu);
    s_anchor (OPENSSL_NEW_KEY, 1, &new_key_one, &new_key_cpu);
    s_verify_cpu_us = sodium_cpu;
    printf ("anchor: Ed25519 verify of %d bytes, libsodium %s: %.0f/s on 1 thread, %.0f/s on %d threads (wall clock);"
            " %.1f us of CPU each (%.1f on %d threads): %.0f/s on %d idle cores\n",
            ANCHOR_MESSAGE, sodium_version_string (), sodium_one, s_ceiling, s_cores, sodium_cpu, all_cpu, s_cores,
            s_cores * 1e6 / sodium_cpu, s_cores);
    printf ("anchor: Ed25519 verify of %d bytes, %s (EVP_DigestVerify, 1 thread): %.0f/s, %.1f us of CPU each;"
            " with the key made from its 32 bytes each time %.0f/s, %.1f us\n",
            ANCHOR_MESSAGE, OpenSSL_version (OPENSSL_VERSION), openssl_one, openssl_cpu, new_key_one, new_key_cpu);
}

//  A realistic ~1 KB record: 3 GPUs, two services, labels; signed by its node.
static json_t *
s_row (int generation, ocf_identity_t *identity)
{
    json_t *gpus = json_array ();
    for (int i = 0; i < 3; i++)
        json_array_append_new (gpus, json_pack ("{s:i, s:s, s:s, s:i, s:i, s:i, s:i}", "index", i, "name", "NVIDIA H100 80GB HBM3",
                                                "uuid", "GPU-5d2c3f1e-8a4b-11ee-b962-0242ac120002", "memory_total_mb", 81559,
                                                "memory_used_mb", 1024, "utilization", 3, "temperature", 31));
    json_t *row = json_pack ("{s:s, s:s, s:i, s:i, s:s, s:I, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:i, s:i, s:o},"
                             " s:[{s:s, s:[s], s:s, s:s, s:i, s:{s:i, s:i}}, {s:s, s:[s, s], s:i}]}",
                             "id", ocf_identity_id (identity), "name", "gpu-host-0001.cluster.example.org", "generation", generation,
                             "version", 1, "software", "ocf 0.1.0", "started_at", (json_int_t) 1795323048123,
                             "addr", "proxy", "http://10.0.12.34:8092", "gossip", "tcp://10.0.12.34:7946",
                             "labels", "rack", "b4", "slurm_job_id", "123456",
                             "hardware", "cpus", 64, "memory_mb", 515000, "gpus", gpus,
                             "services", "name", "llm", "identity_group", "model=meta-llama/Llama-3.1-70B-Instruct",
                             "status", "ready", "host", "127.0.0.1", "port", 8000, "load", "inflight", 2, "max_inflight", 64,
                             "name", "embed", "identity_group", "model=bge-large", "model=e5-large", "port", 8001);
    s_sign (row, identity);
    return row;
}

//  A tabled whose merges are measured.
typedef struct {
    const char *label;
    ocf_test_node_t node;
    pid_t pid;
    char endpoint[400];
} tabled_t;

//  What one burst of merges measured: rows per second, acknowledged (so verified and
//  persisted); CPU time per row of tabled, of its signature verifications (NAN when its STATS
//  do not say: an older build) and of this client (building no message: they are made first).
typedef struct {
    double rate, tabled_us, verify_us, client_us;
    double load;                 //  the machine's 1-minute load average after it
} burst_t;

//  utime + stime of a process, in microseconds.
static int64_t
s_process_cpu_us (pid_t pid)
{
    char path[64], text[1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *file = fopen (path, "r");
    size_t len = file ? fread (text, 1, sizeof text - 1, file) : 0;
    if (file)
        fclose (file);
    text[len] = 0;
    char *at = strrchr (text, ')');
    unsigned long long utime = 0, stime = 0;
    if (at)
        sscanf (at + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime);
    return (int64_t) ((utime + stime) * 1000000ULL / (unsigned long long) sysconf (_SC_CLK_TCK));
}

static int64_t
s_self_cpu_us (void)
{
    struct rusage usage;
    getrusage (RUSAGE_SELF, &usage);
    return (int64_t) (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000000 + usage.ru_utime.tv_usec
         + usage.ru_stime.tv_usec;
}

//  tabled's verify_cpu_us counter, or -1 when it has none.
static int64_t
s_tabled_verify_cpu_us (tabled_t *tabled)
{
    bool ok;
    json_t *stats = ocf_test_call (&tabled->node, "tabled", "STATS", NULL, &ok);
    json_t *value = json_object_get (json_object_get (stats, "counters"), "verify_cpu_us");
    int64_t cpu_us = ok && json_is_integer (value) ? (int64_t) json_integer_value (value) : -1;
    json_decref (stats);
    return cpu_us;
}

//  program: "ocf-tabled" (this build's) or a path to another build's.
static void
s_tabled_start (tabled_t *tabled, const char *label, const char *program)
{
    tabled->label = label;
    ocf_test_node_init (&tabled->node, label);
    tabled->pid = ocf_test_start (&tabled->node, program, NULL, 10000);
    if (tabled->pid < 0) {
        fprintf (stderr, "%s did not start\n", program);
        exit (1);
    }
    snprintf (tabled->endpoint, sizeof tabled->endpoint, "ipc://%s/tabled.api", tabled->node.run_dir);
}

//  Stops a tabled and cleans its node up: only once no other daemon of this process is
//  needed (ocf_test_node_cleanup kills them all).
static void
s_tabled_stop (tabled_t *tabled)
{
    ocf_test_stop (tabled->pid, SIGTERM, 10000);
    ocf_test_node_cleanup (&tabled->node);
}

static void
s_tableds_cleanup (tabled_t *tableds, int count)
{
    for (int t = 0; t < count; t++)
        ocf_test_node_cleanup (&tableds[t].node);
}

//  Sends `requests` MERGEs of `per_request` rows each, pipelined (at most 256 in flight).
static burst_t
s_merge_burst (tabled_t *tabled, json_t **rows, int requests, int per_request)
{
    zsock_t *client = zsock_new_dealer (tabled->endpoint);
    zmsg_t **messages = calloc ((size_t) requests, sizeof *messages);
    for (int r = 0; r < requests; r++) {
        json_t *batch = json_array ();
        for (int i = 0; i < per_request; i++)
            json_array_append (batch, rows[r * per_request + i]);
        messages[r] = zmsg_new ();
        ocf_msg_append (messages[r], "MERGE", json_pack ("{s:o}", "rows", batch));
    }
    int64_t verify_start = s_tabled_verify_cpu_us (tabled);
    int64_t start = ocf_test_now_us (), cpu_start = s_process_cpu_us (tabled->pid), client_start = s_self_cpu_us ();
    int sent = 0, acked = 0;
    while (acked < requests) {
        while (sent < requests && sent - acked < 256)
            zmsg_send (&messages[sent++], client);
        zmsg_t *reply = zmsg_recv (client);
        zframe_t *body = reply ? zmsg_last (reply) : NULL;
        //  The reply is {"applied":N,"stale":N,"refused":N,"ignored":N}: read in place.
        if (!reply || !zframe_streq (zmsg_first (reply), "OK")
        ||  !memmem (zframe_data (body), zframe_size (body), "\"refused\":0,", 12)) {
            char *text = body ? zframe_strdup (body) : NULL;
            fprintf (stderr, "MERGE failed or refused rows: %s\n", text ? text : "no reply");
            exit (1);
        }
        zmsg_destroy (&reply);
        acked++;
    }
    int64_t end = ocf_test_now_us (), client_end = s_self_cpu_us ();
    int64_t cpu_end = s_process_cpu_us (tabled->pid), verify_end = s_tabled_verify_cpu_us (tabled);
    double merged = requests * per_request;
    burst_t burst = { merged / ((end - start) / 1e6), (cpu_end - cpu_start) / merged,
                      verify_start < 0 ? NAN : (verify_end - verify_start) / merged, (client_end - client_start) / merged,
                      NAN };
    FILE *loadavg = fopen ("/proc/loadavg", "r");
    if (!loadavg || fscanf (loadavg, "%lf", &burst.load) != 1)
        burst.load = NAN;
    if (loadavg)
        fclose (loadavg);
    free (messages);
    zsock_destroy (&client);
    return burst;
}

//  Merges by `tabled_count` tableds of the same rows, REPS bursts each, the tableds taking
//  turns (the order alternating, so that neither always follows the other). prepare (when
//  given) makes burst r's rows first, and the time it takes counts nowhere.
static void
s_merge_bursts (tabled_t *tableds, int tabled_count, json_t **rows, int per_request, bool fresh_rows,
                void (*prepare) (int r), burst_t bursts[][REPS])
{
    for (int r = 0; r < REPS; r++) {
        if (prepare)
            prepare (r);
        for (int turn = 0; turn < tabled_count; turn++) {
            int t = r % 2 ? tabled_count - 1 - turn : turn;
            bursts[t][r] = s_merge_burst (&tableds[t], rows + (fresh_rows ? r * ROWS : 0), ROWS / per_request, per_request);
        }
    }
}

typedef struct {
    int64_t p50, p90, p99, p999, max;
} latency_t;

static void
s_round_trips (const char *endpoint, const char *verb, json_t *body, int count, latency_t *latency)
{
    zsock_t *client = zsock_new_dealer (endpoint);
    int64_t *samples = malloc ((size_t) count * sizeof *samples);
    for (int i = 0; i < count; i++) {
        json_t *copy = json_deep_copy (body);
        if (json_is_true (json_object_get (copy, "vary")))      //  a different value each time: a real write
            json_object_set_new (json_object_get (copy, "load"), "inflight", json_integer (i));
        json_object_del (copy, "vary");
        int64_t start = ocf_test_now_us ();
        ocf_msg_send (client, verb, copy);
        zmsg_t *reply = zmsg_recv (client);
        samples[i] = ocf_test_now_us () - start;
        zmsg_destroy (&reply);
    }
    qsort (samples, (size_t) count, sizeof *samples, s_compare_i64);
    *latency = (latency_t) { samples[count / 2], samples[count * 90 / 100], samples[count * 99 / 100],
                             samples[count * 999 / 1000], samples[count - 1] };
    free (samples);
    zsock_destroy (&client);
}

static int
s_compare_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
s_median (double *values)
{
    qsort (values, REPS, sizeof *values, s_compare_double);
    return values[REPS / 2];
}

//  Median and range of REPS bursts, against the verification ceiling; and the CPU times per
//  merged row (medians): tabled's, of which its verifications and the rest, and the client's.
static void
s_print_rate (const char *label, const tabled_t *tabled, const burst_t *bursts)
{
    double rates[REPS], cpu[REPS], verify[REPS], rest[REPS], client[REPS], load[REPS];
    for (int r = 0; r < REPS; r++) {
        rates[r] = bursts[r].rate;
        cpu[r] = bursts[r].tabled_us;
        verify[r] = bursts[r].verify_us;
        rest[r] = bursts[r].tabled_us - bursts[r].verify_us;
        client[r] = bursts[r].client_us;
        load[r] = bursts[r].load;
    }
    double rate = s_median (rates), cpu_us = s_median (cpu), verify_us = s_median (verify), rest_us = s_median (rest),
           client_us = s_median (client), load_median = s_median (load);
    printf ("%-38s %7.0f rows/s persisted (median of %d; %.0f-%.0f), %.0f%% of the verification ceiling [%s]\n", label,
            rate, REPS, rates[0], rates[REPS - 1], 100 * rate * s_verify_cpu_us / (s_cores * 1e6), tabled->label);
    printf ("%-38s tabled CPU %.1f us per row (%.1f-%.1f): %.0f rows/s if %d idle cores ran only tabled\n", "", cpu_us,
            cpu[0], cpu[REPS - 1], s_cores * 1e6 / cpu_us, s_cores);
    if (!isnan (verify[0]))
        printf ("%-38s   of which verification %.1f us (%.1f-%.1f), the rest %.1f us (%.1f-%.1f)\n", "",
                verify_us, verify[0], verify[REPS - 1], rest_us, rest[0], rest[REPS - 1]);
    else
        printf ("%-38s   of which verification ~%.1f us (the anchor's CPU time: this tabled does not count it)\n", "",
                s_verify_cpu_us);
    printf ("%-38s client CPU %.1f us per row (%.1f-%.1f); load average %.1f (%.1f-%.1f)\n", "", client_us, client[0],
            client[REPS - 1], load_median, load[0], load[REPS - 1]);
}

//  A fresh ocf-tabled takes a 10,000-row snapshot: milliseconds until every row is committed.
static double
s_snapshot_ms (json_t **rows)
{
    tabled_t fresh;
    s_tabled_start (&fresh, "bench-join", "ocf-tabled");
    burst_t burst = s_merge_burst (&fresh, rows, ROWS / SNAPSHOT_PAGE, SNAPSHOT_PAGE);
    s_tabled_stop (&fresh);
    return ROWS / burst.rate * 1000;
}

//  The updates' bursts: burst r gives every row of the first 100-per-request burst version r + 2.
static json_t **s_update_rows;
static ocf_identity_t **s_update_identities;

static void
s_prepare_updates (int r)
{
    for (int i = 0; i < ROWS; i++) {
        json_object_set_new (s_update_rows[i], "version", json_integer (r + 2));
        s_sign (s_update_rows[i], s_update_identities[i]);
    }
}

int
main (void)
{
    zsys_init ();
    s_anchors ();
    //  This build's tabled, and the baseline's when asked for: both idle but for their turns.
    tabled_t tableds[2];
    const char *baseline = getenv ("BASELINE_TABLED");
    int tabled_count = baseline && *baseline ? 2 : 1;
    s_tabled_start (&tableds[0], "bench", "ocf-tabled");
    if (tabled_count == 2)
        s_tabled_start (&tableds[1], "baseline", baseline);
    ocf_test_node_t *node = &tableds[0].node;
    pid_t pid = tableds[0].pid;
    const char *endpoint = tableds[0].endpoint;
    //  New rows: REPS bursts of ROWS distinct rows, one row per request, then as many 100 per
    //  request; updates: the rows of the first 100-per-request burst, a new version each time.
    //  One node (key) per row, made before anything is timed.
    json_t **rows = malloc (2 * REPS * ROWS * sizeof *rows);
    ocf_identity_t **identities = malloc (2 * REPS * ROWS * sizeof *identities);
    for (int i = 0; i < 2 * REPS * ROWS; i++) {
        identities[i] = ocf_identity_new_ephemeral ();
        rows[i] = s_row (1, identities[i]);
    }
    char *sample = json_dumps (rows[0], JSON_COMPACT);
    printf ("row size: %zu bytes of JSON\n", strlen (sample));
    free (sample);
    burst_t single[2][REPS], batched[2][REPS], updates[2][REPS];
    s_merge_bursts (tableds, tabled_count, rows, 1, true, NULL, single);
    fprintf (stderr, "bench: merges of 100 rows per request\n");      //  a cue for a profiler to attach
    s_merge_bursts (tableds, tabled_count, rows + REPS * ROWS, 100, true, NULL, batched);
    s_update_rows = rows + REPS * ROWS;
    s_update_identities = identities + REPS * ROWS;
    s_merge_bursts (tableds, tabled_count, s_update_rows, 100, false, s_prepare_updates, updates);
    for (int t = 0; t < tabled_count; t++) {
        s_print_rate ("merge, 1 row per request, pipelined:", &tableds[t], single[t]);
        s_print_rate ("merge, 100 rows per request:", &tableds[t], batched[t]);
        s_print_rate ("merge, 100 updated rows per request:", &tableds[t], updates[t]);
    }
    fflush (stdout);
    //  A node's cleanup kills every daemon this process started, whichever node's: the nodes
    //  are cleaned up once none is needed, and the snapshots' fresh tableds come after.
    if (tabled_count == 2)
        ocf_test_stop (tableds[1].pid, SIGTERM, 10000);
    if (getenv ("MERGES_ONLY")) {       //  MERGES_ONLY=1: the anchors and merges, nothing after
        ocf_test_stop (pid, SIGTERM, 10000);
        s_tableds_cleanup (tableds, tabled_count);
        return 0;
    }

    bool ok;
    json_t *hello = ocf_test_call (node, "tabled", "HELLO", NULL, &ok);
    json_t *get = json_pack ("{s:O}", "id", json_object_get (hello, "id"));
    json_decref (ocf_test_call (node, "tabled", "SERVICE.UP",
                                json_pack ("{s:{s:s, s:i}}", "service", "name", "llm", "port", 8000), &ok));
    static const struct { const char *label, *verb; bool vary; } trips[] = {
        { "HELLO (no work)", "HELLO", false },
        { "GET (read a row)", "GET", false },
        { "SERVICE.LOAD, unchanged", "SERVICE.LOAD", false },
        { "SERVICE.LOAD (durable write)", "SERVICE.LOAD", true },
    };
    for (size_t i = 0; i < sizeof trips / sizeof trips[0]; i++) {
        json_t *body = strcmp (trips[i].verb, "GET") == 0 ? json_incref (get)
                     : strcmp (trips[i].verb, "HELLO") == 0 ? json_object ()
                     : json_pack ("{s:s, s:{s:i}, s:b}", "name", "llm", "load", "inflight", 0, "vary", trips[i].vary);
        latency_t latency;
        s_round_trips (endpoint, trips[i].verb, body, 20000, &latency);
        json_decref (body);
        printf ("round trip %-30s p50 %4lld us, p90 %4lld, p99 %4lld, p99.9 %4lld, max %5lld\n", trips[i].label,
                (long long) latency.p50, (long long) latency.p90, (long long) latency.p99, (long long) latency.p999,
                (long long) latency.max);
    }

    //  Restart with 10,000 of the rows (and this node's own).
    ocf_test_stop (pid, SIGTERM, 10000);
    char command[600];
    snprintf (command, sizeof command,
              "sqlite3 %s/table.db \"delete from nodes where rowid in (select rowid from nodes where name != 'bench-node'"
              " limit (select count(*) - %d from nodes)); select count(*) from nodes;\"", node->state_dir, ROWS + 1);
    int status;
    char *count = ocf_test_run (command, &status);
    printf ("rows in table.db for the restart:     %s", count);
    free (count);
    int64_t samples[5];
    long rss = 0;
    for (int i = 0; i < 5; i++) {
        int64_t start = ocf_test_now_us ();
        pid = ocf_test_start (node, "ocf-tabled", NULL, 10000);
        samples[i] = ocf_test_now_us () - start;
        rss = ocf_test_rss_kb (pid);
        ocf_test_stop (pid, SIGTERM, 10000);
    }
    qsort (samples, 5, sizeof samples[0], s_compare_i64);
    printf ("restart to READY=1 with 10,000 rows:  median %.1f ms (min %.1f, max %.1f, 5 runs)\n",
            samples[2] / 1000.0, samples[0] / 1000.0, samples[4] / 1000.0);
    printf ("RSS with 10,000 rows loaded:          %.1f MB\n", rss / 1024.0);
    fflush (stdout);
    s_tableds_cleanup (tableds, tabled_count);

    double snapshots[REPS];
    for (int r = 0; r < REPS; r++)
        snapshots[r] = s_snapshot_ms (rows + r * ROWS);
    qsort (snapshots, REPS, sizeof snapshots[0], s_compare_double);
    printf ("snapshot of 10,000 rows into a fresh tabled, verified and committed: median %.0f ms (%.0f-%.0f)\n",
            snapshots[REPS / 2], snapshots[0], snapshots[REPS - 1]);
    for (int i = 0; i < 2 * REPS * ROWS; i++)
        ocf_identity_destroy (&identities[i]);
    free (identities);
    return 0;
}

/*  bench_gossip: ocf-gossipd (with ocf-tabled) and HashiCorp serf (LAN profile), measured
    the same way in one run, N real processes per cluster on 127.0.0.1.
    Both are observed the same way, from one harness process: every PROBE_MS it asks each
    node that has not seen the change yet what it knows about the node in question (ours:
    GET on ocf-tabled's local API; serf: members-filtered on the agent's RPC), and times the
    first answer that shows it, with one monotonic clock (PROBE_MS: --probe-ms). (serf's own event stream is not
    used: the agent holds member events back for at least a second to coalesce them.)
    Measured per cluster:
      join     the last node started -> every other node lists it alive
      change   a record (ocf: SELF.SET; serf: a tag) changed -> every other node has it
      crash    kill -9 -> every other node marks it dead (failed)
      idle     bytes each process hands to TCP/UDP sockets per second while nothing
               happens (strace on a sample of nodes; payload incl. ZeroMQ/CURVE framing
               for us, memberlist's packets for serf; no IP/TCP/UDP headers)
      RSS      VmRSS of each process (and, for ours, tabled's separately)
      private  Private_Clean + Private_Dirty of each process (/proc/PID/smaps_rollup): what
               it costs beyond the library pages every process of the host shares
      conns    established TCP connections each process holds (its /proc/PID/fd sockets
               found ESTABLISHED in /proc/net/tcp), after the record changes
      load     the machine's 1-minute load average when the cluster was up (it is shared)
    --partition NS_A=ADDR_A,NS_B=ADDR_B (ours only; run.sh's PARTITION=1 makes the two network
    namespaces): node i runs in side i % 2's namespace and binds its address, so loopback
    traffic within a side stays in its namespace and the halves meet over one veth pair. The
    last node leaves (SIGTERM: its signed leave), then an iptables DROP in each namespace of
    everything from the other side cuts the cluster in two; measured from each table's own
    status and status_since (table.db, read-only): every node of one side sees every node of
    the other dead; then the rules go and every table must be identical again (same rows:
    id, generation, version, status, content hash), every node alive, the leaver not back.
    It also reports the CPU (user + system) of all tableds and of all gossipds in each phase,
    and what their STATS counted from the cut to the end, per node (messages by type, merges,
    commits): where a split's cost goes.
    Not a test: run it with tests/bench/gossip/run.sh (docs/gossip.md).  */
#include "ocf_client.h"
#include "ocf_identity.h"
#include "ocf_test.h"
#include "ocf_msg.h"
#include "ocf_time.h"
#include "serf_rpc.h"

#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sqlite3.h>
#include <dirent.h>
#include <unistd.h>

#define MAX_NODES 256
#define STRACE_SAMPLE 4
#define WAIT_MS 60000
static int s_probe_ms = 10;          //  how often a node that has not seen it yet is asked again

//  What a node answered about another, and when.
typedef struct {
    int observer;
    int status;                  //  0 alive, 2 dead (as in the node table)
    uint64_t version;            //  ocf: record version; serf: the tag's serial
    char subject[OCF_NODE_ID_LEN + 1];   //  ocf: node id; serf: node name
    int64_t at_us;
} event_t;

typedef struct {
    pid_t pids[2];               //  ocf: tabled, gossipd; serf: agent
    int pid_count;
    bool up;
    char subject[OCF_NODE_ID_LEN + 1];
    int port;
    int rpc_port;
    char dir[300];
    zsock_t *api;                //  ocf: a DEALER on tabled.api, for probes
    int notify_fd;               //  ocf: the daemons' sd_notify socket
    char notify[320];
    serf_rpc_t rpc;              //  serf
    int side;                    //  --partition: 0 or 1, the namespace it runs in
    sqlite3 *db;                 //  --partition: its table.db, read-only
    bool probing;                //  a probe is out
    int64_t probed_at;
    bool full_list_asked;        //  serf: a plain members request is out (after the probe, if any)
    int members_alive;           //  serf: the answer to it
    int far_failed;              //  serf, --partition: members of the other side it lists failed
    bool lists_leaver;           //  serf, --partition: it lists the node that left as alive
    int64_t answered_ms;         //  serf: when the answer came (wall clock)
} node_t;

typedef struct bench bench_t;

typedef struct {
    const char *name;
    int (*start) (bench_t *bench, int index);
    //  Changes the node's record; returns the version others must reach.
    uint64_t (*change) (bench_t *bench, int index, uint64_t serial);
    //  Asks node `observer` what it knows of node `subject` (answered through poll).
    void (*probe) (bench_t *bench, int observer, int subject);
    //  Receives answers, recording each as an observation.
    void (*poll) (bench_t *bench, int timeout_ms);
    //  How many other nodes the node lists as alive (-1: no answer).
    int (*alive_seen) (bench_t *bench, int index);
} system_ops_t;

struct bench {
    const system_ops_t *ops;
    node_t nodes[MAX_NODES];
    int count;
    char root[256];
    char bin_dir[256];
    int base_port;
    bool partition;
    char ns[2][64], addr[2][64]; //  --partition: each side's network namespace and address
    int leaver;                  //  --partition: the node that left before the cut (-1: none yet)
    event_t *events;
    size_t event_count, event_cap;
};

typedef struct {
    double *values;
    size_t count, cap;
    size_t missed;               //  measurements that never completed within the wait
} series_t;

static void
s_add (series_t *series, double value)
{
    if (isnan (value)) {
        series->missed++;
        return;
    }
    if (series->count == series->cap) {
        series->cap = series->cap ? series->cap * 2 : 64;
        series->values = realloc (series->values, series->cap * sizeof *series->values);
    }
    series->values[series->count++] = value;
}

static int
s_compare_doubles (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
s_quantile (series_t *series, double q)
{
    if (!series->count)
        return NAN;
    qsort (series->values, series->count, sizeof (double), s_compare_doubles);
    size_t index = (size_t) (q * (double) (series->count - 1) + 0.5);
    return series->values[index];
}

static void
s_record (bench_t *bench, int observer, int status, uint64_t version, const char *subject)
{
    if (bench->event_count == bench->event_cap) {
        bench->event_cap = bench->event_cap ? bench->event_cap * 2 : 4096;
        bench->events = realloc (bench->events, bench->event_cap * sizeof *bench->events);
    }
    event_t *event = &bench->events[bench->event_count++];
    event->observer = observer;
    event->status = status;
    event->version = version;
    snprintf (event->subject, sizeof event->subject, "%s", subject);
    event->at_us = ocf_time_mono_us ();
}

//  --------------------------------------------------------------------------
//  Processes

static void
s_kill_node (bench_t *bench, int index)
{
    node_t *node = &bench->nodes[index];
    for (int i = 0; i < node->pid_count; i++)
        kill (node->pids[i], SIGKILL);
    for (int i = 0; i < node->pid_count; i++)
        waitpid (node->pids[i], NULL, 0);
    node->up = false;
}

static void
s_stop_all (bench_t *bench)
{
    for (int i = 0; i < bench->count; i++) {
        node_t *node = &bench->nodes[i];
        if (node->up)
            s_kill_node (bench, i);
        zsock_destroy (&node->api);
        serf_rpc_close (&node->rpc);
        if (node->db)
            sqlite3_close (node->db);
        node->db = NULL;
        if (node->notify_fd > 0)
            close (node->notify_fd);
        node->notify_fd = 0;
        node->probing = false;
    }
    bench->count = 0;
}

//  A node starts from an empty directory: nothing of an earlier cluster (table, key).
static void
s_fresh_dir (node_t *node, const char *root, const char *kind, int index)
{
    snprintf (node->dir, sizeof node->dir, "%s/%s-n%d", root, kind, index);
    char command[400];
    snprintf (command, sizeof command, "rm -rf '%s'", node->dir);
    if (system (command) != 0)
        fprintf (stderr, "cannot clear %s\n", node->dir);
    mkdir (node->dir, 0755);
}

//  --------------------------------------------------------------------------
//  ocf-tabled + ocf-gossipd

static json_t *
s_ocf_call (node_t *node, const char *daemon, const char *verb, json_t *body, int timeout_ms)
{
    char endpoint[400], error[256];
    snprintf (endpoint, sizeof endpoint, "ipc://%s/run/%s.api", node->dir, daemon);
    ocf_client_t *client = ocf_client_new (endpoint);
    json_t *reply = NULL;
    int rc = ocf_client_call (client, verb, body, timeout_ms, &reply, error, sizeof error);
    ocf_client_destroy (&client);
    if (rc != 0) {
        json_decref (reply);
        return NULL;
    }
    return reply;
}

//  Waits for a READY=1 on the node's notify socket (tabled's, then gossipd's).
static bool
s_ocf_ready (node_t *node, int timeout_ms)
{
    int64_t deadline = ocf_time_mono_ms () + timeout_ms;
    while (ocf_time_mono_ms () < deadline) {
        struct pollfd item = { node->notify_fd, POLLIN, 0 };
        if (poll (&item, 1, (int) (deadline - ocf_time_mono_ms ())) <= 0)
            continue;
        char buffer[1024];
        ssize_t got = recv (node->notify_fd, buffer, sizeof buffer - 1, 0);
        if (got <= 0)
            continue;
        buffer[got] = '\0';
        if (strstr (buffer, "READY=1"))
            return true;
    }
    return false;
}

static int
s_ocf_start (bench_t *bench, int index)
{
    node_t *node = &bench->nodes[index];
    node->port = bench->base_port + 2 * index;
    node->side = index % 2;
    const char *bind_addr = bench->partition ? bench->addr[node->side] : "127.0.0.1";
    const char *seed_addr = bench->partition ? bench->addr[0] : "127.0.0.1";
    char sets[8][400], tabled[300], gossipd[300], log[400];
    s_fresh_dir (node, bench->root, "ocf", index);
    snprintf (node->notify, sizeof node->notify, "%s/ocf-n%d/notify.sock", bench->root, index);
    unlink (node->notify);
    node->notify_fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf (addr.sun_path, sizeof addr.sun_path, "%s", node->notify);
    if (bind (node->notify_fd, (struct sockaddr *) &addr, sizeof addr) != 0)
        return -1;
    snprintf (sets[0], sizeof sets[0], "node.state_dir=%s/state", node->dir);
    snprintf (sets[1], sizeof sets[1], "node.run_dir=%s/run", node->dir);
    snprintf (sets[2], sizeof sets[2], "node.name=n%d", index);
    snprintf (sets[3], sizeof sets[3], "node.public_addr=%s", bind_addr);
    snprintf (sets[4], sizeof sets[4], "gossipd.bind=%s:%d", bind_addr, node->port);
    snprintf (sets[5], sizeof sets[5], "node.log_level=notice");
    if (index == 0)
        snprintf (sets[6], sizeof sets[6], "gossipd.seeds=");
    else
        snprintf (sets[6], sizeof sets[6], "gossipd.seeds=%s@%s:%d", bench->nodes[0].subject, seed_addr,
                  bench->nodes[0].port);
    snprintf (tabled, sizeof tabled, "%s/ocf-tabled", bench->bin_dir);
    snprintf (gossipd, sizeof gossipd, "%s/ocf-gossipd", bench->bin_dir);
    //  `ip netns exec` execs the daemon: the pid is the daemon's.
    char *argv[24] = { "ip", "netns", "exec", bench->ns[node->side] };
    int first = bench->partition ? 4 : 0, argc = first;
    argv[argc++] = tabled;
    argv[argc++] = "-c";
    argv[argc++] = "/dev/null";
    for (int i = 0; i < 7; i++) {
        argv[argc++] = "--set";
        argv[argc++] = sets[i];
    }
    argv[argc] = NULL;
    snprintf (log, sizeof log, "%s/tabled.log", node->dir);
    node->pids[0] = ocf_test_exec ((const char *const *) argv, log, node->notify);
    node->pid_count = 1;
    json_t *hello = s_ocf_ready (node, 20000) ? s_ocf_call (node, "tabled", "HELLO", NULL, 5000) : NULL;
    if (!hello)
        return -1;
    snprintf (node->subject, sizeof node->subject, "%s", json_string_value (json_object_get (hello, "id")));
    json_decref (hello);
    node->api = zsock_new_dealer (NULL);
    zsock_set_linger (node->api, 0);
    zsock_connect (node->api, "ipc://%s/run/tabled.api", node->dir);
    argv[first] = gossipd;
    snprintf (log, sizeof log, "%s/gossipd.log", node->dir);
    node->pids[1] = ocf_test_exec ((const char *const *) argv, log, node->notify);
    node->pid_count = 2;
    node->up = s_ocf_ready (node, 20000);
    return node->up ? 0 : -1;
}

static void
s_ocf_probe (bench_t *bench, int observer, int subject)
{
    ocf_msg_send (bench->nodes[observer].api, "GET", json_pack ("{s:s}", "id", bench->nodes[subject].subject));
}

static void
s_ocf_poll (bench_t *bench, int timeout_ms)
{
    zmq_pollitem_t items[MAX_NODES];
    int map[MAX_NODES], count = 0;
    for (int i = 0; i < bench->count; i++)
        if (bench->nodes[i].up && bench->nodes[i].api) {
            items[count] = (zmq_pollitem_t) { zsock_resolve (bench->nodes[i].api), 0, ZMQ_POLLIN, 0 };
            map[count++] = i;
        }
    if (zmq_poll (items, count, timeout_ms) <= 0)
        return;
    for (int p = 0; p < count; p++) {
        if (!(items[p].revents & ZMQ_POLLIN))
            continue;
        node_t *node = &bench->nodes[map[p]];
        zmsg_t *msg;
        while ((msg = zmsg_recv_nowait (node->api))) {
            node->probing = false;
            char *verb = zmsg_popstr (msg), *text = zmsg_popstr (msg);
            json_t *body = text ? json_loads (text, 0, NULL) : NULL;
            json_t *row = json_object_get (body, "row");
            const char *status = json_string_value (json_object_get (row, "status"));
            const char *id = json_string_value (json_object_get (row, "id"));
            if (id && status)
                s_record (bench, map[p], strcmp (status, "dead") == 0 ? 2 : strcmp (status, "alive") == 0 ? 0 : 1,
                          (uint64_t) json_integer_value (json_object_get (row, "version")), id);
            json_decref (body);
            zstr_free (&verb);
            zstr_free (&text);
            zmsg_destroy (&msg);
        }
    }
}

static uint64_t
s_ocf_change (bench_t *bench, int index, uint64_t serial)
{
    char value[32];
    snprintf (value, sizeof value, "%llu", (unsigned long long) serial);
    json_t *reply = s_ocf_call (&bench->nodes[index], "tabled", "SELF.SET",
                                json_pack ("{s:{s:s}}", "labels", "bench", value), 5000);
    uint64_t version = (uint64_t) json_integer_value (json_object_get (reply, "version"));
    json_decref (reply);
    return version;
}

static int
s_ocf_alive_seen (bench_t *bench, int index)
{
    json_t *reply = s_ocf_call (&bench->nodes[index], "tabled", "LIST", json_pack ("{s:b}", "live", 1), 5000);
    if (!reply)
        return -1;
    int alive = 0;
    size_t i;
    json_t *row;
    json_array_foreach (json_object_get (reply, "rows"), i, row)
        alive += strcmp (json_string_value (json_object_get (row, "status")), "alive") == 0;
    json_decref (reply);
    return alive - 1;
}

static const system_ops_t s_ocf = { "ocf-gossipd", s_ocf_start, s_ocf_change, s_ocf_probe, s_ocf_poll, s_ocf_alive_seen };

//  --------------------------------------------------------------------------
//  serf

//  Connects to a node's agent RPC; with --partition, from inside its side's namespace (the
//  socket stays there when this thread comes back).
static int
s_serf_rpc_open (bench_t *bench, node_t *node)
{
    if (!bench->partition)
        return serf_rpc_open (&node->rpc, node->rpc_port, 1000);
    char path[128];
    snprintf (path, sizeof path, "/run/netns/%s", bench->ns[node->side]);
    int home = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), there = open (path, O_RDONLY | O_CLOEXEC);
    int rc = -1;
    if (home >= 0 && there >= 0 && setns (there, CLONE_NEWNET) == 0) {
        rc = serf_rpc_open (&node->rpc, node->rpc_port, 1000);
        if (setns (home, CLONE_NEWNET) != 0) {
            fprintf (stderr, "bench_gossip: cannot return to its own network namespace\n");
            exit (1);
        }
    }
    if (home >= 0)
        close (home);
    if (there >= 0)
        close (there);
    return rc;
}

static int
s_serf_start (bench_t *bench, int index)
{
    node_t *node = &bench->nodes[index];
    node->port = bench->base_port + 2 * index;
    node->rpc_port = node->port + 1;
    snprintf (node->subject, sizeof node->subject, "n%d", index);
    s_fresh_dir (node, bench->root, "serf", index);
    node->side = index % 2;
    const char *bind_addr = bench->partition ? bench->addr[node->side] : "127.0.0.1";
    const char *seed_addr = bench->partition ? bench->addr[0] : "127.0.0.1";
    char name[64], bind[96], rpc[64], join[96], log[400];
    snprintf (name, sizeof name, "-node=%s", node->subject);
    snprintf (bind, sizeof bind, "-bind=%s:%d", bind_addr, node->port);
    snprintf (rpc, sizeof rpc, "-rpc-addr=127.0.0.1:%d", node->rpc_port);
    snprintf (join, sizeof join, "-join=%s:%d", seed_addr, bench->nodes[0].port);
    char *argv[] = { "ip", "netns", "exec", bench->ns[node->side],
                     "serf", "agent", name, bind, rpc, "-profile=lan", "-log-level=warn", index ? join : NULL, NULL };
    int first = bench->partition ? 0 : 4;
    snprintf (log, sizeof log, "%s/serf.log", node->dir);
    node->pids[0] = ocf_test_exec ((const char *const *) argv + first, log, NULL);
    node->pid_count = 1;
    node->probing = node->full_list_asked = false;
    //  Its RPC listens on the loopback of its namespace: the socket is made in there.
    int64_t deadline = ocf_time_mono_ms () + 20000;
    while (ocf_time_mono_ms () < deadline && s_serf_rpc_open (bench, node) != 0)
        usleep (20000);
    if (node->rpc.fd <= 0)
        return -1;
    node->members_alive = -1;
    node->up = true;
    return 0;
}

static void
s_serf_probe (bench_t *bench, int observer, int subject)
{
    char name[64];
    snprintf (name, sizeof name, "^%s$", bench->nodes[subject].subject);
    serf_rpc_members (&bench->nodes[observer].rpc, name);
}

static void
s_serf_poll (bench_t *bench, int timeout_ms)
{
    struct pollfd items[MAX_NODES];
    int map[MAX_NODES], count = 0;
    for (int i = 0; i < bench->count; i++)
        if (bench->nodes[i].up && bench->nodes[i].rpc.fd > 0) {
            items[count] = (struct pollfd) { bench->nodes[i].rpc.fd, POLLIN, 0 };
            map[count++] = i;
        }
    if (poll (items, (nfds_t) count, timeout_ms) <= 0)
        return;
    for (int p = 0; p < count; p++) {
        if (!(items[p].revents & POLLIN))
            continue;
        node_t *node = &bench->nodes[map[p]];
        uint64_t seq;
        mp_value_t body;
        while (serf_rpc_next (&node->rpc, &seq, &body) == 1) {
            const mp_value_t *members = mp_get (&body, "Members");
            if (members && members->type == MP_ARRAY) {
                //  Answers come in order: a probe's first, when one was out.
                if (node->probing) {
                    node->probing = false;
                    for (size_t m = 0; m < members->length; m++) {
                        const mp_value_t *name = mp_get (&members->items[m], "Name");
                        const mp_value_t *status = mp_get (&members->items[m], "Status");
                        const mp_value_t *tag = mp_get (mp_get (&members->items[m], "Tags"), "bench");
                        if (name && name->type == MP_STR && status && status->type == MP_STR)
                            s_record (bench, map[p], strcmp (status->string, "failed") == 0 ? 2
                                                     : strcmp (status->string, "alive") == 0 ? 0 : 1,
                                      tag && tag->type == MP_STR ? strtoull (tag->string, NULL, 10) : 0, name->string);
                    }
                }
                else
                if (node->full_list_asked) {
                    node->full_list_asked = false;
                    int alive = 0, far_failed = 0;
                    bool lists_leaver = false;
                    for (size_t m = 0; m < members->length; m++) {
                        const mp_value_t *name = mp_get (&members->items[m], "Name");
                        const mp_value_t *status = mp_get (&members->items[m], "Status");
                        if (!status || status->type != MP_STR)
                            continue;
                        bool is_alive = strcmp (status->string, "alive") == 0;
                        alive += is_alive;
                        //  Names are "n<index>": the side and the leaver by index.
                        int index = name && name->type == MP_STR && name->string[0] == 'n' ? atoi (name->string + 1) : -1;
                        if (index < 0 || index >= bench->count)
                            continue;
                        far_failed += bench->nodes[index].side != node->side && strcmp (status->string, "failed") == 0;
                        lists_leaver |= index == bench->leaver && is_alive;
                    }
                    node->members_alive = alive;
                    node->far_failed = far_failed;
                    node->lists_leaver = lists_leaver;
                    node->answered_ms = ocf_time_wall_ms ();
                }
            }
            mp_free (&body);
        }
    }
}

static uint64_t
s_serf_change (bench_t *bench, int index, uint64_t serial)
{
    char value[32];
    snprintf (value, sizeof value, "%llu", (unsigned long long) serial);
    serf_rpc_tag (&bench->nodes[index].rpc, "bench", value);
    return serial;
}

static int
s_serf_alive_seen (bench_t *bench, int index)
{
    node_t *node = &bench->nodes[index];
    node->members_alive = -1;
    node->full_list_asked = true;
    serf_rpc_members (&node->rpc, NULL);
    int64_t deadline = ocf_time_mono_ms () + 5000;
    while (node->members_alive < 0 && ocf_time_mono_ms () < deadline)
        s_serf_poll (bench, 50);
    return node->members_alive < 0 ? -1 : node->members_alive - 1;
}

static const system_ops_t s_serf = { "serf", s_serf_start, s_serf_change, s_serf_probe, s_serf_poll, s_serf_alive_seen };

//  --------------------------------------------------------------------------
//  Measurements

//  The latency (ms) at which each running node other than `subject` reported it with the
//  status and at least the version, after t0. Returns how many did within the wait.
static int
s_wait_observed (bench_t *bench, int subject, int status, uint64_t version, int64_t t0_us, series_t *latencies,
                 double *all_ms)
{
    int64_t deadline = ocf_time_mono_ms () + WAIT_MS;
    int64_t seen_at[MAX_NODES];
    int wanted = 0, seen = 0;
    for (int i = 0; i < bench->count; i++) {
        seen_at[i] = -1;
        wanted += i != subject && bench->nodes[i].up;
    }
    size_t scanned = bench->event_count;
    for (int i = 0; i < bench->count; i++)
        bench->nodes[i].probed_at = 0;
    while (seen < wanted && ocf_time_mono_ms () < deadline) {
        int64_t now = ocf_time_mono_ms ();
        for (int i = 0; i < bench->count; i++) {
            node_t *node = &bench->nodes[i];
            if (i != subject && node->up && seen_at[i] < 0 && !node->probing && now - node->probed_at >= s_probe_ms) {
                node->probing = true;
                node->probed_at = now;
                bench->ops->probe (bench, i, subject);
            }
        }
        bench->ops->poll (bench, 2);
        for (; scanned < bench->event_count; scanned++) {
            event_t *event = &bench->events[scanned];
            int o = event->observer;
            if (event->at_us < t0_us || o == subject || !bench->nodes[o].up || seen_at[o] >= 0
            ||  event->status != status || event->version < version || strcmp (event->subject, bench->nodes[subject].subject) != 0)
                continue;
            seen_at[o] = event->at_us;
            seen++;
        }
    }
    *all_ms = 0;
    for (int i = 0; i < bench->count; i++)
        if (seen_at[i] >= 0) {
            double ms = (double) (seen_at[i] - t0_us) / 1000.0;
            s_add (latencies, ms);
            *all_ms = ms > *all_ms ? ms : *all_ms;
        }
    if (seen < wanted)
        *all_ms = NAN;
    return seen;
}

static bool
s_converged (bench_t *bench, int expected_others)
{
    int64_t deadline = ocf_time_mono_ms () + WAIT_MS;
    while (ocf_time_mono_ms () < deadline) {
        bool all = true;
        for (int i = 0; i < bench->count && all; i++)
            all = !bench->nodes[i].up || bench->ops->alive_seen (bench, i) == expected_others;
        if (all)
            return true;
        bench->ops->poll (bench, 200);
    }
    return false;
}

//  Bytes a process wrote to TCP/UDP sockets during `seconds`, by strace.
static void
s_idle_bytes (bench_t *bench, int seconds, series_t *rates)
{
    pid_t tracers[STRACE_SAMPLE];
    char files[STRACE_SAMPLE][400];
    int sampled = 0;
    for (int s = 0; s < STRACE_SAMPLE && s < bench->count; s++) {
        int index = (int) ((long) s * bench->count / STRACE_SAMPLE);
        node_t *node = &bench->nodes[index];
        if (!node->up)
            continue;
        pid_t target = node->pids[node->pid_count - 1];          //  gossipd, or the agent
        char pid_text[32];
        snprintf (pid_text, sizeof pid_text, "%d", target);
        snprintf (files[sampled], sizeof files[sampled], "%s/strace.txt", node->dir);
        unlink (files[sampled]);
        char *argv[] = { "strace", "-f", "-qq", "-e", "trace=write,writev,sendto,sendmsg", "-e", "status=successful",
                         "-yy", "-o", files[sampled], "-p", pid_text, NULL };
        char log[400];
        snprintf (log, sizeof log, "%s/strace.log", node->dir);
        tracers[sampled++] = ocf_test_exec ((const char *const *) argv, log, NULL);
    }
    int64_t end = ocf_time_mono_ms () + seconds * 1000;
    while (ocf_time_mono_ms () < end)
        bench->ops->poll (bench, 100);
    for (int s = 0; s < sampled; s++) {
        kill (tracers[s], SIGINT);
        waitpid (tracers[s], NULL, 0);
        FILE *file = fopen (files[s], "r");
        char line[4096];
        double bytes = 0;
        while (file && fgets (line, sizeof line, file)) {
            char *open = strchr (line, '<'), *equals = strrchr (line, '=');
            if (open && equals && (strncmp (open, "<TCP", 4) == 0 || strncmp (open, "<UDP", 4) == 0))
                bytes += atof (equals + 1);
        }
        if (file)
            fclose (file);
        s_add (rates, bytes / seconds);
    }
}

typedef struct {
    series_t join_all, join_each, change_all, change_each, crash_all, crash_each, idle, rss, rss_tabled, private_mb,
             conns, load;
    int failures;
} results_t;

//  Private_Clean + Private_Dirty of a process, in kB (-1: unknown).
static long
s_private_kb (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/smaps_rollup", (int) pid);
    FILE *file = fopen (path, "r");
    long total = -1;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "Private_Clean:", 14) == 0 || strncmp (line, "Private_Dirty:", 14) == 0)
            total = (total < 0 ? 0 : total) + atol (strchr (line, ':') + 1);
    if (file)
        fclose (file);
    return total;
}

static int
s_compare_ulongs (const void *a, const void *b)
{
    unsigned long x = *(const unsigned long *) a, y = *(const unsigned long *) b;
    return x < y ? -1 : x > y;
}

//  The inodes of every ESTABLISHED TCP socket of the machine, sorted.
static unsigned long *
s_established_inodes (size_t *count)
{
    const char *tables[] = { "/proc/net/tcp", "/proc/net/tcp6" };
    unsigned long *inodes = NULL;
    size_t cap = 0;
    *count = 0;
    for (int t = 0; t < 2; t++) {
        FILE *file = fopen (tables[t], "r");
        char line[512];
        while (file && fgets (line, sizeof line, file)) {
            unsigned state;
            unsigned long inode;
            //  sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            if (sscanf (line, " %*s %*s %*s %x %*s %*s %*s %*s %*s %lu", &state, &inode) != 2 || state != 1)
                continue;
            if (*count == cap) {
                cap = cap ? cap * 2 : 4096;
                inodes = realloc (inodes, cap * sizeof *inodes);
            }
            inodes[(*count)++] = inode;
        }
        if (file)
            fclose (file);
    }
    if (*count)
        qsort (inodes, *count, sizeof *inodes, s_compare_ulongs);
    return inodes;
}

//  Established TCP connections the process holds.
static int
s_tcp_connections (pid_t pid, const unsigned long *inodes, size_t count)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/fd", (int) pid);
    DIR *dir = opendir (path);
    int connections = 0;
    struct dirent *entry;
    while (dir && (entry = readdir (dir))) {
        char link[128], target[64];
        snprintf (link, sizeof link, "%s/%s", path, entry->d_name);
        ssize_t size = readlink (link, target, sizeof target - 1);
        unsigned long inode;
        if (size <= 0)
            continue;
        target[size] = '\0';
        if (sscanf (target, "socket:[%lu]", &inode) == 1 && bsearch (&inode, inodes, count, sizeof inode, s_compare_ulongs))
            connections++;
    }
    if (dir)
        closedir (dir);
    return connections;
}

static double
s_load_average (void)
{
    FILE *file = fopen ("/proc/loadavg", "r");
    double load = NAN;
    if (file && fscanf (file, "%lf", &load) != 1)
        load = NAN;
    if (file)
        fclose (file);
    return load;
}

//  What each running process holds: memory, and connections (after some traffic).
static void
s_footprint (bench_t *bench, results_t *results)
{
    size_t count;
    unsigned long *inodes = s_established_inodes (&count);
    for (int i = 0; i < bench->count; i++) {
        node_t *node = &bench->nodes[i];
        if (!node->up)
            continue;
        pid_t pid = node->pids[node->pid_count - 1];
        s_add (&results->private_mb, (double) s_private_kb (pid) / 1024.0);
        s_add (&results->conns, (double) s_tcp_connections (pid, inodes, count));
    }
    free (inodes);
    s_add (&results->load, s_load_average ());
}

static void
s_run_cluster (bench_t *bench, const system_ops_t *ops, int size, int changes, int crashes, int idle_s, results_t *results)
{
    bench->ops = ops;
    bench->count = 0;
    bench->event_count = 0;
    for (int i = 0; i < size - 1; i++) {
        bench->count = i + 1;
        if (ops->start (bench, i) != 0) {
            fprintf (stderr, "%s: node %d did not start (see %s)\n", ops->name, i, bench->nodes[i].dir);
            results->failures++;
            s_stop_all (bench);
            return;
        }
    }
    if (!s_converged (bench, size - 2)) {
        fprintf (stderr, "%s N=%d: the first %d nodes did not converge\n", ops->name, size, size - 1);
        results->failures++;
    }
    double all;
    int64_t t0 = ocf_time_mono_us ();
    bench->count = size;
    if (ops->start (bench, size - 1) != 0)
        results->failures++;
    else {
        s_wait_observed (bench, size - 1, 0, 0, t0, &results->join_each, &all);
        s_add (&results->join_all, all);
    }
    s_converged (bench, size - 1);
    s_idle_bytes (bench, idle_s, &results->idle);
    for (int i = 0; i < bench->count; i++) {
        node_t *node = &bench->nodes[i];
        s_add (&results->rss, (double) ocf_test_rss_kb (node->pids[node->pid_count - 1]) / 1024.0);
        if (node->pid_count == 2)
            s_add (&results->rss_tabled, (double) ocf_test_rss_kb (node->pids[0]) / 1024.0);
    }
    for (int c = 0; c < changes; c++) {
        int index = (1 + 7 * c) % size;
        t0 = ocf_time_mono_us ();
        uint64_t version = ops->change (bench, index, (uint64_t) (c + 1));
        s_wait_observed (bench, index, 0, version, t0, &results->change_each, &all);
        s_add (&results->change_all, all);
        int64_t pause = ocf_time_mono_ms () + 500;
        while (ocf_time_mono_ms () < pause)
            ops->poll (bench, 50);
    }
    s_footprint (bench, results);
    for (int k = 0; k < crashes; k++) {
        int index = (3 + 11 * k) % size;
        t0 = ocf_time_mono_us ();
        s_kill_node (bench, index);
        s_wait_observed (bench, index, 2, 0, t0, &results->crash_each, &all);
        s_add (&results->crash_all, all);
        int64_t pause = ocf_time_mono_ms () + 2000;
        while (ocf_time_mono_ms () < pause)
            ops->poll (bench, 100);
    }
    s_stop_all (bench);
}

//  --------------------------------------------------------------------------
//  --partition

//  What one node's table says of another: its status ("" when it has no row) and since when
//  (status_since, ms since the epoch, the observer's own clock).
typedef struct {
    char status[12];
    int64_t since_ms;
} view_t;

//  Reads each running node's table.db into views[observer * count + subject] and a digest of
//  its rows; false when one could not be read (then read again).
static bool
s_read_tables (bench_t *bench, view_t *views, uint64_t *digests)
{
    int count = bench->count;
    memset (views, 0, (size_t) count * (size_t) count * sizeof *views);
    for (int o = 0; o < count; o++) {
        node_t *node = &bench->nodes[o];
        if (!node->up)
            continue;
        if (!node->db) {
            char path[400];
            snprintf (path, sizeof path, "%s/state/table.db", node->dir);
            if (sqlite3_open_v2 (path, &node->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
                sqlite3_close (node->db);
                node->db = NULL;
                return false;
            }
            sqlite3_busy_timeout (node->db, 2000);
        }
        sqlite3_stmt *stmt;
        if (sqlite3_prepare_v2 (node->db, "select id, status, status_since, ifnull(generation, -1), ifnull(version, -1), "
                                          "ifnull(content_hash, 0) from nodes order by id", -1, &stmt, NULL) != SQLITE_OK)
            return false;
        uint64_t digest = 14695981039346656037ULL;           //  FNV-1a over the rows
        int rc;
        while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
            const char *id = (const char *) sqlite3_column_text (stmt, 0);
            const char *status = (const char *) sqlite3_column_text (stmt, 1);
            char row[160];
            int len = snprintf (row, sizeof row, "%s|%s|%lld|%lld|%lld;", id, status ? status : "",
                                sqlite3_column_int64 (stmt, 3), sqlite3_column_int64 (stmt, 4), sqlite3_column_int64 (stmt, 5));
            for (int i = 0; i < len && i < (int) sizeof row; i++)
                digest = (digest ^ (uint8_t) row[i]) * 1099511628211ULL;
            for (int subject = 0; subject < count && id; subject++)
                if (strcmp (bench->nodes[subject].subject, id) == 0) {
                    view_t *view = &views[o * count + subject];
                    snprintf (view->status, sizeof view->status, "%s", status ? status : "");
                    view->since_ms = sqlite3_column_int64 (stmt, 2);
                }
        }
        sqlite3_finalize (stmt);
        if (rc != SQLITE_DONE)
            return false;
        digests[o] = digest;
    }
    return true;
}

static bool
s_listed (const view_t *view)
{
    return strcmp (view->status, "alive") == 0 || strcmp (view->status, "suspect") == 0;
}

//  Cuts (action "-A") or heals ("-D") the link between the sides: each side's namespace drops
//  everything from the other's address. quiet: no complaint when there is no rule to delete.
static bool
s_cut (bench_t *bench, const char *action, bool quiet)
{
    bool done = true;
    for (int side = 0; side < 2; side++) {
        char command[300];
        snprintf (command, sizeof command, "ip netns exec '%s' iptables -w %s INPUT -s %s -j DROP%s", bench->ns[side], action,
                  bench->addr[!side], quiet ? " 2>/dev/null" : "");
        done = system (command) == 0 && done;
    }
    return done;
}

//  CPU seconds (user + system, all threads) of every running tabled and gossipd, summed.
static void
s_cpu (bench_t *bench, double cpu[2])
{
    long hz = sysconf (_SC_CLK_TCK);
    cpu[0] = cpu[1] = 0;
    for (int i = 0; i < bench->count; i++)
        for (int p = 0; p < bench->nodes[i].pid_count && bench->nodes[i].up; p++) {
            char path[64], text[1024];
            snprintf (path, sizeof path, "/proc/%d/stat", (int) bench->nodes[i].pids[p]);
            FILE *file = fopen (path, "r");
            size_t got = file ? fread (text, 1, sizeof text - 1, file) : 0;
            if (file)
                fclose (file);
            text[got] = '\0';
            //  Fields 14 and 15 (utime, stime) count from the one after the command's ')'.
            char *after = strrchr (text, ')');
            unsigned long long utime, stime;
            if (after && sscanf (after + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) == 2)
                cpu[p] += (double) (utime + stime) / (double) hz;
        }
}

//  Adds every integer of a STATS reply (its counters, and gossipd's messages by type) into sums,
//  under the daemon's prefix: what a phase cost in messages and writes.
static void
s_sum_stats (json_t *sums, const char *prefix, json_t *stats)
{
    const char *groups[] = { "counters", "messages.in", "messages.out" };
    for (int g = 0; g < 3; g++) {
        json_t *group = g == 0 ? json_object_get (stats, "counters")
                      : json_object_get (json_object_get (stats, "messages"), g == 1 ? "in" : "out");
        const char *key;
        json_t *value;
        json_object_foreach (group, key, value) {
            char name[128];
            snprintf (name, sizeof name, "%s %s %s", prefix, groups[g], key);
            json_int_t sum = json_integer_value (json_object_get (sums, name)) + json_integer_value (value);
            json_object_set_new (sums, name, json_integer (sum));
        }
    }
}

static json_t *
s_stats (bench_t *bench)
{
    json_t *sums = json_object ();
    for (int i = 0; i < bench->count; i++) {
        if (!bench->nodes[i].up)
            continue;
        for (int d = 0; d < 2; d++) {
            json_t *stats = s_ocf_call (&bench->nodes[i], d ? "gossipd" : "tabled", "STATS", NULL, 5000);
            if (stats)
                s_sum_stats (sums, d ? "gossipd" : "tabled", stats);
            json_decref (stats);
        }
    }
    return sums;
}

typedef struct {
    const system_ops_t *ops;             //  whose cluster it is
    double load_cut, load_heal;
    double wall_s[3], cpu_s[3][2];       //  cut -> every side sees the other dead -> healed -> 5 s later: wall; CPU of tableds, gossipds
    json_t *counted[2];                  //  the STATS counters' growth, summed over the nodes: cut -> heal, heal -> end
    double side_ms[2], side_p50_ms[2];   //  partition -> the last / the median observer of a side sees the other dead
    int false_dead;                      //  the most same-side rows not alive or suspect in one reading during the split
                                         //  (serf: members not alive in one round of lists)
    double first_verdict_ms;             //  cut -> the last far node's death first in a table of the other side
    double verdict_spread_ms[2];         //  from a far node's death in the first such table to the last: median, longest
    double heal_poll_ms;                 //  heal -> every table identical, all alive (as polled: an upper bound)
    double heal_since_ms;                //  heal -> the last far-side node alive again in any table (status_since; serf: NAN)
    int resurrected;                     //  the most tables listing the leaver alive or suspect in one reading after the heal
    int digests;                         //  distinct tables when the wait ended (serf: 0, it has none)
    int ok;                              //  0: a step failed (stderr says which)
} partition_row_t;

static void
s_pause (bench_t *bench, int ms)
{
    int64_t end = ocf_time_mono_ms () + ms;
    while (ocf_time_mono_ms () < end)
        bench->ops->poll (bench, 100);
}

//  Where the last observer's time went, from the tables read when every observer had every
//  far node dead: detection (a far node's death in the first table of the other side) and
//  spreading (from that table to the last). A node's death in its declarer's table is the
//  declaration, give or take tabled's merge.
static void
s_verdict_times (bench_t *bench, const view_t *views, int size, int64_t cut_ms, partition_row_t *row)
{
    row->first_verdict_ms = 0;
    series_t spreads = { 0 };
    for (int s = 0; s < size; s++) {
        int64_t first = INT64_MAX, last = 0;
        for (int o = 0; o < size; o++) {
            const view_t *view = &views[o * size + s];
            if (!bench->nodes[o].up || !bench->nodes[s].up || bench->nodes[o].side == bench->nodes[s].side)
                continue;
            first = view->since_ms < first ? view->since_ms : first;
            last = view->since_ms > last ? view->since_ms : last;
        }
        if (last == 0)
            continue;
        if ((double) (first - cut_ms) > row->first_verdict_ms)
            row->first_verdict_ms = (double) (first - cut_ms);
        s_add (&spreads, (double) (last - first));
    }
    row->verdict_spread_ms[0] = s_quantile (&spreads, 0.5);
    row->verdict_spread_ms[1] = s_quantile (&spreads, 1.0);
    free (spreads.values);
}

//  A cluster of size nodes of a system, started and converged; false (all stopped) if not.
static bool
s_partition_start (bench_t *bench, const system_ops_t *ops, int size, partition_row_t *row)
{
    *row = (partition_row_t) { .ops = ops, .side_ms = { NAN, NAN }, .side_p50_ms = { NAN, NAN }, .heal_poll_ms = NAN,
                               .heal_since_ms = NAN, .first_verdict_ms = NAN, .verdict_spread_ms = { NAN, NAN } };
    bench->ops = ops;
    bench->count = 0;
    bench->event_count = 0;
    bench->leaver = -1;
    for (int i = 0; i < size; i++) {
        bench->count = i + 1;
        if (ops->start (bench, i) != 0) {
            fprintf (stderr, "partition N=%d: %s node %d did not start (see %s)\n", size, ops->name, i, bench->nodes[i].dir);
            s_stop_all (bench);
            return false;
        }
    }
    if (!s_converged (bench, size - 1)) {
        fprintf (stderr, "partition N=%d: the %s cluster did not converge\n", size, ops->name);
        s_stop_all (bench);
        return false;
    }
    return true;
}

//  Each side's last and median observer, once every observer saw the other side dead.
static void
s_partition_sides (partition_row_t *row, series_t each[2], int waiting)
{
    for (int side = 0; side < 2; side++) {
        if (waiting == 0) {
            row->side_ms[side] = s_quantile (&each[side], 1.0);
            row->side_p50_ms[side] = s_quantile (&each[side], 0.5);
        }
        free (each[side].values);
    }
}

//  The clocks at the four edges of a partition's three phases (cut, declared, healed, 5 s
//  later): the CPU of the nodes' two kinds of process, and the monotonic wall clock.
typedef struct {
    double cpu[4][2];
    int64_t wall[4];
} edges_t;

static void
s_partition_edge (bench_t *bench, edges_t *edges, int edge)
{
    s_cpu (bench, edges->cpu[edge]);
    edges->wall[edge] = ocf_time_mono_ms ();
}

//  Wall and CPU time of the three phases.
static void
s_partition_phases (partition_row_t *row, const edges_t *edges)
{
    for (int phase = 0; phase < 3; phase++) {
        row->wall_s[phase] = (double) (edges->wall[phase + 1] - edges->wall[phase]) / 1000;
        for (int d = 0; d < 2; d++)
            row->cpu_s[phase][d] = edges->cpu[phase + 1][d] - edges->cpu[phase][d];
    }
}

static void
s_run_partition (bench_t *bench, int size, partition_row_t *row)
{
    if (!s_partition_start (bench, &s_ocf, size, row))
        return;
    view_t *views = calloc ((size_t) size * (size_t) size, sizeof *views);
    uint64_t *digests = calloc ((size_t) size, sizeof *digests);
    int64_t *seen = calloc ((size_t) size, sizeof *seen);

    //  The last node leaves (gossipd's SIGTERM: the signed leave), then its tabled is stopped.
    int leaver = size - 1;
    node_t *gone = &bench->nodes[leaver];
    kill (gone->pids[1], SIGTERM);
    int64_t deadline = ocf_time_mono_ms () + 10000;
    while (waitpid (gone->pids[1], NULL, WNOHANG) == 0 && ocf_time_mono_ms () < deadline)
        usleep (50000);
    s_kill_node (bench, leaver);             //  SIGKILL to both: gossipd's is a no-op if it has gone
    bool left = false;
    deadline = ocf_time_mono_ms () + 30000;
    while (!left && ocf_time_mono_ms () < deadline) {
        left = s_read_tables (bench, views, digests);
        for (int o = 0; o < size && left; o++)
            left = !bench->nodes[o].up || !s_listed (&views[o * size + leaver]);
        if (!left)
            usleep (250000);
    }
    if (!left)
        fprintf (stderr, "partition N=%d: the leave did not reach every table in 30 s\n", size);
    s_pause (bench, 3000);

    //  The cut. Timed from before the rules go in: their installing counts against us.
    json_t *stats_cut = s_stats (bench), *stats_heal = NULL;
    edges_t edges;
    row->load_cut = s_load_average ();
    s_partition_edge (bench, &edges, 0);
    int64_t cut_ms = ocf_time_wall_ms ();
    if (!s_cut (bench, "-A", false)) {
        fprintf (stderr, "partition N=%d: iptables failed\n", size);
        goto done;
    }
    series_t each[2] = { { 0 } };
    for (int o = 0; o < size; o++)
        seen[o] = bench->nodes[o].up ? 0 : -1;
    int waiting = size - 1;
    deadline = ocf_time_mono_ms () + WAIT_MS;
    while (waiting > 0 && ocf_time_mono_ms () < deadline) {
        if (!s_read_tables (bench, views, digests)) {
            usleep (100000);
            continue;
        }
        int false_dead = 0;
        for (int o = 0; o < size; o++) {
            int64_t last = 0;
            bool all_dead = true;
            for (int s = 0; s < size; s++) {
                view_t *view = &views[o * size + s];
                if (!bench->nodes[o].up || !bench->nodes[s].up || s == o)
                    continue;
                if (bench->nodes[s].side == bench->nodes[o].side)
                    false_dead += !s_listed (view);
                else if (strcmp (view->status, "dead") == 0)
                    last = view->since_ms > last ? view->since_ms : last;
                else
                    all_dead = false;
            }
            if (seen[o] == 0 && all_dead && last > 0) {
                seen[o] = last;
                s_add (&each[bench->nodes[o].side], (double) (last - cut_ms));
                waiting--;
            }
        }
        row->false_dead = false_dead > row->false_dead ? false_dead : row->false_dead;
        usleep (250000);
    }
    s_partition_sides (row, each, waiting);
    if (waiting)
        fprintf (stderr, "partition N=%d: %d nodes did not see the other side dead in %d s\n", size, waiting, WAIT_MS / 1000);
    else
        s_verdict_times (bench, views, size, cut_ms, row);

    //  The heal: every table the same again, every node alive, the leaver still gone.
    stats_heal = s_stats (bench);
    s_partition_edge (bench, &edges, 1);
    row->load_heal = s_load_average ();
    int64_t heal_ms = ocf_time_wall_ms ();
    int64_t heal_mono = ocf_time_mono_ms ();
    if (!s_cut (bench, "-D", false)) {
        fprintf (stderr, "partition N=%d: iptables -D failed\n", size);
        goto done;
    }
    deadline = ocf_time_mono_ms () + WAIT_MS;
    bool healed = false;
    int not_alive = 0;                       //  tables with a running node not alive in them
    while (!healed && ocf_time_mono_ms () < deadline) {
        if (!s_read_tables (bench, views, digests)) {
            usleep (100000);
            continue;
        }
        int64_t now = ocf_time_mono_ms ();
        healed = true;
        int64_t last_alive = 0;
        row->digests = 0;
        int listed = 0;
        not_alive = 0;
        for (int o = 0; o < size; o++) {
            if (!bench->nodes[o].up)
                continue;
            listed += s_listed (&views[o * size + leaver]);
            bool new_digest = true;
            for (int p = 0; p < o && new_digest; p++)
                new_digest = !bench->nodes[p].up || digests[p] != digests[o];
            row->digests += new_digest;
            bool all_alive = true;
            for (int s = 0; s < size; s++) {
                view_t *view = &views[o * size + s];
                if (!bench->nodes[s].up)
                    continue;
                all_alive = all_alive && strcmp (view->status, "alive") == 0;
                if (bench->nodes[s].side != bench->nodes[o].side && view->since_ms > last_alive)
                    last_alive = view->since_ms;
            }
            not_alive += !all_alive;
            healed = healed && all_alive;
        }
        row->resurrected = listed > row->resurrected ? listed : row->resurrected;
        healed = healed && row->digests == 1;
        if (healed) {
            row->heal_poll_ms = (double) (now - heal_mono);
            row->heal_since_ms = (double) (last_alive - heal_ms);
        }
        else
            usleep (250000);
    }
    if (!healed)
        fprintf (stderr, "partition N=%d: not healed in %d s (%d distinct tables, %d with a node not alive)\n", size,
                 WAIT_MS / 1000, row->digests, not_alive);
    s_partition_edge (bench, &edges, 2);
    //  Still gone a while later: no table brings the leaver back.
    s_pause (bench, 5000);
    s_partition_edge (bench, &edges, 3);
    s_partition_phases (row, &edges);
    row->counted[1] = s_stats (bench);
    row->counted[0] = json_deep_copy (stats_heal);
    const json_t *before[2] = { stats_cut, stats_heal };
    for (int phase = 0; phase < 2; phase++) {
        const char *key;
        json_t *value;
        json_object_foreach (row->counted[phase], key, value)
            json_integer_set (value, json_integer_value (value) - json_integer_value (json_object_get (before[phase], key)));
    }
    int listed = 0;
    if (s_read_tables (bench, views, digests))
        for (int o = 0; o < size; o++)
            listed += bench->nodes[o].up && s_listed (&views[o * size + leaver]);
    row->resurrected = listed > row->resurrected ? listed : row->resurrected;
    row->ok = healed && waiting == 0 && left;
done:
    json_decref (stats_cut);
    json_decref (stats_heal);
    s_cut (bench, "-D", true);                     //  no rule outlives the run, whatever failed (errors when none is left)
    free (views);
    free (digests);
    free (seen);
    s_stop_all (bench);
}

//  serf, the same steps: its agents (LAN profile) in the same namespaces, the leaver's
//  SIGINT (serf's graceful leave), then what every agent lists, polled. serf keeps no
//  status_since: its times are those of the first list that showed the change (a round of
//  lists from every agent every 100-300 ms), an upper bound.
static void
s_serf_lists (bench_t *bench)
{
    for (int i = 0; i < bench->count; i++) {
        node_t *node = &bench->nodes[i];
        node->members_alive = -1;
        if (node->up && !node->full_list_asked) {
            node->full_list_asked = true;
            serf_rpc_members (&node->rpc, NULL);
        }
    }
    int64_t deadline = ocf_time_mono_ms () + 2000;
    bool all = false;
    while (!all && ocf_time_mono_ms () < deadline) {
        s_serf_poll (bench, 20);
        all = true;
        for (int i = 0; i < bench->count && all; i++)
            all = !bench->nodes[i].up || bench->nodes[i].members_alive >= 0;
    }
}

static void
s_run_partition_serf (bench_t *bench, int size, partition_row_t *row)
{
    if (!s_partition_start (bench, &s_serf, size, row))
        return;
    bench->leaver = size - 1;
    node_t *gone = &bench->nodes[bench->leaver];
    kill (gone->pids[0], SIGINT);
    int64_t deadline = ocf_time_mono_ms () + 10000;
    while (waitpid (gone->pids[0], NULL, WNOHANG) == 0 && ocf_time_mono_ms () < deadline)
        usleep (50000);
    s_kill_node (bench, bench->leaver);
    bool left = false;
    deadline = ocf_time_mono_ms () + 30000;
    while (!left && ocf_time_mono_ms () < deadline) {
        s_serf_lists (bench);
        left = true;
        for (int o = 0; o < size && left; o++)
            left = !bench->nodes[o].up || (bench->nodes[o].members_alive >= 0 && !bench->nodes[o].lists_leaver);
        if (!left)
            usleep (250000);
    }
    if (!left)
        fprintf (stderr, "partition N=%d: serf's leave did not reach every agent in 30 s\n", size);
    s_pause (bench, 3000);
    int up[2] = { 0, 0 };
    for (int i = 0; i < size; i++)
        up[bench->nodes[i].side] += bench->nodes[i].up;

    edges_t edges;
    row->load_cut = s_load_average ();
    s_partition_edge (bench, &edges, 0);
    int64_t cut_ms = ocf_time_wall_ms ();
    bool healed = false;
    int waiting = 0;
    series_t each[2] = { { 0 } };
    if (!s_cut (bench, "-A", false)) {
        fprintf (stderr, "partition N=%d: iptables failed\n", size);
        goto done;
    }
    bool *seen = calloc ((size_t) size, sizeof *seen);
    waiting = up[0] + up[1];
    deadline = ocf_time_mono_ms () + WAIT_MS;
    while (waiting > 0 && ocf_time_mono_ms () < deadline) {
        s_serf_lists (bench);
        int false_dead = 0;
        for (int o = 0; o < size; o++) {
            node_t *node = &bench->nodes[o];
            if (!node->up || node->members_alive < 0)
                continue;
            //  Alive ones it lists: itself, its side, the far side not failed yet.
            false_dead += up[node->side] - (node->members_alive - (up[!node->side] - node->far_failed));
            if (!seen[o] && node->far_failed == up[!node->side]) {
                seen[o] = true;
                s_add (&each[node->side], (double) (node->answered_ms - cut_ms));
                waiting--;
            }
        }
        row->false_dead = false_dead > row->false_dead ? false_dead : row->false_dead;
        usleep (100000);
    }
    free (seen);
    s_partition_sides (row, each, waiting);
    if (waiting)
        fprintf (stderr, "partition N=%d: %d serf agents did not see the other side failed in %d s\n", size, waiting,
                 WAIT_MS / 1000);

    s_partition_edge (bench, &edges, 1);
    row->load_heal = s_load_average ();
    int64_t heal_mono = ocf_time_mono_ms ();
    if (!s_cut (bench, "-D", false)) {
        fprintf (stderr, "partition N=%d: iptables -D failed\n", size);
        goto done;
    }
    deadline = ocf_time_mono_ms () + WAIT_MS;
    int not_alive = 0;
    while (!healed && ocf_time_mono_ms () < deadline) {
        s_serf_lists (bench);
        int listed = 0;
        not_alive = 0;
        for (int o = 0; o < size; o++)
            if (bench->nodes[o].up) {
                not_alive += bench->nodes[o].members_alive != up[0] + up[1];
                listed += bench->nodes[o].lists_leaver;
            }
        row->resurrected = listed > row->resurrected ? listed : row->resurrected;
        healed = not_alive == 0;
        if (healed)
            row->heal_poll_ms = (double) (ocf_time_mono_ms () - heal_mono);
        else
            usleep (100000);
    }
    if (!healed)
        fprintf (stderr, "partition N=%d: serf not healed in %d s (%d agents missing a member)\n", size, WAIT_MS / 1000,
                 not_alive);
    s_partition_edge (bench, &edges, 2);
    s_pause (bench, 5000);
    s_partition_edge (bench, &edges, 3);
    s_partition_phases (row, &edges);
    s_serf_lists (bench);
    for (int o = 0, listed = 0; o < size; o++) {
        listed += bench->nodes[o].up && bench->nodes[o].lists_leaver;
        row->resurrected = listed > row->resurrected ? listed : row->resurrected;
    }
    row->ok = healed && waiting == 0 && left;
done:
    s_cut (bench, "-D", true);
    s_stop_all (bench);
}

static void
s_partition_report (FILE *out, int size, const partition_row_t *row)
{
    bool serf = row->ops == &s_serf;
    char since[32] = "n/a", digests[16] = "n/a", verdicts[64] = "n/a";
    if (!serf) {
        snprintf (since, sizeof since, "%.0f ms", row->heal_since_ms);
        snprintf (digests, sizeof digests, "%d", row->digests);
        snprintf (verdicts, sizeof verdicts, "%.0f ms / p50 %.0f ms, max %.0f ms", row->first_verdict_ms,
                  row->verdict_spread_ms[0], row->verdict_spread_ms[1]);
    }
    fprintf (out, "| %s | %d | %.1f / %.1f | %.0f ms (p50 %.0f) | %.0f ms (p50 %.0f) | %s | %d | %.0f ms | %s | %s | %d |%s\n",
             row->ops->name, size, row->load_cut, row->load_heal, row->side_ms[0], row->side_p50_ms[0], row->side_ms[1],
             row->side_p50_ms[1], verdicts, row->false_dead, row->heal_poll_ms, since, digests, row->resurrected,
             row->ok ? "" : " (failed: see stderr)");
    fflush (out);
}

//  Where the CPU went, phase by phase.
static void
s_partition_cost_report (FILE *out, int size, const partition_row_t *row)
{
    const char *phases[] = { "cut -> every side sees the other dead", "heal -> identical tables", "5 s after" };
    //  serf's agent is pids[0], counted where tabled is for ours.
    for (int phase = 0; phase < 3 && row->ok; phase++)
        fprintf (out, "| %s | %d | %s | %.1f s | %.1f s | %.1f s | %.0f %% |\n", row->ops->name, size, phases[phase],
                 row->wall_s[phase], row->cpu_s[phase][0], row->cpu_s[phase][1],
                 100 * (row->cpu_s[phase][0] + row->cpu_s[phase][1]) / (row->wall_s[phase] * (double) sysconf (_SC_NPROCESSORS_ONLN)));
}

//  What the nodes counted from the cut to the heal and from the heal to the end, per node:
//  gossipd's messages by type, tabled's merges and commits (the nonzero ones).
static void
s_partition_counted_report (FILE *out, int size, const partition_row_t *row)
{
    const char *phases[] = { "the cut to the heal", "the heal to the end" };
    for (int phase = 0; phase < 2 && row->counted[phase]; phase++) {
        fprintf (out, "\nCounted from %s, per node (N = %d):", phases[phase], size);
        const char *key;
        json_t *value;
        json_object_foreach (row->counted[phase], key, value)
            if (json_integer_value (value))
                fprintf (out, " %s %.1f;", key, (double) json_integer_value (value) / (size - 1));
        fprintf (out, "\n");
    }
}

//  --------------------------------------------------------------------------
//  Report

static void
s_cell (FILE *out, series_t *series, const char *unit, int digits)
{
    if (!series->count)
        fprintf (out, " n/a");
    else {
        double median = s_quantile (series, 0.5);
        fprintf (out, " %.*f%s (%.*f–%.*f)", digits, median, unit, digits, series->values[0], digits,
                 series->values[series->count - 1]);
    }
    if (series->missed)
        fprintf (out, " **%zu never completed**", series->missed);
    fprintf (out, " |");
}

static void
s_each_cell (FILE *out, series_t *series)
{
    if (!series->count) {
        fprintf (out, " n/a |");
        return;
    }
    fprintf (out, " p50 %.0f ms, max %.0f ms |", s_quantile (series, 0.5), s_quantile (series, 1.0));
}

static void
s_machine (FILE *out)
{
    FILE *cpu = popen ("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-; nproc; uname -r; serf version | head -1; "
                       "awk '/MemTotal/ { printf \"%.1f GiB\\n\", $2 / 1048576 }' /proc/meminfo; ulimit -n; "
                       "cat /proc/sys/kernel/pid_max", "r");
    fprintf (out, "Machine:");
    char line[256];
    const char *labels[] = { " CPU", ", nproc", ", kernel", ", serf", ", memory", ", open files limit", ", pid_max" };
    for (int i = 0; cpu && fgets (line, sizeof line, cpu) && i < 7; i++) {
        line[strcspn (line, "\n")] = '\0';
        fprintf (out, "%s %s", labels[i], line + strspn (line, " "));
    }
    if (cpu)
        pclose (cpu);
    fprintf (out, ".\n\n");
}

int
main (int argc, char **argv)
{
    int sizes[8] = { 8, 16, 32, 64 }, size_count = 4, reps = 3, changes = 5, crashes = 2, idle_s = 15;
    const char *out_dir = "bench-gossip", *systems = "ocf,serf";
    static bench_t bench;
    bool partition = false;
    char bin_dir[256] = OCF_BIN_DIR;
    static const struct option options[] = {
        { "sizes", required_argument, NULL, 's' }, { "reps", required_argument, NULL, 'r' },
        { "changes", required_argument, NULL, 'c' }, { "crashes", required_argument, NULL, 'k' },
        { "idle", required_argument, NULL, 'i' }, { "out", required_argument, NULL, 'o' },
        { "systems", required_argument, NULL, 'y' }, { "bin", required_argument, NULL, 'b' },
        { "probe-ms", required_argument, NULL, 'p' }, { "partition", required_argument, NULL, 'P' },
        { NULL, 0, NULL, 0 }
    };
    int option;
    while ((option = getopt_long (argc, argv, "s:r:c:k:i:o:y:b:p:P:", options, NULL)) != -1)
        switch (option) {
            case 's': {
                size_count = 0;
                char *copy = strdup (optarg), *saveptr = NULL;
                for (char *item = strtok_r (copy, ",", &saveptr); item && size_count < 8; item = strtok_r (NULL, ",", &saveptr))
                    sizes[size_count++] = atoi (item);
                free (copy);
                break;
            }
            case 'r': reps = atoi (optarg); break;
            case 'c': changes = atoi (optarg); break;
            case 'k': crashes = atoi (optarg); break;
            case 'i': idle_s = atoi (optarg); break;
            case 'o': out_dir = optarg; break;
            case 'y': systems = optarg; break;
            case 'b': snprintf (bin_dir, sizeof bin_dir, "%s", optarg); break;
            case 'p': s_probe_ms = atoi (optarg); break;
            case 'P':
                partition = sscanf (optarg, "%63[^=]=%63[^,],%63[^=]=%63s", bench.ns[0], bench.addr[0], bench.ns[1],
                                    bench.addr[1]) == 4;
                if (!partition) {
                    fprintf (stderr, "bench_gossip: --partition wants NS_A=ADDR_A,NS_B=ADDR_B, not '%s'\n", optarg);
                    return 2;
                }
                break;
            default:
                fprintf (stderr, "usage: bench_gossip [--sizes 8,16,32,64] [--reps 3] [--changes 5] [--crashes 2] "
                                 "[--idle 15] [--systems ocf,serf] [--probe-ms 10] [--out DIR] [--bin DIR] "
                                 "[--partition NS_A=ADDR_A,NS_B=ADDR_B]\n");
                return 2;
        }
    zsys_handler_set (NULL);         //  ^C stops the benchmark (its nodes die with it)
    zsys_init ();
    mkdir (out_dir, 0755);
    bench.partition = partition;
    snprintf (bench.root, sizeof bench.root, "/tmp/ocf-bench-XXXXXX");
    if (!mkdtemp (bench.root))
        return 1;
    snprintf (bench.bin_dir, sizeof bench.bin_dir, "%s", bin_dir);
    char path[400];
    snprintf (path, sizeof path, "%s/results.md", out_dir);
    FILE *report = fopen (path, "w");
    FILE *outs[] = { stdout, report };
    if (partition) {
        for (int o = 0; o < 2; o++) {
            fprintf (outs[o], "# A 50/50 partition, then healed (systems: %s); sides in namespaces %s (%s) and %s (%s)\n\n",
                     systems, bench.ns[0], bench.addr[0], bench.ns[1], bench.addr[1]);
            s_machine (outs[o]);
            fprintf (outs[o], "ocf-gossipd: from the tables' own status_since; serf (LAN profile): from its agents' member "
                              "lists, polled (a round every 100-300 ms), failed for dead. One row per repetition. The last "
                              "node leaves before the cut.\n\n"
                              "| system | N | load at cut / heal | A: cut -> every B dead, last observer (median) "
                              "| B: cut -> every A dead | cut -> last far node first dead in a table / a far node's death, first "
                              "table -> every table | same-side rows not alive | healed -> identical tables, all alive (polled) "
                              "| healed -> far side alive in every table (status_since) | distinct tables at the end "
                              "| tables listing the leaver |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
        }
        partition_row_t *rows = calloc ((size_t) (size_count * reps * 2), sizeof *rows);
        for (int s = 0; s < size_count; s++)
            for (int rep = 0; rep < reps; rep++) {
                for (int sys = 0; sys < 2; sys++) {
                    if (!strstr (systems, sys == 0 ? "ocf" : "serf"))
                        continue;
                    partition_row_t *row = &rows[(s * reps + rep) * 2 + sys];
                    bench.base_port = ocf_test_free_ports (2 * sizes[s]);
                    if (sys == 0)
                        s_run_partition (&bench, sizes[s], row);
                    else
                        s_run_partition_serf (&bench, sizes[s], row);
                    for (int o = 0; o < 2; o++)
                        s_partition_report (outs[o], sizes[s], row);
                }
            }
        for (int o = 0; o < 2; o++) {
            fprintf (outs[o], "\nCPU of all tableds and all gossipds (serf: of its agents, in the first column), user + "
                              "system, every thread, phase by phase:\n\n"
                              "| system | N | phase | wall | tableds (serf agents) | gossipds | of the machine |\n"
                              "|---|---|---|---|---|---|---|\n");
            for (int r = 0; r < size_count * reps * 2; r++)
                if (rows[r].ops)
                    s_partition_cost_report (outs[o], sizes[r / (reps * 2)], &rows[r]);
            for (int r = 0; r < size_count * reps * 2; r++)
                s_partition_counted_report (outs[o], sizes[r / (reps * 2)], &rows[r]);
        }
        for (int r = 0; r < size_count * reps * 2; r++)
            for (int phase = 0; phase < 2; phase++)
                json_decref (rows[r].counted[phase]);
        free (rows);
        size_count = 0;
    }
    for (int o = 0; o < 2 && !partition; o++) {
        fprintf (outs[o], "# ocf-gossipd vs serf (LAN profile), %d repetition(s) per size, 127.0.0.1\n\n", reps);
        s_machine (outs[o]);
        fprintf (outs[o], "Medians, (ranges) over repetitions; per-observer latencies as p50/max over all observers.\n\n"
                          "| system | N | join: last started -> all see it | record change -> all | change per observer "
                          "| kill -9 -> all see it dead | crash per observer | idle B/s per node (sent) | RSS MB | tabled RSS MB "
                          "| private MB | TCP connections per process | load |\n"
                          "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        fflush (outs[o]);
    }
    for (int s = 0; s < size_count; s++) {
        for (int sys = 0; sys < 2; sys++) {
            const system_ops_t *ops = sys == 0 ? &s_ocf : &s_serf;
            if (!strstr (systems, sys == 0 ? "ocf" : "serf"))
                continue;
            results_t results = { 0 };
            for (int rep = 0; rep < reps; rep++) {
                bench.base_port = ocf_test_free_ports (2 * sizes[s]);
                s_run_cluster (&bench, ops, sizes[s], changes, crashes, idle_s, &results);
            }
            for (int o = 0; o < 2; o++) {
                fprintf (outs[o], "| %s | %d |", ops->name, sizes[s]);
                s_cell (outs[o], &results.join_all, " ms", 0);
                s_cell (outs[o], &results.change_all, " ms", 0);
                s_each_cell (outs[o], &results.change_each);
                s_cell (outs[o], &results.crash_all, " ms", 0);
                s_each_cell (outs[o], &results.crash_each);
                s_cell (outs[o], &results.idle, "", 0);
                s_cell (outs[o], &results.rss, "", 1);
                s_cell (outs[o], &results.rss_tabled, "", 1);
                s_cell (outs[o], &results.private_mb, "", 1);
                s_cell (outs[o], &results.conns, "", 0);
                s_cell (outs[o], &results.load, "", 1);
                fprintf (outs[o], "%s\n", results.failures ? " (failures: see stderr)" : "");
                fflush (outs[o]);
            }
        }
    }
    fclose (report);
    char command[400];
    snprintf (command, sizeof command, "rm -rf '%s'", bench.root);
    if (!getenv ("BENCH_KEEP") && system (command) != 0)
        fprintf (stderr, "cannot remove %s\n", bench.root);
    return 0;
}

/*  The dashboard against three real hosts (A, B, C: tabled and proxyd each, rows copied as
    gossip would), B and C with a test backend for the model m1 (C also m2) and a GPU in their
    record, A with ocf-workerd checking a backend of its own (model ma) as service llm:
    GET /v1/dashboard's document, its events as the network changes, and the page in headless
    Chromium (browser/dashboard_test.mjs: hosts, models, graph, keyboard, themes, both
    viewports, drain and undrain of A's llm with the page's buttons, no console error, an event
    listed within 2 s of the change; screenshots in the build tree's artifacts/).  */
#include "fabric.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static fabric_t s_fabric;
static fabric_host_t *A, *B, *C;
static pid_t s_workerd;

#define GPU "{\"gpus\": [{\"index\": 0, \"name\": \"Test GPU\", \"utilization\": 37, \"memory_used_mb\": 10240, " \
            "\"memory_total_mb\": 81920, \"temperature\": 54}]}"

static void
s_gpu (fabric_host_t *host)
{
    bool ok;
    json_t *reply = ocf_test_call (&host->node, "tabled", "SELF.SET",
                                   json_pack ("{s:o}", "hardware", json_loads (GPU, 0, NULL)), &ok);
    cr_assert (ok, "SELF.SET on %s failed", host->name);
    json_decref (reply);
}

static void
s_setup (void)
{
    const char *ma[] = { "--model", "ma", NULL };
    fabric_backend_t *a1 = fabric_backend (&s_fabric, "a1", ma);
    char extra[256];
    snprintf (extra, sizeof extra, "[workerd]\nhealth_interval = 200ms\n[service.llm]\nport = %d\nidentity_group = model=ma\n",
              a1->port);
    A = fabric_host (&s_fabric, "host-a", extra);
    B = fabric_host (&s_fabric, "host-b", NULL);
    C = fabric_host (&s_fabric, "host-c", NULL);
    const char *m1[] = { "--model", "m1", NULL };
    const char *m12[] = { "--model", "m1", "--model", "m2", NULL };
    fabric_service (B, "llm", fabric_backend (&s_fabric, "b1", m1), "model=m1", NULL);
    fabric_service (C, "llm", fabric_backend (&s_fabric, "c1", m12), "model=m1,model=m2", NULL);
    s_gpu (B);
    s_gpu (C);
    s_workerd = ocf_test_start (&A->node, "ocf-workerd", NULL, 10000);
    cr_assert_gt (s_workerd, 0, "ocf-workerd of host-a did not start (see %s)", A->node.root);
    cr_assert (fabric_wait_model (A, "ma", 1, 20000), "host-a's workerd did not register its llm");
    fabric_sync (&s_fabric);
    cr_assert (fabric_wait_model (A, "m1", 2, 5000), "host A does not route m1 to two providers");
    //  Round-trip times from A, as its gossipd would report them: B near, C unmeasured.
    bool ok;
    json_decref (ocf_test_call (&A->node, "tabled", "RTT", json_pack ("{s:{s:f}}", "rtt", B->id, 3.5), &ok));
    cr_assert (ok, "RTT on host-a failed");
    cr_assert (fabric_wait_model (A, "m2", 1, 5000));
}

static void
s_teardown (void)
{
    if (s_workerd > 0) {
        int status = ocf_test_stop (s_workerd, SIGTERM, 10000);
        cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0, "ocf-workerd did not stop cleanly (status %d)", status);
    }
    fabric_stop (&s_fabric);
}

TestSuite (proxyd_dashboard, .init = s_setup, .fini = s_teardown, .timeout = 90);

static json_t *
s_dashboard (fabric_host_t *host, const char *query)
{
    char url[160];
    snprintf (url, sizeof url, "%s/v1/dashboard%s", host->url, query);
    fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
    cr_assert_eq (response.status, 200, "%s: %ld %s", url, response.status, response.body);
    json_t *json = fabric_json (&response);
    cr_assert (json, "%s is not JSON: %s", url, response.body);
    fabric_response_free (&response);
    return json;
}

static json_t *s_node (json_t *dashboard, fabric_host_t *host);

static bool
s_rtt_shown (void *arg)
{
    json_t *dashboard = s_dashboard (A, "");
    json_t *rtt = json_object_get (s_node (dashboard, B), "rtt_ms");
    bool shown = json_is_number (rtt) && json_number_value (rtt) == 3.5;
    json_decref (dashboard);
    return shown;
}

static json_t *
s_node (json_t *dashboard, fabric_host_t *host)
{
    json_t *node;
    size_t index;
    json_array_foreach (json_object_get (dashboard, "nodes"), index, node)
        if (strcmp (json_string_value (json_object_get (node, "id")), host->id) == 0)
            return node;
    cr_assert_fail ("%s is not among the nodes", host->name);
    return NULL;
}

typedef struct {
    fabric_host_t *host;
    uint64_t since;
    const char *kind;
    fabric_host_t *about;
} event_wait_t;

static bool
s_event_listed (void *arg)
{
    event_wait_t *wait = arg;
    char query[48];
    snprintf (query, sizeof query, "?since=%" PRIu64, wait->since);
    json_t *dashboard = s_dashboard (wait->host, query), *event;
    size_t index;
    bool found = false;
    json_array_foreach (json_object_get (dashboard, "events"), index, event) {
        cr_assert_gt (json_integer_value (json_object_get (event, "seq")), (json_int_t) wait->since, "?since was ignored");
        found |= strcmp (json_string_value (json_object_get (event, "kind")), wait->kind) == 0
              && strcmp (json_string_value (json_object_get (event, "node")), wait->about->id) == 0;
    }
    json_decref (dashboard);
    return found;
}

//  Chat completions for m1 through A.
static void
s_requests (int count)
{
    char url[128], body[160];
    snprintf (url, sizeof url, "%s/v1/chat/completions", A->url);
    snprintf (body, sizeof body, "{\"model\": \"m1\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}");
    for (int i = 0; i < count; i++) {
        fabric_response_t response = fabric_http ("POST", url, NULL, body);
        cr_assert_eq (response.status, 200, "%s", response.body);
        fabric_response_free (&response);
    }
}

Test (proxyd_dashboard, data_follows_the_network)
{
    char url[160];
    s_requests (4);
    cr_assert (ocf_test_wait_for (s_rtt_shown, NULL, 5000), "host-b's round-trip time (3.5 ms) is not shown");
    json_t *dashboard = s_dashboard (A, "");
    cr_assert_str_eq (json_string_value (json_object_get (dashboard, "self")), A->id);
    cr_assert (json_is_true (json_object_get (dashboard, "control")), "a client on this host may use the controls");
    cr_assert_eq (json_array_size (json_object_get (dashboard, "nodes")), 3);
    cr_assert (json_is_true (json_object_get (s_node (dashboard, A), "self")));
    json_t *b = s_node (dashboard, B);
    cr_assert_str_eq (json_string_value (json_object_get (b, "status")), "alive");
    cr_assert (json_is_false (json_object_get (b, "draining")));
    cr_assert_eq (json_integer_value (json_object_get (json_array_get (json_object_get (b, "gpus"), 0), "utilization")), 37);
    cr_assert (!json_object_get (s_node (dashboard, A), "rtt_ms"), "this host has no link to itself");
    cr_assert (!json_object_get (s_node (dashboard, C), "rtt_ms"), "C's round-trip time is not measured");
    json_t *service = json_array_get (json_object_get (b, "services"), 0);
    cr_assert_str_eq (json_string_value (json_object_get (service, "status")), "ready");
    cr_assert_str_eq (json_string_value (json_array_get (json_object_get (service, "models"), 0)), "m1");
    //  m1: two providers, the four requests routed here, none failed, a first-byte time.
    json_t *m1 = json_object_get (json_object_get (dashboard, "models"), "m1");
    cr_assert (m1, "m1 is not listed");
    cr_assert_eq (json_array_size (json_object_get (m1, "providers")), 2);
    cr_assert_eq (json_integer_value (json_object_get (m1, "requests")), 4);
    cr_assert_eq (json_integer_value (json_object_get (m1, "inflight")), 0);
    cr_assert_float_eq (json_real_value (json_object_get (m1, "error_rate")), 0.0, 1e-9);
    cr_assert (json_is_number (json_object_get (m1, "ttft_p50_ms")));
    cr_assert (json_number_value (json_object_get (m1, "ttft_p99_ms")) >= json_number_value (json_object_get (m1, "ttft_p50_ms")));
    //  m2 is served but nothing was routed to it here: no figures.
    json_t *m2 = json_object_get (json_object_get (dashboard, "models"), "m2");
    cr_assert (json_is_null (json_object_get (m2, "ttft_p50_ms")) || !json_object_get (m2, "ttft_p50_ms"));
    uint64_t since = (uint64_t) json_integer_value (json_object_get (dashboard, "events_seq"));
    json_decref (dashboard);
    const char *bad[] = { "?since=", "?since=x", "?since=-1", "?since=1x", "?since=99999999999999999999999", NULL };
    for (const char **query = bad; *query; query++) {
        snprintf (url, sizeof url, "%s/v1/dashboard%s", A->url, *query);
        fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
        cr_assert_eq (response.status, 400, "%s: %ld %s", *query, response.status, response.body);
        cr_assert (strstr (response.body, "since"), "%s", response.body);
        fabric_response_free (&response);
    }

    //  A host suspected then dead, a service up then down: each listed, and only newer events.
    fabric_set_status (A, C, "suspect");
    event_wait_t suspect = { A, since, "suspect", C };
    cr_assert (ocf_test_wait_for (s_event_listed, &suspect, 5000), "no 'suspect' event for host-c");
    fabric_set_status (A, C, "dead");
    event_wait_t dead = { A, since, "dead", C };
    cr_assert (ocf_test_wait_for (s_event_listed, &dead, 5000), "no 'dead' event for host-c");
    bool ok;
    json_decref (ocf_test_call (&A->node, "tabled", "SERVICE.UP", json_pack ("{s:{s:s, s:s, s:i, s:s}}", "service",
                                "name", "extra", "host", "127.0.0.1", "port", 9, "status", "draining"), &ok));
    cr_assert (ok);
    event_wait_t up = { A, since, "service_up", A };
    cr_assert (ocf_test_wait_for (s_event_listed, &up, 5000), "no 'service_up' event for host-a");
    json_decref (ocf_test_call (&A->node, "tabled", "SERVICE.DOWN", json_pack ("{s:s}", "name", "extra"), &ok));
    cr_assert (ok);
    event_wait_t down = { A, since, "service_down", A };
    cr_assert (ocf_test_wait_for (s_event_listed, &down, 5000), "no 'service_down' event for host-a");
}

//  A line from the script's output (NULL at its end or after timeout_ms), into line.
static char *
s_read_line (FILE *output, int fd, char *line, size_t size, int timeout_ms)
{
    struct pollfd poller = { fd, POLLIN, 0 };
    if (poll (&poller, 1, timeout_ms) <= 0)
        return NULL;
    return fgets (line, (int) size, output);
}

static int64_t
s_wall_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

Test (proxyd_dashboard, page_in_chromium)
{
    if (access ("/usr/bin/chromium", X_OK) != 0 && !getenv ("OCF_CHROMIUM"))
        cr_skip_test ("no /usr/bin/chromium (Debian's chromium package; .ci/deps installs it)");
    s_requests (3);
    int to_script[2], from_script[2];
    cr_assert_eq (pipe (to_script), 0);
    cr_assert_eq (pipe (from_script), 0);
    char url[96];
    snprintf (url, sizeof url, "%s/", A->url);
    pid_t script = fork ();
    if (script == 0) {
        dup2 (to_script[0], 0);
        dup2 (from_script[1], 1);
        dup2 (from_script[1], 2);
        close (to_script[1]);
        close (from_script[0]);
        execlp ("node", "node", "--experimental-websocket", "--no-warnings", OCF_DASHBOARD_SCRIPT, url,
                OCF_ARTIFACTS_DIR, (char *) NULL);
        _exit (127);
    }
    close (to_script[0]);
    close (from_script[1]);
    FILE *output = fdopen (from_script[0], "r");
    char line[4096], transcript[16384] = "";
    //  The script ends itself after 60 s in all.
    bool ready = false;
    while (!ready && s_read_line (output, from_script[0], line, sizeof line, 70000)) {
        strncat (transcript, line, sizeof transcript - strlen (transcript) - 1);
        ready = strncmp (line, "READY", 5) == 0;
    }
    cr_assert (ready, "the page's checks failed:\n%s", transcript);
    char go[64];
    snprintf (go, sizeof go, "GO %" PRId64 "\n", s_wall_ms ());
    fabric_set_status (A, C, "dead");
    cr_assert_eq (write (to_script[1], go, strlen (go)), (ssize_t) strlen (go));
    while (s_read_line (output, from_script[0], line, sizeof line, 70000))
        strncat (transcript, line, sizeof transcript - strlen (transcript) - 1);
    int status;
    waitpid (script, &status, 0);
    fclose (output);
    close (to_script[1]);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "the page's checks failed:\n%s", transcript);
    cr_assert (strstr (transcript, "OK event after"), "%s", transcript);
    cr_log_info ("%s", transcript);
}

/*  The dashboard against three real hosts (A, B, C: tabled and proxyd each, rows copied as
    gossip would), B and C with a test backend for the model m1 (C also m2) and a GPU in their
    record, A with ocf-workerd checking a backend of its own (model ma) as service llm:
    GET /v1/dashboard's document, its events as the network changes, and the page in headless
    Chromium (browser/dashboard_test.mjs: hosts, models, graph, keyboard, themes, both
    viewports, drain and undrain of A's llm with the page's buttons, no console error, an event
    listed within 2 s of the change; screenshots in the build tree's artifacts/), and the page
    as a client on another machine sees it (browser/dashboard_remote_test.mjs in a network
    namespace: no control until the admin key is given, a wrong key refused, the host's key
    drains and undrains).  */
#include "fabric.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ADMIN_KEY "dashboard-admin-key-0123456789"

static fabric_t s_fabric;
static fabric_host_t *A, *B, *C;
static pid_t s_workerd;
static ocf_test_netns_t s_remote_client;

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
    //  Reachable from another machine, which the admin key lets use the drain controls.
    s_fabric.listen_host = "0.0.0.0";
    A = fabric_host_unstarted (&s_fabric, "host-a", ocf_test_free_port (), extra);
    char path[400], key_line[512];
    snprintf (path, sizeof path, "%s/admin.key", A->node.root);
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fprintf (file, "%s\n", ADMIN_KEY);
    fclose (file);
    snprintf (key_line, sizeof key_line, "[proxyd]\nadmin_key_file = %s\n", path);
    ocf_test_node_config (&A->node, key_line);
    fabric_start_tabled (A);
    fabric_start_proxyd (A);
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
    ocf_test_netns_destroy (&s_remote_client);
}

TestSuite (proxyd_dashboard, .init = s_setup, .fini = s_teardown, .timeout = 90);

static json_t *s_node (json_t *dashboard, fabric_host_t *host);

static bool
s_rtt_shown (void *arg)
{
    json_t *dashboard = fabric_get_json (A, "/v1/dashboard");
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
    char path[64];
    snprintf (path, sizeof path, "/v1/dashboard?since=%" PRIu64, wait->since);
    json_t *dashboard = fabric_get_json (wait->host, path), *event;
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
    json_t *dashboard = fabric_get_json (A, "/v1/dashboard");
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

typedef struct {
    pid_t pid;
    FILE *output;                //  its stdout and stderr
    int output_fd;
    int input_fd;                //  its stdin
    char transcript[16384];      //  what it printed so far
} script_t;

static void
s_script_start (script_t *script, const char *const *argv)
{
    if (access ("/usr/bin/chromium", X_OK) != 0 && !getenv ("OCF_CHROMIUM"))
        cr_skip_test ("no /usr/bin/chromium (Debian's chromium package; .ci/deps installs it)");
    int to_script[2], from_script[2];
    cr_assert_eq (pipe (to_script), 0);
    cr_assert_eq (pipe (from_script), 0);
    script->pid = fork ();
    if (script->pid == 0) {
        dup2 (to_script[0], 0);
        dup2 (from_script[1], 1);
        dup2 (from_script[1], 2);
        close (to_script[1]);
        close (from_script[0]);
        execvp (argv[0], (char *const *) argv);
        _exit (127);
    }
    close (to_script[0]);
    close (from_script[1]);
    script->input_fd = to_script[1];
    script->output_fd = from_script[0];
    script->output = fdopen (from_script[0], "r");
    script->transcript[0] = '\0';
}

//  Reads the script's lines until one starts with prefix (true) or its output ends (false).
//  The scripts end themselves after 60 s in all.
static bool
s_script_until (script_t *script, const char *prefix)
{
    char line[4096];
    while (s_read_line (script->output, script->output_fd, line, sizeof line, 70000)) {
        strncat (script->transcript, line, sizeof script->transcript - strlen (script->transcript) - 1);
        if (prefix && strncmp (line, prefix, strlen (prefix)) == 0)
            return true;
    }
    return false;
}

//  Reads the rest, waits for the exit: it must be 0 and the transcript hold `ok`.
static void
s_script_finish (script_t *script, const char *ok)
{
    s_script_until (script, NULL);
    int status;
    waitpid (script->pid, &status, 0);
    fclose (script->output);
    close (script->input_fd);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "the page's checks failed:\n%s", script->transcript);
    cr_assert (strstr (script->transcript, ok), "%s", script->transcript);
    cr_log_info ("%s", script->transcript);
}

Test (proxyd_dashboard, page_in_chromium)
{
    s_requests (3);
    char url[96];
    snprintf (url, sizeof url, "%s/", A->url);
    const char *argv[] = { "node", "--experimental-websocket", "--no-warnings", OCF_DASHBOARD_SCRIPT, url,
                           OCF_ARTIFACTS_DIR, NULL };
    static script_t script;
    s_script_start (&script, argv);
    cr_assert (s_script_until (&script, "READY"), "the page's checks failed:\n%s", script.transcript);
    char go[64];
    snprintf (go, sizeof go, "GO %" PRId64 "\n", s_wall_ms ());
    fabric_set_status (A, C, "dead");
    cr_assert_eq (write (script.input_fd, go, strlen (go)), (ssize_t) strlen (go));
    s_script_finish (&script, "OK event after");
}

//  From another machine the page asks for the admin key, refuses a wrong one, and with the
//  host's key drains and undrains as a local client does.
Test (proxyd_dashboard, admin_key_from_another_machine)
{
    ocf_test_netns_new (&s_remote_client);
    char url[96];
    snprintf (url, sizeof url, "http://%s:%d/", s_remote_client.host_addr, A->port);
    const char *argv[] = { "ip", "netns", "exec", s_remote_client.name, "node", "--experimental-websocket", "--no-warnings",
                           OCF_DASHBOARD_REMOTE_SCRIPT, url, OCF_ARTIFACTS_DIR, ADMIN_KEY, NULL };
    static script_t script;
    s_script_start (&script, argv);
    s_script_finish (&script, "OK");
}

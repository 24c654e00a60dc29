/*  ocf-proxyd as a daemon: readiness with and without tabled, following tabled across a
    restart, SIGTERM letting streams finish, its local API, /metrics through promtool, load
    reports, several event loops (workers = 2), the instance lock, socket activation (a socket held across a
    restart, as ocf-proxyd.socket does), and the dashboard in headless Chromium.  */
#include "fabric.h"
#include "ocf_time.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static fabric_t s_fabric;

static void
s_teardown (void)
{
    fabric_stop (&s_fabric);
}

TestSuite (proxyd_daemon, .fini = s_teardown, .timeout = 90);

//  A host whose llm service is a test backend (started with args), routed once this returns.
static fabric_host_t *
s_serving_host (const char *extra, const char *const *args, const char *groups)
{
    fabric_host_t *host = fabric_host (&s_fabric, "host-a", extra);
    fabric_backend_t *backend = fabric_backend (&s_fabric, "b1", args);
    fabric_service (host, "llm", backend, groups, NULL);
    cr_assert (fabric_wait_model (host, "m1", 1, 5000));
    return host;
}

static json_t *
s_get (fabric_host_t *host, const char *path)
{
    char url[256];
    snprintf (url, sizeof url, "%s%s", host->url, path);
    fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
    json_t *body = response.status == 200 ? fabric_json (&response) : NULL;
    fabric_response_free (&response);
    return body;
}

static bool
s_follows_tabled (void *arg)
{
    json_t *health = s_get (arg, "/v1/health");
    bool follows = health && json_is_true (json_object_get (health, "tabled"))
                && json_integer_value (json_object_get (health, "table_size")) >= 1;
    json_decref (health);
    return follows;
}

static long
s_chat_status (fabric_host_t *host, const char *model)
{
    char url[128], body[128];
    snprintf (url, sizeof url, "%s/v1/chat/completions", host->url);
    snprintf (body, sizeof body, "{\"model\": \"%s\"}", model);
    fabric_response_t response = fabric_http ("POST", url, NULL, body);
    long status = response.status;
    fabric_response_free (&response);
    return status;
}

//  A host whose proxyd is not started yet, listening on 127.0.0.1:port with extra [proxyd] keys.
static fabric_host_t *
s_unstarted_host (const char *name, int port, const char *extra)
{
    return fabric_host_unstarted (&s_fabric, name, port, extra);
}

Test (proxyd_daemon, ready_without_tabled_then_follows_it)
{
    fabric_host_t *host = s_unstarted_host ("lonely", ocf_test_free_port (), "");
    fabric_start_proxyd (host);          //  asserts READY=1: serving with an empty view
    json_t *health = s_get (host, "/v1/health");
    cr_assert (json_is_false (json_object_get (health, "tabled")));
    cr_assert_eq (json_integer_value (json_object_get (health, "table_size")), 0);
    json_decref (health);
    cr_assert_eq (s_chat_status (host, "m1"), 404);
    fabric_start_tabled (host);
    cr_assert (ocf_test_wait_for (s_follows_tabled, host, 5000), "proxyd did not load the table once tabled started");
}

Test (proxyd_daemon, keeps_routing_while_tabled_restarts)
{
    const char *models[] = { "--model", "m1", "--model", "m2", NULL };
    fabric_host_t *host = s_serving_host (NULL, models, "model=m1");
    fabric_backend_t *backend = &s_fabric.backends[0];
    ocf_test_stop (host->tabled, SIGKILL, 2000);
    for (int i = 0; i < 10; i++)
        cr_assert_eq (s_chat_status (host, "m1"), 200, "routing stopped with tabled");
    fabric_start_tabled (host);
    //  The new run of tabled (a new boot) is loaded and followed: a service added now routes.
    fabric_service (host, "llm", backend, "model=m1,model=m2", NULL);
    cr_assert (fabric_wait_model (host, "m2", 1, 5000), "the view does not follow the restarted tabled");
    cr_assert_eq (s_chat_status (host, "m2"), 200);
}

Test (proxyd_daemon, sigterm_lets_streams_finish)
{
    const char *m1[] = { "--model", "m1", "--tokens", "10", "--token-delay-ms", "100", NULL };
    fabric_host_t *host = s_serving_host (NULL, m1, "model=m1");
    char output[300], url[128];
    snprintf (output, sizeof output, "%s/stream.out", host->node.root);
    snprintf (url, sizeof url, "%s/v1/chat/completions", host->url);
    const char *argv[] = { "/usr/bin/curl", "-s", "-N", "-o", output, "-d", "{\"model\": \"m1\", \"stream\": true}", url, NULL };
    pid_t curl = ocf_test_exec (argv, "/dev/null", NULL);
    usleep (300000);
    int64_t start = ocf_time_wall_us ();
    kill (host->proxyd, SIGTERM);
    cr_assert (ocf_test_wait_notify (&host->node, "STOPPING=1", 2000));
    //  No new connections...
    fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
    cr_assert_eq (response.status, 0, "a stopping proxyd accepted a new request");
    fabric_response_free (&response);
    //  ...but the stream in flight ends normally, and then proxyd exits with status 0.
    int status = ocf_test_stop (host->proxyd, SIGTERM, 10000);
    host->proxyd = 0;
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "exit status %d", status);
    cr_assert_gt (ocf_time_wall_us () - start, 500000, "proxyd exited before the stream could end");
    int curl_status;
    waitpid (curl, &curl_status, 0);
    cr_assert (WIFEXITED (curl_status) && WEXITSTATUS (curl_status) == 0);
    char *text = ocf_test_read_file (output);
    cr_assert (text && strstr (text, "data: [DONE]"), "the stream was cut: %s", text ? text : "(nothing)");
    free (text);
}

//  Whether nothing waits in the accept queue of the host's port (ss: a listener's Recv-Q).
static bool
s_accepted (void *arg)
{
    fabric_host_t *host = arg;
    char command[128];
    snprintf (command, sizeof command, "ss -Hltn 'sport = :%d' | awk '{ print $2 }'", host->port);
    int status;
    char *queued = ocf_test_run (command, &status);
    bool accepted = queued && atoi (queued) == 0 && *queued;
    free (queued);
    return accepted;
}

//  A connection accepted just before SIGTERM whose request comes just after it made the
//  request in time: it is answered (with Connection: close), not closed unanswered.
Test (proxyd_daemon, a_connection_made_before_sigterm_is_answered)
{
    fabric_host_t *host = fabric_host (&s_fabric, "host-a", NULL);
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) host->port),
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    cr_assert_eq (connect (fd, (struct sockaddr *) &address, sizeof address), 0);
    cr_assert (ocf_test_wait_for (s_accepted, host, 5000), "proxyd did not accept the connection");
    kill (host->proxyd, SIGTERM);
    cr_assert (ocf_test_wait_notify (&host->node, "STOPPING=1", 2000));
    usleep (200000);             //  the stop is under way: before, the connection was closed by now
    const char request[] = "GET /v1/health HTTP/1.1\r\nHost: test\r\n\r\n";
    cr_assert_eq (write (fd, request, sizeof request - 1), (ssize_t) (sizeof request - 1));
    struct timeval timeout = { .tv_sec = 5 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    char answer[4096] = "";
    ssize_t got = read (fd, answer, sizeof answer - 1);
    close (fd);
    cr_assert_gt (got, 0, "no answer: %s", got < 0 ? strerror (errno) : "the connection was closed");
    answer[got] = '\0';
    cr_assert (strncmp (answer, "HTTP/1.1 200", 12) == 0, "%s", answer);
    int status = ocf_test_stop (host->proxyd, SIGTERM, 10000);
    host->proxyd = 0;
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "exit status %d", status);
}

//  Waits until the host's row in tabled reports this many requests in flight to its llm.
static bool
s_wait_reported (fabric_host_t *host, int64_t inflight)
{
    for (int i = 0; i < 500; i++) {
        bool ok;
        json_t *entry = ocf_test_call (&host->node, "tabled", "GET", json_pack ("{s:s}", "id", host->id), &ok);
        json_t *service = json_array_get (json_object_get (json_object_get (entry, "row"), "services"), 0);
        int64_t seen = json_integer_value (json_object_get (json_object_get (service, "load"), "inflight"));
        json_decref (entry);
        if (seen == inflight)
            return true;
        usleep (10000);
    }
    return false;
}

static fabric_host_t *s_scraped;

static bool
s_metrics_have (void *text)
{
    char url[128];
    snprintf (url, sizeof url, "%s/metrics", s_scraped->url);
    fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
    bool found = response.status == 200 && strstr (response.body, text);
    fabric_response_free (&response);
    return found;
}

Test (proxyd_daemon, local_api_metrics_and_load_reports)
{
    const char *m1[] = { "--model", "m1", NULL };
    fabric_host_t *host = s_serving_host ("load_report_interval = 100ms\n", m1, "model=m1");
    cr_assert_eq (s_chat_status (host, "m1"), 200);
    bool ok;
    json_t *hello = ocf_test_call (&host->node, "proxyd", "HELLO", NULL, &ok);
    cr_assert (ok);
    cr_assert_str_eq (json_string_value (json_object_get (hello, "id")), host->id);
    json_decref (hello);
    json_t *stats = ocf_test_call (&host->node, "proxyd", "STATS", NULL, &ok);
    cr_assert (ok);
    cr_assert_geq (json_integer_value (json_object_get (stats, "requests")), 1);
    json_decref (stats);
    json_decref (ocf_test_call (&host->node, "proxyd", "NOPE", NULL, &ok));
    cr_assert (!ok);

    //  A model whose only provider is not ready has none.
    fabric_service (host, "emb", &s_fabric.backends[0], "model=e1", "{\"status\": \"starting\"}");
    s_scraped = host;
    cr_assert (ocf_test_wait_for (s_metrics_have, "\nocf_proxyd_model_providers{service=\"emb\",model=\"e1\"} 0\n", 5000));

    //  /metrics: every family lint-clean for promtool; gossipd and workerd are not running.
    char url[128], path[300], command[400];
    snprintf (url, sizeof url, "%s/metrics", host->url);
    fabric_response_t response = fabric_http ("GET", url, NULL, NULL);
    cr_assert_eq (response.status, 200);
    cr_assert (strstr (response.body, "\nocf_daemon_up{daemon=\"tabled\"} 1\n"), "%s", response.body);
    cr_assert (strstr (response.body, "\nocf_daemon_up{daemon=\"gossipd\"} 0\n"));
    cr_assert (strstr (response.body, "\nocf_tabled_rows 1\n"));
    cr_assert (strstr (response.body, "ocf_proxyd_requests_total{route=\"chat_completions\",code=\"200\"} 1\n"));
    cr_assert (strstr (response.body, "\nocf_proxyd_model_providers{service=\"llm\",model=\"m1\"} 1\n"), "%s", response.body);
    snprintf (path, sizeof path, "%s/metrics.txt", host->node.root);
    FILE *file = fopen (path, "w");
    fwrite (response.body, 1, response.body_len, file);
    fclose (file);
    fabric_response_free (&response);
    snprintf (command, sizeof command, "promtool check metrics < %s 2>&1", path);
    int status;
    char *output = ocf_test_run (command, &status);
    cr_assert_eq (status, 0, "promtool: %s", output);
    free (output);

    //  A stream in flight on this host's backend shows in its row, then goes.
    snprintf (command, sizeof command, "curl -s -N -H 'X-Test-Token-Delay-Ms: 100' -H 'X-Test-Tokens: 15' "
             "-d '{\"model\": \"m1\", \"stream\": true}' %s/v1/chat/completions > /dev/null &", host->url);
    cr_assert_eq (system (command), 0);
    cr_assert (s_wait_reported (host, 1), "the in-flight stream was not reported to tabled");
    cr_assert (s_wait_reported (host, 0), "the end of the stream was not reported");
}

Test (proxyd_daemon, two_workers_and_one_instance)
{
    const char *m1[] = { "--model", "m1", NULL };
    fabric_host_t *host = s_serving_host ("workers = 2\n", m1, "model=m1");
    //  Every event loop follows the table: all requests, whichever loop takes them, route.
    int status;
    char command[256];
    snprintf (command, sizeof command, "for i in $(seq 40); do curl -s -o /dev/null -w '%%{http_code}\\n' "
             "-d '{\"model\": \"m1\"}' %s/v1/chat/completions & done; wait", host->url);
    char *codes = ocf_test_run (command, &status);
    int ok = 0;
    for (char *line = codes; (line = strstr (line, "200")); line += 3)
        ok++;
    cr_assert_eq (ok, 40, "%s", codes);
    free (codes);
    //  A second instance on the same run directory refuses to start.
    pid_t second = ocf_test_spawn (&host->node, "ocf-proxyd", NULL);
    int exit_status;
    waitpid (second, &exit_status, 0);
    cr_assert (WIFEXITED (exit_status) && WEXITSTATUS (exit_status) != 0);
    char log[320];
    snprintf (log, sizeof log, "%s/ocf-proxyd.log", host->node.root);
    char *text = ocf_test_read_file (log);
    cr_assert (strstr (text, "refusing to start"), "%s", text);
    free (text);
}

static struct sockaddr_in
s_loopback (int port)
{
    return (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port),
                                  .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
}

//  A listening socket on 127.0.0.1:port as a socket unit holds it (no SO_REUSEPORT: a daemon
//  that bound the port itself beside it would fail).
static int
s_socket_unit (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address = s_loopback (port);
    cr_assert_eq (bind (fd, (struct sockaddr *) &address, sizeof address), 0, "port %d: %s", port, strerror (errno));
    cr_assert_eq (listen (fd, 128), 0);
    return fd;
}

//  Connects and sends "GET path" (the connection lands in the socket's backlog when nobody
//  accepts), without waiting for the answer.
static int
s_send_get (int port, const char *path)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in address = s_loopback (port);
    cr_assert_eq (connect (fd, (struct sockaddr *) &address, sizeof address), 0, "connect: %s", strerror (errno));
    char request[256];
    int len = snprintf (request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    cr_assert_eq (write (fd, request, (size_t) len), len);
    return fd;
}

//  The status of the answer on fd (read to its end, at most timeout_ms), 0 when none came.
static int
s_answer_status (int fd, int timeout_ms)
{
    char answer[4096];
    size_t used = 0;
    int64_t deadline = ocf_time_mono_ms () + timeout_ms;
    while (used < sizeof answer - 1 && ocf_time_mono_ms () < deadline) {
        struct pollfd item = { fd, POLLIN, 0 };
        if (poll (&item, 1, (int) (deadline - ocf_time_mono_ms ())) <= 0)
            continue;
        ssize_t got = read (fd, answer + used, sizeof answer - 1 - used);
        if (got <= 0)
            break;
        used += (size_t) got;
    }
    answer[used] = '\0';
    close (fd);
    int status = 0;
    return sscanf (answer, "HTTP/1.1 %d", &status) == 1 ? status : 0;
}

Test (proxyd_daemon, socket_activation_keeps_connections_across_a_restart)
{
    fabric_host_t *host = s_unstarted_host ("activated", ocf_test_free_port (), "workers = 2\n");
    host->node.listen_fd = s_socket_unit (host->port);
    fabric_start_tabled (host);
    fabric_start_proxyd (host);
    bool ok;
    json_t *hello = ocf_test_call (&host->node, "proxyd", "HELLO", NULL, &ok);
    cr_assert (ok && json_is_true (json_object_get (hello, "socket_activated")), "proxyd does not use the passed socket");
    json_decref (hello);
    cr_assert_eq (s_answer_status (s_send_get (host->port, "/v1/health"), 5000), 200);
    int status = ocf_test_stop (host->proxyd, SIGTERM, 10000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "exit status %d", status);
    //  No proxyd runs now: these connections wait in the socket, as they would in
    //  ocf-proxyd.socket during a restart, and the next proxyd answers them.
    int waiting[6];
    for (int i = 0; i < 6; i++)
        waiting[i] = s_send_get (host->port, i % 2 ? "/v1/health" : "/v1/models");
    fabric_start_proxyd (host);
    for (int i = 0; i < 6; i++)
        cr_assert_eq (s_answer_status (waiting[i], 5000), 200, "connection %d, made while proxyd restarted, was lost", i);
}

Test (proxyd_daemon, socket_activation_refuses_a_socket_on_another_address)
{
    int ports = ocf_test_free_ports (2);
    fabric_host_t *host = s_unstarted_host ("misplaced", ports, "");
    host->node.listen_fd = s_socket_unit (ports + 1);
    pid_t proxyd = ocf_test_spawn (&host->node, "ocf-proxyd", NULL);
    int status = ocf_test_stop (proxyd, 0, 5000);     //  signal 0: only waits for the exit
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) != 0, "proxyd started on a socket it was not configured for");
    char log[320], expected[160];
    snprintf (log, sizeof log, "%s/ocf-proxyd.log", host->node.root);
    snprintf (expected, sizeof expected, "listens on 127.0.0.1:%d but [proxyd] listen is 127.0.0.1:%d", ports + 1, ports);
    char *text = ocf_test_read_file (log);
    cr_assert (strstr (text, expected), "%s", text);
    free (text);
}

Test (proxyd_daemon, configuration_errors_name_the_key)
{
    char command[400];
    snprintf (command, sizeof command, "%s --check-config -c /dev/null --set proxyd.workers=0 --set proxyd.policy=fastest 2>&1",
              ocf_test_bin ("ocf-proxyd"));
    int status;
    char *output = ocf_test_run (command, &status);
    cr_assert_eq (status, 1);
    cr_assert (strstr (output, "workers") && strstr (output, "policy"), "%s", output);
    free (output);
}

Test (proxyd_daemon, dashboard_lists_the_hosts)
{
    if (access ("/usr/bin/chromium", X_OK) != 0)
        cr_skip_test ("chromium is not installed (apt-get install chromium): the dashboard test cannot run");
    fabric_host_t *a = fabric_host (&s_fabric, "dash-a", NULL);
    fabric_host (&s_fabric, "dash-b", NULL);
    const char *m1[] = { "--model", "m1", NULL };
    fabric_backend_t *backend = fabric_backend (&s_fabric, "b1", m1);
    fabric_service (a, "llm", backend, "model=model-on-a", NULL);
    fabric_sync (&s_fabric);
    cr_assert (fabric_wait_model (&s_fabric.hosts[1], "model-on-a", 1, 5000));
    char command[1024];
    snprintf (command, sizeof command,
              "chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
              "--disable-component-update --disable-sync --disable-dev-shm-usage --user-data-dir=%s/chromium "
              "--virtual-time-budget=5000 --dump-dom %s/ 2>/dev/null", a->node.root, a->url);
    int status;
    char *dom = ocf_test_run (command, &status);
    cr_assert_eq (status, 0, "chromium failed");
    cr_assert (strstr (dom, "dash-a") && strstr (dom, "dash-b"), "the dashboard does not list both hosts:\n%s", dom);
    cr_assert (strstr (dom, "model-on-a"), "the dashboard does not list the model");
    cr_assert (strstr (dom, "id=\"summary\"") && strstr (dom, "2 hosts"), "%s", dom);
    free (dom);
}

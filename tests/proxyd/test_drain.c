/*  A host drained under load, with the real daemons on loopback:
      host-a  tabled, gossipd, proxyd, workerd checking backend "ba" (model m) as service llm
      host-b  tabled, gossipd, proxyd; backend "bb" (model m) registered as service llm
    Sixteen client threads stream chat completions into both proxyds, by model (/v1/chat/completions)
    and by service (/v1/service/llm/...), while POST /v1/admin/drain on host-a drains it.
    No request may fail, every stream must end with [DONE], streams running on ba when the
    drain starts must finish there, and no request that a proxyd received after its view
    held the "draining" mark (the table event) may reach ba. The times from the drain to
    the mark in each proxyd's view, to the last request routed to ba, and to the
    withdrawal are printed ("DRAIN ...").  */
#include "fabric_load.h"
#include "ocf_time.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLIENTS 16
#define LONG_CLIENTS 2           //  of which these stream for 2 s

static fabric_t s_fabric;
static fabric_host_t *A, *B;
static fabric_backend_t *ba, *bb;
static pid_t s_gossipd[2], s_workerd;

static pid_t
s_start (fabric_host_t *host, const char *program)
{
    pid_t pid = ocf_test_start (&host->node, program, NULL, 10000);
    cr_assert_gt (pid, 0, "%s of %s did not start (see %s)", program, host->name, host->node.root);
    return pid;
}

static void
s_setup (void)
{
    //  Streams of 10 events 20 ms apart (200 ms); some clients ask for 100 (2 s), so the drain
    //  has long streams to wait for.
    const char *flags[] = { "--model", "m", "--tokens", "10", "--token-delay-ms", "20", "--threads", "2", NULL };
    ba = fabric_backend (&s_fabric, "ba", flags);
    bb = fabric_backend (&s_fabric, "bb", flags);
    int gossip_a = ocf_test_free_ports (2), gossip_b = ocf_test_free_ports (2);
    char extra[1024];
    snprintf (extra, sizeof extra, "[gossipd]\nbind = 127.0.0.1:%d\n[workerd]\nhealth_interval = 200ms\n"
              "drain_timeout = 60s\n[service.llm]\nport = %d\nidentity_group = model=m\n", gossip_a, ba->port);
    A = fabric_host (&s_fabric, "host-a", extra);
    snprintf (extra, sizeof extra, "[gossipd]\nbind = 127.0.0.1:%d\nseeds = 127.0.0.1:%d\n", gossip_b, gossip_a);
    B = fabric_host (&s_fabric, "host-b", extra);
    s_gossipd[0] = s_start (A, "ocf-gossipd");
    s_gossipd[1] = s_start (B, "ocf-gossipd");
    s_workerd = s_start (A, "ocf-workerd");
    fabric_service (B, "llm", bb, "model=m", NULL);
    cr_assert (fabric_wait_model (A, "m", 2, 20000), "host-a does not route m to both hosts");
    cr_assert (fabric_wait_model (B, "m", 2, 20000), "host-b does not route m to both hosts");
}

static void
s_teardown (void)
{
    if (s_workerd > 0) {
        int status = ocf_test_stop (s_workerd, SIGTERM, 10000);
        cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0, "ocf-workerd did not stop cleanly (status %d)", status);
    }
    for (int i = 0; i < 2; i++)
        if (s_gossipd[i] > 0)
            ocf_test_stop (s_gossipd[i], SIGTERM, 5000);
    fabric_stop (&s_fabric);
}

TestSuite (proxyd_drain, .init = s_setup, .fini = s_teardown, .timeout = 180);

//  Clients alternate between the hosts and between the two routes to the service.
static int
s_target (int client, int round, const char **path)
{
    bool by_model = (round / 2 + client) % 2;
    *path = by_model ? "/v1/chat/completions" : "/v1/service/llm/v1/chat/completions";
    return (client + round) % 2;
}

static const char *
s_drain_state (void)
{
    static char state[32];
    json_t *stats = ocf_test_call (&A->node, "workerd", "STATS", NULL, NULL);
    cr_assert_not_null (stats);
    json_t *llm = json_object_get (json_object_get (stats, "services"), "llm");
    snprintf (state, sizeof state, "%s", json_string_value (json_object_get (llm, "drain")) ?: "none");
    json_decref (stats);
    return state;
}

Test (proxyd_drain, a_host_drained_under_load_loses_no_request)
{
    fabric_load_t *load = fabric_load_start (&s_fabric, "m", CLIENTS, LONG_CLIENTS, s_target);
    usleep (1500 * 1000);

    //  The drain, from host-a's own proxyd (a local client: the admin class).
    char url[128];
    snprintf (url, sizeof url, "%s/v1/admin/drain", A->url);
    int64_t drain_us = ocf_time_wall_us ();
    fabric_response_t response = fabric_http ("POST", url, NULL, NULL);
    cr_assert_eq (response.status, 200, "%s", response.body);
    fabric_response_free (&response);

    //  When each proxyd's view holds the mark: from then on it must not choose ba.
    int64_t marked_us[2] = { 0, 0 }, drained_us = 0;
    while ((!marked_us[0] || !marked_us[1] || !drained_us) && ocf_time_wall_us () - drain_us < 60 * 1000000LL) {
        for (int host = 0; host < 2; host++) {
            char status[32];
            if (!marked_us[host]) {
                fabric_service_status (&s_fabric.hosts[host], A->id, "llm", status, sizeof status);
                //  Withdrawn already also means the mark was seen before (the view is in order).
                if (strcmp (status, "ready") != 0)
                    marked_us[host] = ocf_time_wall_us ();
            }
        }
        if (!drained_us && strcmp (s_drain_state (), "drained") == 0)
            drained_us = ocf_time_wall_us ();
        usleep (2000);
    }
    cr_assert (marked_us[0] && marked_us[1], "a proxyd never saw the drain");
    cr_assert (drained_us, "the drain did not end within 60 s");
    //  After the withdrawal, requests go on to bb alone.
    usleep (1500 * 1000);
    size_t total;
    const fabric_result_t *results = fabric_load_stop (load, &total);
    size_t failed = 0, to_ba_during = 0, to_ba_after = 0;
    int64_t last_to_ba_us = 0, last_end_on_ba_us = 0;
    for (size_t i = 0; i < total; i++) {
        const fabric_result_t *result = &results[i];
        if (result->status != 200 || !result->done) {
            failed++;
            cr_log_error ("request %zu into host-%c (sent %+.0f ms from the drain): status %ld%s", i, 'a' + result->host,
                          (double) (result->sent_us - drain_us) / 1000, result->status, result->done ? "" : ", stream cut");
            continue;
        }
        if (strcmp (result->backend, "ba") != 0)
            continue;
        if (result->sent_us > last_to_ba_us)
            last_to_ba_us = result->sent_us;
        if (result->ended_us > last_end_on_ba_us)
            last_end_on_ba_us = result->ended_us;
        if (result->sent_us < drain_us && result->ended_us > drain_us)
            to_ba_during++;
        if (result->sent_us > marked_us[result->host]) {
            to_ba_after++;
            cr_log_error ("request %zu entered host-%c %.1f ms after that proxyd had the mark, and reached ba", i,
                          'a' + result->host, (double) (result->sent_us - marked_us[result->host]) / 1000);
        }
    }
    fabric_load_destroy (&load);
    fprintf (stderr, "DRAIN %zu requests (%d clients, streams of 0.2 s and 2 s, both routes, both hosts): %zu failed; "
             "%zu streams on ba when the drain began, all finished; mark in host-a's view after %.1f ms, host-b's "
             "after %.1f ms; last request routed to ba sent %+.1f ms from the drain; last stream on ba ended %+.1f ms; "
             "withdrawn (drained) after %.1f ms\n", total, CLIENTS, failed, to_ba_during,
             (double) (marked_us[0] - drain_us) / 1000, (double) (marked_us[1] - drain_us) / 1000,
             (double) (last_to_ba_us - drain_us) / 1000, (double) (last_end_on_ba_us - drain_us) / 1000,
             (double) (drained_us - drain_us) / 1000);
    cr_assert_eq (failed, 0, "every request answered, every stream to its end");
    cr_assert_gt (to_ba_during, 0, "streams were running on the drained host when the drain began");
    cr_assert_eq (to_ba_after, 0, "no request reached ba after its proxyd held the mark");
    cr_assert_lt (drained_us - drain_us, 60 * 1000000LL, "drained by idleness, not by drain_timeout");
    char *log = NULL;
    char path[400];
    snprintf (path, sizeof path, "%s/ocf-workerd.log", A->node.root);
    log = ocf_test_read_file (path);
    cr_assert (log && strstr (log, "llm: drained in"), "workerd says the drain ended with nothing in flight");
    free (log);

    //  UNDRAIN: both hosts route to ba again.
    snprintf (url, sizeof url, "%s/v1/admin/undrain", A->url);
    response = fabric_http ("POST", url, NULL, "{\"service\": \"llm\"}");
    cr_assert_eq (response.status, 200, "%s", response.body);
    fabric_response_free (&response);
    cr_assert (fabric_wait_model (B, "m", 2, 10000), "host-b routes to host-a again");
}

Test (proxyd_drain, admin_routes_check_their_body_and_name_workerd_problems)
{
    char url[128];
    snprintf (url, sizeof url, "%s/v1/admin/drain", A->url);
    fabric_response_t response = fabric_http ("POST", url, NULL, "[1]");
    cr_assert_eq (response.status, 400);
    fabric_response_free (&response);
    response = fabric_http ("POST", url, NULL, "{\"service\": \"nope\"}");
    cr_assert_eq (response.status, 400);
    cr_assert (strstr (response.body, "no service 'nope' on this host"), "%s", response.body);
    fabric_response_free (&response);
    //  Another host's proxyd has no workerd: 503, and nothing drained anywhere.
    snprintf (url, sizeof url, "%s/v1/admin/drain", B->url);
    response = fabric_http ("POST", url, NULL, NULL);
    cr_assert_eq (response.status, 503, "%s", response.body);
    fabric_response_free (&response);
    cr_assert_str_eq (s_drain_state (), "none");
}

/*  A service's model changed by a reload of ocf-workerd, under load, with the real daemons on
    loopback: one host (tabled, proxyd, workerd) whose workerd launches ocf-test-backend as
    service llm, named "old" and serving model m. Eight client threads stream chat
    completions of model m through proxyd (two of them streams of 2 s) while the test rewrites
    the service's command (the backend named "new", serving m and m2) and sends SIGHUP.
      beside       the new backend starts on swap_port beside the old one: no request may
                   fail, no stream be cut; once the swap is done every request reaches the
                   new backend, and m2 is served; both providers are listed meanwhile.
      after_drain  the old backend drains, stops, then the new one starts on the same port:
                   streams running at the reload finish; requests in the gap are answered 503
                   no_live_provider with Retry-After (the clients retry), nothing else fails.
    The swap time and the gap are printed ("SWAP ...").  */
#include "fabric_load.h"
#include "ocf_time.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLIENTS 8
#define LONG_CLIENTS 2           //  of which these stream for 2 s

static fabric_t s_fabric;
static fabric_host_t *A;
static pid_t s_workerd;
static int s_port, s_swap_port;

//  The service section; name "old" serves m, "new" serves m and m2.
static void
s_service_section (char *text, size_t size, const char *swap, bool new_)
{
    snprintf (text, size, "[service.llm]\ncommand = %s --listen 127.0.0.1:{port} --name %s --model m%s --tokens 10 "
              "--token-delay-ms 20 --threads 4\nport = %d\nswap_port = %d\nswap = %s\nmodels_path = /v1/models\n"
              "restart_delay = 200ms\nstop_timeout = 5s\n", ocf_test_bin ("ocf-test-backend"), new_ ? "new" : "old",
              new_ ? " --model m2" : "", s_port, s_swap_port, swap);
}

static void
s_start (const char *swap)
{
    s_port = ocf_test_free_port ();
    s_swap_port = ocf_test_free_port ();
    char section[2048], extra[2560];
    s_service_section (section, sizeof section, swap, false);
    snprintf (extra, sizeof extra, "[workerd]\nhealth_interval = 100ms\ndrain_timeout = 30s\n%s", section);
    A = fabric_host (&s_fabric, "host-a", extra);
    s_workerd = ocf_test_start (&A->node, "ocf-workerd", NULL, 10000);
    cr_assert_gt (s_workerd, 0, "ocf-workerd did not start (see %s)", A->node.root);
    cr_assert (fabric_wait_model (A, "m", 1, 20000), "proxyd does not route m");
}

static void
s_teardown (void)
{
    if (s_workerd > 0) {
        //  STOP: the backends go with it (SIGTERM would leave them running).
        json_decref (ocf_test_call (&A->node, "workerd", "STOP", NULL, NULL));
        int status = ocf_test_stop (s_workerd, 0, 15000);
        cr_expect (WIFEXITED (status) && WEXITSTATUS (status) == 0, "ocf-workerd did not stop cleanly (status %d)", status);
    }
    fabric_stop (&s_fabric);
}

TestSuite (model_swap, .fini = s_teardown, .timeout = 120);

static int
s_target (int client, int round, const char **path)
{
    (void) client, (void) round;
    *path = "/v1/chat/completions";
    return 0;
}

//  The service's entry in workerd's STATS (caller owns it).
static json_t *
s_llm_stats (void)
{
    json_t *stats = ocf_test_call (&A->node, "workerd", "STATS", NULL, NULL);
    cr_assert_not_null (stats);
    json_t *llm = json_incref (json_object_get (json_object_get (stats, "services"), "llm"));
    json_decref (stats);
    return llm;
}


//  Rewrites the service section as the new backend's (or back), sends SIGHUP.
static void
s_reload_to (const char *swap, bool new_)
{
    char *text = ocf_test_read_file (A->node.config);
    cr_assert_not_null (text);
    char old_section[2048], new_section[2048];
    s_service_section (old_section, sizeof old_section, swap, !new_);
    s_service_section (new_section, sizeof new_section, swap, new_);
    char *at = strstr (text, old_section);
    cr_assert_not_null (at);
    FILE *file = fopen (A->node.config, "w");
    fprintf (file, "%.*s%s%s", (int) (at - text), text, new_section, at + strlen (old_section));
    fclose (file);
    free (text);
    cr_assert_eq (kill (s_workerd, SIGHUP), 0);
}

typedef struct {
    int64_t reload_us, done_us;
    int64_t mark_us;             //  when proxyd's view no longer offered the old backend as ready
    int64_t first_503_us, last_503_us;
    size_t total, failed, refused, to_old_during, to_old_after_mark, to_new;
    int64_t last_old_end_us;
    bool aside_seen;             //  llm.old listed as draining
    bool swapping_seen;          //  llm listed as swapping
} outcome_t;

//  Load, reload, wait for the end of the swap (workerd's STATS without "swap"), more load.
static outcome_t
s_swap_under_load (const char *swap)
{
    outcome_t outcome = { 0 };
    json_t *llm = s_llm_stats ();
    int64_t old_pid = json_integer_value (json_object_get (llm, "pid"));
    json_decref (llm);
    bool beside = strcmp (swap, "beside") == 0;
    fabric_load_t *load = fabric_load_start (&s_fabric, "m", CLIENTS, LONG_CLIENTS, s_target);
    usleep (1200 * 1000);
    outcome.reload_us = ocf_time_wall_us ();
    s_reload_to (swap, true);
    bool swapping = true;
    while (ocf_time_wall_us () - outcome.reload_us < 40 * 1000000LL) {
        char aside[32], status[32];
        fabric_service_status (A, A->id, "llm.old", aside, sizeof aside);
        fabric_service_status (A, A->id, "llm", status, sizeof status);
        int64_t now_us = ocf_time_wall_us ();
        outcome.aside_seen |= strcmp (aside, "draining") == 0;
        outcome.swapping_seen |= strcmp (status, "swapping") == 0;
        //  From then on no request may reach the old backend.
        if (!outcome.mark_us && (beside ? *aside != '\0' : strcmp (status, "ready") != 0))
            outcome.mark_us = now_us;
        //  Over once the new backend alone is the service.
        llm = s_llm_stats ();
        bool under_way = json_object_get (llm, "swap") != NULL;
        int64_t pid = json_integer_value (json_object_get (llm, "pid"));
        json_decref (llm);
        if (!under_way && pid && pid != old_pid) {
            swapping = false;
            break;
        }
        usleep (5000);
    }
    outcome.done_us = ocf_time_wall_us ();
    cr_assert_not (swapping, "the swap did not end within 40 s (see %s)", A->node.root);
    usleep (1000 * 1000);
    const fabric_result_t *results = fabric_load_stop (load, &outcome.total);
    for (size_t i = 0; i < outcome.total; i++) {
        const fabric_result_t *result = &results[i];
        if (result->status == 503) {
            outcome.refused++;
            if (!outcome.first_503_us || result->sent_us < outcome.first_503_us)
                outcome.first_503_us = result->sent_us;
            if (result->ended_us > outcome.last_503_us)
                outcome.last_503_us = result->ended_us;
            continue;
        }
        if (result->status != 200 || !result->done) {
            outcome.failed++;
            cr_log_error ("request %zu (sent %+.0f ms from the reload): status %ld%s", i,
                          (double) (result->sent_us - outcome.reload_us) / 1000, result->status,
                          result->done ? "" : ", stream cut");
            continue;
        }
        bool old = strcmp (result->backend, "old") == 0;
        outcome.to_new += !old;
        if (old && result->sent_us < outcome.reload_us && result->ended_us > outcome.reload_us)
            outcome.to_old_during++;
        if (old && result->ended_us > outcome.last_old_end_us)
            outcome.last_old_end_us = result->ended_us;
        if (old && outcome.mark_us && result->sent_us > outcome.mark_us) {
            outcome.to_old_after_mark++;
            cr_log_error ("request %zu sent %.1f ms after proxyd's view stopped offering the old backend reached it", i,
                          (double) (result->sent_us - outcome.mark_us) / 1000);
        }
    }
    fabric_load_destroy (&load);
    return outcome;
}

//  A non-streamed completion of model; returns the answer's "model" ("" when none).
static void
s_answer_model (const char *model, char *answer, size_t size)
{
    char url[128], body[256];
    snprintf (url, sizeof url, "%s/v1/chat/completions", A->url);
    snprintf (body, sizeof body, "{\"model\": \"%s\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", model);
    const char *headers[] = { "Content-Type: application/json", NULL };
    fabric_response_t response = fabric_http ("POST", url, headers, body);
    json_t *json = fabric_json (&response);
    snprintf (answer, size, "%s", response.status == 200 ? json_string_value (json_object_get (json, "model")) ?: "" : "");
    json_decref (json);
    fabric_response_free (&response);
}

static void
s_check_log (const char *needle)
{
    char path[400];
    snprintf (path, sizeof path, "%s/ocf-workerd.log", A->node.root);
    char *log = ocf_test_read_file (path);
    cr_assert (log && strstr (log, needle), "workerd's log says \"%s\"", needle);
    free (log);
}

Test (model_swap, beside_loses_no_request_and_moves_to_the_new_model)
{
    s_start ("beside");
    outcome_t outcome = s_swap_under_load ("beside");
    fprintf (stderr, "SWAP beside: %zu requests (%d clients, streams of 0.2 s and 2 s): %zu failed, %zu refused; "
             "%zu streams on the old backend at the reload, last one ended %+.1f ms from it; new backend routed to "
             "(llm.old listed) %.1f ms after SIGHUP; swap done (old stopped) %.1f ms after SIGHUP; %zu answered by the new "
             "backend\n", outcome.total, CLIENTS, outcome.failed, outcome.refused, outcome.to_old_during,
             (double) (outcome.last_old_end_us - outcome.reload_us) / 1000,
             (double) (outcome.mark_us - outcome.reload_us) / 1000,
             (double) (outcome.done_us - outcome.reload_us) / 1000, outcome.to_new);
    cr_assert_eq (outcome.failed, 0, "every request answered, every stream to its end");
    cr_assert_eq (outcome.refused, 0, "no gap: the old backend served until the new one did");
    cr_assert_gt (outcome.to_old_during, 0, "streams were running on the old backend at the reload");
    cr_assert_eq (outcome.to_old_after_mark, 0, "once llm.old is listed, requests reach the new backend");
    cr_assert_gt (outcome.to_new, 0);
    cr_assert (outcome.aside_seen, "the old backend was listed as llm.old, draining, during the swap");
    char model[64];
    s_answer_model ("m2", model, sizeof model);
    cr_assert_str_eq (model, "m2", "the new model is served");
    json_t *llm = s_llm_stats ();
    cr_assert_eq (json_integer_value (json_object_get (llm, "port")), s_swap_port, "the new backend listens on swap_port");
    json_decref (llm);
    char status[32];
    fabric_service_status (A, A->id, "llm.old", status, sizeof status);
    cr_assert_str_empty (status, "llm.old is withdrawn once the old backend is gone");
    s_check_log ("llm: swap done in");
    //  Changed back: the next swap beside returns to port.
    json_t *swapped = s_llm_stats ();
    int64_t new_pid = json_integer_value (json_object_get (swapped, "pid"));
    json_decref (swapped);
    s_reload_to ("beside", false);
    bool back = false;
    for (int i = 0; i < 400 && !back; i++) {
        usleep (25 * 1000);
        llm = s_llm_stats ();
        back = !json_object_get (llm, "swap") && json_integer_value (json_object_get (llm, "pid")) != new_pid;
        if (back)
            cr_assert_eq (json_integer_value (json_object_get (llm, "port")), s_port, "back on port");
        json_decref (llm);
    }
    cr_assert (back, "the second swap ended within 10 s");
    s_answer_model ("m", model, sizeof model);
    cr_assert_str_eq (model, "m");
    s_answer_model ("m2", model, sizeof model);
    cr_assert_str_empty (model, "m2 is no longer served");
}

Test (model_swap, after_drain_finishes_streams_and_answers_503_in_the_gap)
{
    s_start ("after_drain");
    outcome_t outcome = s_swap_under_load ("after_drain");
    fprintf (stderr, "SWAP after_drain: %zu requests (%d clients, streams of 0.2 s and 2 s): %zu failed, %zu answered "
             "503 in the gap (first sent %+.1f ms from SIGHUP, last answered %+.1f ms: a gap of %.1f ms); %zu streams "
             "on the old backend at the reload, last one ended %+.1f ms from it; swap done %.1f ms after SIGHUP\n",
             outcome.total, CLIENTS, outcome.failed, outcome.refused,
             (double) (outcome.first_503_us - outcome.reload_us) / 1000,
             (double) (outcome.last_503_us - outcome.reload_us) / 1000,
             (double) (outcome.last_503_us - outcome.first_503_us) / 1000, outcome.to_old_during,
             (double) (outcome.last_old_end_us - outcome.reload_us) / 1000,
             (double) (outcome.done_us - outcome.reload_us) / 1000);
    cr_assert_eq (outcome.failed, 0, "nothing but 503s in the gap; every stream to its end");
    cr_assert_gt (outcome.to_old_during, 0, "streams were running on the old backend at the reload");
    cr_assert_eq (outcome.to_old_after_mark, 0, "once llm is marked, no request reaches the old backend");
    cr_assert_gt (outcome.to_new, 0);
    cr_assert (outcome.swapping_seen, "the service was listed as swapping in the gap");
    cr_assert_lt (outcome.last_503_us, outcome.done_us + 500 * 1000LL, "no 503 once the new backend is registered");
    char model[64];
    s_answer_model ("m2", model, sizeof model);
    cr_assert_str_eq (model, "m2", "the new model is served");
    json_t *llm = s_llm_stats ();
    cr_assert_eq (json_integer_value (json_object_get (llm, "port")), s_port, "the new backend listens on port");
    json_decref (llm);
    s_check_log ("llm: swap done in");
}

//  A service's entry in workerd's STATS, NULL when none (caller owns it).
static json_t *
s_service_stats (const char *name)
{
    json_t *stats = ocf_test_call (&A->node, "workerd", "STATS", NULL, NULL);
    cr_assert_not_null (stats);
    json_t *service = json_incref (json_object_get (json_object_get (stats, "services"), name));
    json_decref (stats);
    return service;
}

static bool
s_two_registered (void *arg)
{
    json_t *two = s_service_stats ("two");
    bool registered = json_is_true (json_object_get (two, "registered"));
    json_decref (two);
    char status[32];
    fabric_service_status (A, A->id, "two", status, sizeof status);
    return registered && strcmp (status, "ready") == 0;
}

static bool
s_two_gone (void *arg)
{
    json_t *two = s_service_stats ("two");
    json_decref (two);
    char status[32];
    fabric_service_status (A, A->id, "two", status, sizeof status);
    return !two && !*status && kill (*(pid_t *) arg, 0) != 0;
}

Test (model_swap, a_reload_starts_added_services_stops_removed_ones_and_leaves_the_others)
{
    s_start ("beside");
    json_t *before = s_llm_stats ();
    int port = ocf_test_free_port ();
    char section[1024];
    snprintf (section, sizeof section, "[service.two]\ncommand = %s --listen 127.0.0.1:%d --name two --model t\n"
              "port = %d\nmodels_path = /v1/models\nstop_timeout = 5s\n", ocf_test_bin ("ocf-test-backend"), port, port);
    char *original = ocf_test_read_file (A->node.config);
    ocf_test_node_config (&A->node, section);
    cr_assert_eq (kill (s_workerd, SIGHUP), 0);
    cr_assert (ocf_test_wait_for (s_two_registered, NULL, 10000), "the added service is started and registered");
    json_t *two = s_service_stats ("two");
    pid_t two_pid = (pid_t) json_integer_value (json_object_get (two, "pid"));
    json_decref (two);
    cr_assert_gt (two_pid, 0);
    //  Removed again: drained (nothing in flight), stopped, withdrawn, forgotten.
    FILE *file = fopen (A->node.config, "w");
    fputs (original, file);
    fclose (file);
    free (original);
    cr_assert_eq (kill (s_workerd, SIGHUP), 0);
    cr_assert (ocf_test_wait_for (s_two_gone, &two_pid, 10000), "the removed service is stopped and withdrawn");
    //  llm was in both files, unchanged: the same backend, never withdrawn.
    json_t *after = s_llm_stats ();
    cr_assert_eq (json_integer_value (json_object_get (after, "pid")), json_integer_value (json_object_get (before, "pid")));
    cr_assert_eq (json_integer_value (json_object_get (after, "registrations")), 1);
    cr_assert_eq (json_integer_value (json_object_get (after, "withdrawals")), 0);
    json_decref (before);
    json_decref (after);
    s_check_log ("reload: 1 service added, 0 changed, 0 removed, 1 unchanged");
    s_check_log ("reload: 0 services added, 0 changed, 1 removed, 1 unchanged");
    s_check_log ("two: removed from the configuration, its backend stopped: forgotten");
}

static bool
s_abandoned (void *arg)
{
    char path[400];
    snprintf (path, sizeof path, "%s/ocf-workerd.log", A->node.root);
    char *log = ocf_test_read_file (path);
    bool found = log && strstr (log, "llm: the new backend failed; the swap is abandoned");
    free (log);
    json_t *llm = s_llm_stats ();
    bool over = !json_object_get (llm, "swap");
    json_decref (llm);
    return found && over;
}

Test (model_swap, beside_keeps_the_old_backend_when_the_new_one_fails)
{
    s_start ("beside");
    json_t *before = s_llm_stats ();
    char *text = ocf_test_read_file (A->node.config);
    char *at = strstr (text, " --name old ");
    cr_assert_not_null (at);
    FILE *file = fopen (A->node.config, "w");
    fprintf (file, "%.*s --no-such-flag%s", (int) (at - text), text, at);
    fclose (file);
    free (text);
    cr_assert_eq (kill (s_workerd, SIGHUP), 0);
    //  It exits at once, again at each restart (200 ms, doubling up to 60 s... restart_max 5).
    cr_assert (ocf_test_wait_for (s_abandoned, NULL, 20000), "the swap is abandoned");
    json_t *after = s_llm_stats ();
    cr_assert_eq (json_integer_value (json_object_get (after, "pid")), json_integer_value (json_object_get (before, "pid")));
    cr_assert_eq (json_integer_value (json_object_get (after, "port")), s_port);
    cr_assert_eq (json_integer_value (json_object_get (after, "withdrawals")), 0, "the old backend served throughout");
    cr_assert (fabric_wait_model (A, "m", 1, 1000));
    //  The record is the old backend's again, for a restarted workerd to adopt.
    char path[400];
    snprintf (path, sizeof path, "%s/backends/llm.json", A->node.state_dir);
    char expected[64];
    snprintf (expected, sizeof expected, "\"pid\":%lld,", (long long) json_integer_value (json_object_get (before, "pid")));
    bool recorded = false;
    for (int i = 0; i < 50 && !recorded; i++) {
        char *record = ocf_test_read_file (path);
        recorded = record && strstr (record, expected);
        free (record);
        usleep (100 * 1000);
    }
    cr_assert (recorded, "%s names the old backend", path);
    json_decref (before);
    json_decref (after);
}

Test (model_swap, a_reload_with_errors_keeps_the_running_configuration)
{
    s_start ("beside");
    json_t *before = s_llm_stats ();
    FILE *file = fopen (A->node.config, "a");
    fputs ("[service.broken]\nport = banana\n", file);
    fclose (file);
    cr_assert_eq (kill (s_workerd, SIGHUP), 0);
    usleep (500 * 1000);
    s_check_log ("reload: ");
    s_check_log ("keeping the configuration in use");
    json_t *after = s_llm_stats ();
    cr_assert_eq (json_integer_value (json_object_get (after, "pid")), json_integer_value (json_object_get (before, "pid")),
                  "the backend is untouched");
    cr_assert_eq (json_integer_value (json_object_get (after, "registrations")), 1);
    json_decref (before);
    json_decref (after);
}

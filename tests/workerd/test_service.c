/*  The per-service state machine (workerd/ocf_service.c) driven with a made-up clock:
    registration only while healthy, failure threshold, restarts with backoff and the crash
    loop limit, start and stop timeouts, model discovery, load, shutdown.  */
#include "ocf_service.h"
#include "ocf_test.h"

#include <criterion/criterion.h>
#include <signal.h>

static ocf_config_t *s_config;

//  A configuration with one service: test timings, then extra ("key = value" lines) over them.
static ocf_service_t *
s_service (const char *extra)
{
    static const char *timings[] = {
        "workerd.health_interval=1s", "workerd.failure_threshold=3", "workerd.metrics_interval=5s",
        "service.llm.port=8000", "service.llm.restart_delay=1s", "service.llm.restart_delay_max=4s",
        "service.llm.restart_max=3", "service.llm.start_timeout=60s", "service.llm.stop_timeout=10s", NULL
    };
    s_config = ocf_config_new ();
    for (const char **timing = timings; *timing; timing++)
        ocf_config_set (s_config, *timing);
    char text[2048];
    snprintf (text, sizeof text, "[service.llm]\n%s", extra);
    ocf_config_load_string (s_config, text, "test.conf");
    ocf_config_finish (s_config);
    cr_assert_str_empty (ocf_config_errors (s_config));
    return ocf_service_new (&s_config->services[0], &s_config->workerd);
}

static void
s_teardown (void)
{
    ocf_config_destroy (&s_config);
}

TestSuite (service, .fini = s_teardown);

static const ocf_service_probe_t OK = { .ok = true, .latency_us = 800 };
static const ocf_service_probe_t HTTP_503 = { .ok = false, .error = "HTTP 503" };
static const ocf_service_probe_t REFUSED = { .ok = false, .refused = true, .error = "Connection refused" };

static bool
s_registered (ocf_service_t *service)
{
    json_t *registration = ocf_service_registration (service);
    json_decref (registration);
    return registration != NULL;
}

//  The identity groups of the current registration, as "a,b,c" ("-" when withdrawn).
static const char *
s_groups (ocf_service_t *service)
{
    static char text[1024];
    json_t *registration = ocf_service_registration (service);
    if (!registration)
        return "-";
    text[0] = '\0';
    json_t *group;
    size_t index;
    json_array_foreach (json_object_get (registration, "identity_group"), index, group)
        snprintf (text + strlen (text), sizeof text - strlen (text), "%s%s", index ? "," : "", json_string_value (group));
    json_decref (registration);
    return text;
}

//  One value of the service's STATS.
static json_int_t
s_stat (ocf_service_t *service, const char *key)
{
    json_t *stats = ocf_service_stats (service, 0);
    json_int_t value = json_integer_value (json_object_get (stats, key));
    json_decref (stats);
    return value;
}

static const char *
s_stat_text (ocf_service_t *service, const char *key)
{
    static char text[512];
    json_t *stats = ocf_service_stats (service, 0);
    snprintf (text, sizeof text, "%s", json_string_value (json_object_get (stats, key)) ?: "");
    json_decref (stats);
    return text;
}

//  Ticks at now and returns the actions due.
static int
s_at (ocf_service_t *service, int64_t now)
{
    ocf_service_tick (service, now);
    return ocf_service_take_actions (service);
}

//  Starts a launched service at time 0 and answers its first check as given.
static void
s_launch (ocf_service_t *service)
{
    ocf_service_start (service, 0);
    cr_assert_eq (ocf_service_take_actions (service), OCF_SERVICE_SPAWN);
    ocf_service_spawned (service, 0);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_STARTING);
    cr_assert_eq (s_at (service, 0), OCF_SERVICE_CHECK, "checked at once");
}

static void
s_make_healthy (ocf_service_t *service, int64_t now)
{
    ocf_service_health (service, ocf_service_run (service), &OK, now);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_HEALTHY);
}

Test (service, registered_only_once_healthy)
{
    ocf_service_t *service = s_service ("command = vllm serve m\nidentity_group = model=m, tier=gold\nmax_inflight = 64\n");
    s_launch (service);
    //  Loading: refused connections and errors keep it starting, never registered. The
    //  checks come 100 ms after the start, then at gaps as long as the time taken so far,
    //  up to the interval (1 s here).
    int64_t checks[] = { 100, 200, 400, 800, 1600, 2600, 3600 };
    int64_t previous = 0;
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        ocf_service_health (service, 1, i % 2 ? &HTTP_503 : &REFUSED, previous + 1);
        cr_assert_eq (ocf_service_state (service), OCF_SERVICE_STARTING);
        cr_assert_not (s_registered (service));
        cr_assert_eq (s_at (service, checks[i] - 1), 0, "no check before %lld ms", (long long) checks[i]);
        cr_assert_eq (s_at (service, checks[i]), OCF_SERVICE_CHECK, "a check at %lld ms", (long long) checks[i]);
        previous = checks[i];
    }
    s_make_healthy (service, previous + 1);
    json_t *registration = ocf_service_registration (service);
    json_t *expected = json_pack ("{s:s, s:[s, s], s:s, s:s, s:i, s:{s:i}}", "name", "llm", "identity_group", "model=m",
                                  "tier=gold", "status", "ready", "host", "127.0.0.1", "port", 8000, "load",
                                  "max_inflight", 64);
    cr_assert (json_equal (registration, expected), "got %s", json_dumps (registration, JSON_COMPACT));
    json_decref (registration);
    json_decref (expected);
    ocf_service_destroy (&service);
}

Test (service, failure_threshold_then_recovery_keeps_the_groups)
{
    ocf_service_t *service = s_service ("command = backend\nidentity_group = model=m\n");
    s_launch (service);
    s_make_healthy (service, 10);
    for (int i = 1; i <= 2; i++) {
        cr_assert_eq (s_at (service, i * 1000), OCF_SERVICE_CHECK);
        ocf_service_health (service, 1, &HTTP_503, i * 1000 + 1);
        cr_assert (s_registered (service), "failure %d of 3 keeps it registered", i);
    }
    cr_assert_eq (s_at (service, 3000), OCF_SERVICE_CHECK);
    ocf_service_health (service, 1, &HTTP_503, 3001);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_UNHEALTHY);
    cr_assert_not (s_registered (service));
    cr_assert_eq (s_at (service, 4000), OCF_SERVICE_CHECK, "still checked while unhealthy");
    ocf_service_health (service, 1, &OK, 4001);
    cr_assert_str_eq (s_groups (service), "model=m");
    ocf_service_destroy (&service);
}

Test (service, a_refused_connection_withdraws_at_once)
{
    ocf_service_t *service = s_service ("");          //  externally managed
    ocf_service_start (service, 0);
    cr_assert_eq (s_at (service, 0), OCF_SERVICE_CHECK);
    s_make_healthy (service, 1);
    cr_assert_eq (s_at (service, 1000), OCF_SERVICE_CHECK);
    ocf_service_health (service, 1, &REFUSED, 1001);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_UNHEALTHY);
    cr_assert_not (s_registered (service));
    ocf_service_destroy (&service);
}

Test (service, external_backends_are_only_checked)
{
    ocf_service_t *service = s_service ("identity_group = model=ext\n");
    cr_assert_not (ocf_service_launched (service));
    ocf_service_start (service, 0);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_STARTING);
    cr_assert_eq (s_at (service, 0), OCF_SERVICE_CHECK, "no spawn, a check");
    ocf_service_health (service, 1, &HTTP_503, 1);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_UNHEALTHY, "an external backend is not loading: failing");
    for (int64_t t = 1000; t < 100000; t += 1000) {
        int actions = s_at (service, t);
        cr_assert_eq (actions, OCF_SERVICE_CHECK, "never spawned, never timed out (t=%lld)", (long long) t);
        ocf_service_health (service, 1, &HTTP_503, t + 1);
    }
    s_make_healthy (service, 100001);
    cr_assert_str_eq (s_groups (service), "model=ext");
    ocf_service_destroy (&service);
}

Test (service, models_are_discovered_before_registering_and_refreshed)
{
    ocf_service_t *service = s_service ("command = backend\nmodels_path = /v1/models\nidentity_group = tier=gold\n");
    s_launch (service);
    ocf_service_health (service, 1, &OK, 1);
    cr_assert_eq (ocf_service_take_actions (service), OCF_SERVICE_MODELS);
    cr_assert_not (s_registered (service), "not before the model list");
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_STARTING);
    ocf_service_models (service, 1, NULL, "HTTP 500", 2);
    cr_assert_not (s_registered (service), "a failed list registers nothing");
    cr_assert_eq (s_at (service, 1000), OCF_SERVICE_CHECK);
    ocf_service_health (service, 1, &OK, 1001);
    cr_assert_eq (ocf_service_take_actions (service), OCF_SERVICE_MODELS);
    json_t *models = json_pack ("[s]", "m1");
    ocf_service_models (service, 1, models, NULL, 1002);
    json_decref (models);
    cr_assert_str_eq (s_groups (service), "tier=gold,model=m1");
    //  Each check while healthy refreshes the list; a model added shows up.
    cr_assert_eq (s_at (service, 2000), OCF_SERVICE_CHECK);
    ocf_service_health (service, 1, &OK, 2001);
    cr_assert_eq (ocf_service_take_actions (service), OCF_SERVICE_MODELS);
    models = json_pack ("[s, s]", "m1", "m2");
    ocf_service_models (service, 1, models, NULL, 2002);
    json_decref (models);
    cr_assert_str_eq (s_groups (service), "tier=gold,model=m1,model=m2");
    //  A failed refresh keeps the last list.
    cr_assert_eq (s_at (service, 3000), OCF_SERVICE_CHECK);
    ocf_service_health (service, 1, &OK, 3001);
    cr_assert_eq (ocf_service_take_actions (service), OCF_SERVICE_MODELS);
    ocf_service_models (service, 1, NULL, "not JSON", 3002);
    cr_assert_str_eq (s_groups (service), "tier=gold,model=m1,model=m2");
    ocf_service_destroy (&service);
}

Test (service, exit_withdraws_and_restarts_with_backoff_until_the_crash_loop_limit)
{
    ocf_service_t *service = s_service ("command = backend\n");
    s_launch (service);
    s_make_healthy (service, 1);
    int64_t now = 100;
    int64_t delays[] = { 1000, 2000, 4000 };        //  doubling, capped by restart_delay_max = 4s
    for (int restart = 0; restart < 3; restart++) {
        ocf_service_exited (service, 9, now);       //  killed by SIGKILL
        cr_assert_not (s_registered (service), "withdrawn at the exit");
        cr_assert_eq (ocf_service_state (service), OCF_SERVICE_BACKOFF);
        cr_assert_eq (ocf_service_next_wakeup (service), now + delays[restart]);
        cr_assert_eq (s_at (service, now + delays[restart] - 1), 0, "not before the delay");
        cr_assert_eq (s_at (service, now + delays[restart]), OCF_SERVICE_SPAWN);
        now += delays[restart];
        ocf_service_spawned (service, now);
        cr_assert_eq (ocf_service_run (service), (uint64_t) restart + 2, "each spawn is a new run");
        now += 10;
    }
    ocf_service_exited (service, 1 << 8, now);      //  exit status 1
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_FAILED, "restart_max = 3 reached");
    cr_assert_eq (s_at (service, now + 100000), 0, "nothing more");
    cr_assert_eq (ocf_service_next_wakeup (service), INT64_MAX);
    cr_assert_str_eq (s_stat_text (service, "state"), "failed");
    cr_assert_eq (s_stat (service, "restarts"), 3);
    ocf_service_destroy (&service);
}

Test (service, a_stable_run_ends_the_crash_loop)
{
    ocf_service_t *service = s_service ("command = backend\n");
    s_launch (service);
    ocf_service_exited (service, 1 << 8, 10);
    cr_assert_eq (s_at (service, 1010), OCF_SERVICE_SPAWN);
    ocf_service_spawned (service, 1010);
    ocf_service_exited (service, 1 << 8, 1020);
    cr_assert_eq (ocf_service_next_wakeup (service), 1020 + 2000, "the delay doubled");
    cr_assert_eq (s_at (service, 3020), OCF_SERVICE_SPAWN);
    ocf_service_spawned (service, 3020);
    cr_assert_eq (s_at (service, 3020), OCF_SERVICE_CHECK);
    s_make_healthy (service, 3021);
    //  Healthy for restart_delay_max (4 s): the loop is over, the next failure starts afresh.
    for (int64_t t = 4020; t <= 8020; t += 1000) {
        s_at (service, t);
        ocf_service_health (service, ocf_service_run (service), &OK, t + 1);
    }
    ocf_service_exited (service, 1 << 8, 9000);
    cr_assert_eq (ocf_service_next_wakeup (service), 10000, "back to the first delay");
    ocf_service_destroy (&service);
}

Test (service, restart_policies)
{
    ocf_service_t *service = s_service ("command = backend\n");          //  on-failure
    s_launch (service);
    ocf_service_exited (service, 0, 10);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_STOPPED, "a clean exit is not restarted");
    ocf_service_destroy (&service);
    s_teardown ();

    service = s_service ("command = backend\nrestart = always\n");
    s_launch (service);
    ocf_service_exited (service, 0, 10);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_BACKOFF);
    ocf_service_destroy (&service);
    s_teardown ();

    service = s_service ("command = backend\nrestart = no\n");
    s_launch (service);
    ocf_service_exited (service, SIGSEGV, 10);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_FAILED);
    ocf_service_destroy (&service);
}

Test (service, start_timeout_stops_then_kills_and_counts_as_a_failure)
{
    ocf_service_t *service = s_service ("command = backend\nstart_timeout = 5s\nstop_timeout = 2s\n");
    s_launch (service);
    ocf_service_health (service, 1, &REFUSED, 1);
    for (int64_t t = 1000; t < 5000; t += 1000) {
        cr_assert_eq (s_at (service, t), OCF_SERVICE_CHECK);
        ocf_service_health (service, 1, &HTTP_503, t + 1);
    }
    cr_assert_eq (ocf_service_next_wakeup (service), 5000);
    cr_assert_eq (s_at (service, 5000) & OCF_SERVICE_TERM, OCF_SERVICE_TERM);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_STOPPING);
    cr_assert_eq (s_at (service, 6999), 0);
    cr_assert_eq (s_at (service, 7000), OCF_SERVICE_KILL, "stop_timeout after SIGTERM");
    cr_assert_eq (s_at (service, 9000), 0, "SIGKILL once");
    ocf_service_exited (service, SIGKILL, 7001);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_BACKOFF, "a backend that never got healthy failed");
    ocf_service_destroy (&service);
}

Test (service, a_spawn_failure_is_a_failed_start)
{
    ocf_service_t *service = s_service ("command = no-such-program\n");
    ocf_service_start (service, 0);
    cr_assert_eq (ocf_service_take_actions (service), OCF_SERVICE_SPAWN);
    ocf_service_spawn_failed (service, "no-such-program: not found in PATH", 0);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_BACKOFF);
    cr_assert (strstr (s_stat_text (service, "last_error"), "not found in PATH"));
    ocf_service_destroy (&service);
}

Test (service, results_of_an_earlier_run_are_ignored)
{
    ocf_service_t *service = s_service ("command = backend\n");
    s_launch (service);
    ocf_service_exited (service, 9, 10);
    cr_assert_eq (s_at (service, 1010), OCF_SERVICE_SPAWN);
    ocf_service_spawned (service, 1010);
    ocf_service_health (service, 1, &OK, 1011);     //  the check sent to the first run
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_STARTING);
    cr_assert_not (s_registered (service));
    cr_assert_eq (s_at (service, 1010), OCF_SERVICE_CHECK, "the new run is checked at once");
    ocf_service_health (service, 2, &OK, 1012);
    cr_assert (s_registered (service));
    ocf_service_destroy (&service);
}

Test (service, load_from_metrics)
{
    ocf_service_t *service = s_service ("command = backend\nmetrics_path = /metrics\n");
    s_launch (service);
    cr_assert_eq (ocf_service_next_wakeup (service), 60000, "no scrape before healthy");
    s_make_healthy (service, 1);
    cr_assert_eq (s_at (service, 1) & OCF_SERVICE_SCRAPE, OCF_SERVICE_SCRAPE, "scraped at once when healthy");
    ocf_prom_load_t scraped = { .has_queue = true, .queue_depth = 7, .has_kv = true, .kv_cache = 0.4375 };
    ocf_service_metrics (service, 1, true, &scraped, NULL, 2);
    json_t *registration = ocf_service_registration (service);
    json_t *load = json_object_get (registration, "load");
    cr_assert_eq (json_integer_value (json_object_get (load, "queue_depth")), 7);
    cr_assert_float_eq (json_real_value (json_object_get (load, "kv_cache")), 0.44, 1e-9, "in whole percents");
    json_decref (registration);
    cr_assert_eq (s_at (service, 1000) & OCF_SERVICE_SCRAPE, 0, "rate-limited by metrics_interval");
    cr_assert_eq (s_at (service, 5001) & OCF_SERVICE_SCRAPE, OCF_SERVICE_SCRAPE);
    ocf_prom_load_t none = { 0 };
    ocf_service_metrics (service, 1, false, &none, "HTTP 404", 5002);
    registration = ocf_service_registration (service);
    cr_assert_eq (json_integer_value (json_object_get (json_object_get (registration, "load"), "queue_depth")), 7,
                  "a failed scrape keeps the last values");
    json_decref (registration);
    ocf_service_destroy (&service);
}

//  The prefix hit rate from vLLM's counters is the last interval's, kept while idle; a
//  backend's rate is taken as it is.
Test (service, prefix_hit_rate_from_metrics)
{
    ocf_service_t *service = s_service ("command = backend\nmetrics_path = /metrics\n");
    s_launch (service);
    s_make_healthy (service, 1);
    ocf_prom_load_t scraped = { .has_queue = true, .has_prefix_counters = true, .prefix_queries = 1000, .prefix_hits = 100 };
    ocf_service_metrics (service, 1, true, &scraped, NULL, 2);
    json_t *registration = ocf_service_registration (service);
    cr_assert_float_eq (json_real_value (json_object_get (json_object_get (registration, "load"), "prefix_hit_rate")), 0.1,
                        1e-9, "from the totals at the first scrape");
    json_decref (registration);
    scraped.prefix_queries = 2000;
    scraped.prefix_hits = 1000;  //  900 of the last 1000
    ocf_service_metrics (service, 1, true, &scraped, NULL, 5002);
    registration = ocf_service_registration (service);
    cr_assert_float_eq (json_real_value (json_object_get (json_object_get (registration, "load"), "prefix_hit_rate")), 0.9,
                        1e-9, "over the interval");
    json_decref (registration);
    ocf_service_metrics (service, 1, true, &scraped, NULL, 10002);
    registration = ocf_service_registration (service);
    cr_assert_float_eq (json_real_value (json_object_get (json_object_get (registration, "load"), "prefix_hit_rate")), 0.9,
                        1e-9, "kept while no queries come");
    json_decref (registration);
    scraped.prefix_queries = 10;  //  the backend restarted
    scraped.prefix_hits = 2;
    ocf_service_metrics (service, 1, true, &scraped, NULL, 15002);
    registration = ocf_service_registration (service);
    cr_assert_float_eq (json_real_value (json_object_get (json_object_get (registration, "load"), "prefix_hit_rate")), 0.2,
                        1e-9, "after a reset, from its totals");
    json_decref (registration);
    ocf_prom_load_t rate = { .has_prefix_rate = true, .prefix_hit_rate = 0.456 };
    ocf_service_metrics (service, 1, true, &rate, NULL, 20002);
    registration = ocf_service_registration (service);
    cr_assert_float_eq (json_real_value (json_object_get (json_object_get (registration, "load"), "prefix_hit_rate")), 0.46,
                        1e-9, "in whole percents");
    json_decref (registration);
    ocf_service_destroy (&service);
}

Test (service, shutdown_withdraws_first_then_stops)
{
    ocf_service_t *service = s_service ("command = backend\nstop_timeout = 3s\n");
    s_launch (service);
    s_make_healthy (service, 1);
    ocf_service_withdraw (service);
    cr_assert_not (s_registered (service));
    cr_assert_eq (s_at (service, 5000), 0, "no check, no signal before the stop");
    cr_assert (ocf_service_running (service));
    ocf_service_stop (service, 6000);
    cr_assert_eq (ocf_service_take_actions (service), OCF_SERVICE_TERM);
    cr_assert_eq (s_at (service, 8999), 0);
    cr_assert_eq (s_at (service, 9000), OCF_SERVICE_KILL);
    ocf_service_exited (service, SIGKILL, 9001);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_STOPPED, "no restart during shutdown");
    cr_assert_eq (s_at (service, 20000), 0);
    cr_assert_eq (s_stat (service, "registrations"), 1);
    cr_assert_eq (s_stat (service, "withdrawals"), 1);
    ocf_service_destroy (&service);
}

Test (service, shutdown_during_backoff_cancels_the_restart)
{
    ocf_service_t *service = s_service ("command = backend\n");
    s_launch (service);
    ocf_service_exited (service, 9, 10);
    ocf_service_withdraw (service);
    ocf_service_stop (service, 20);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_STOPPED);
    cr_assert_eq (s_at (service, 5000), 0, "no spawn");
    ocf_service_destroy (&service);
}

//  --------------------------------------------------------------------------
//  Adoption: a backend an earlier workerd started and left running

static void
s_adopt (ocf_service_t *service, bool registered, const char *models, bool outdated, int64_t now)
{
    json_t *list = models ? json_loads (models, 0, NULL) : NULL;
    ocf_service_adoption_t adoption = { .registered = registered, .models = list, .outdated = outdated };
    ocf_service_adopted (service, &adoption, now);
    json_decref (list);
}

Test (service, an_adopted_registered_backend_stays_registered_and_is_checked)
{
    ocf_service_t *service = s_service ("command = backend\nmodels_path = /v1/models\nidentity_group = tier=gold\n");
    s_adopt (service, true, "[\"m1\"]", false, 5000);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_HEALTHY);
    cr_assert_str_eq (s_groups (service), "tier=gold,model=m1", "registered at once, with the recorded models");
    cr_assert (ocf_service_running (service));
    cr_assert_eq (s_at (service, 5000), OCF_SERVICE_CHECK, "checked at once");
    ocf_service_health (service, ocf_service_run (service), &OK, 5001);
    cr_assert_eq (ocf_service_take_actions (service), OCF_SERVICE_MODELS, "its models are read again");
    cr_assert_str_eq (s_groups (service), "tier=gold,model=m1");
    cr_assert_eq (s_stat (service, "registrations"), 1);
    cr_assert_eq (s_stat (service, "withdrawals"), 0);
    json_t *stats = ocf_service_stats (service, 5001);
    cr_assert (json_is_true (json_object_get (stats, "adopted")));
    json_decref (stats);
    //  It is not our child: the exit status is unknown, and counts as a failure.
    ocf_service_exited (service, OCF_SERVICE_EXIT_UNKNOWN, 9000);
    cr_assert_not (s_registered (service));
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_BACKOFF, "restarted (restart=on-failure)");
    cr_assert_eq (s_at (service, 10000), OCF_SERVICE_SPAWN);
    ocf_service_spawned (service, 10000);
    stats = ocf_service_stats (service, 10000);
    cr_assert (json_is_false (json_object_get (stats, "adopted")), "the new process is our own");
    cr_assert_null (json_object_get (stats, "last_exit_status"), "no exit status was known");
    json_decref (stats);
    ocf_service_destroy (&service);
}

Test (service, an_adopted_backend_that_refuses_is_withdrawn_at_once)
{
    ocf_service_t *service = s_service ("command = backend\nidentity_group = model=m\n");
    s_adopt (service, true, NULL, false, 0);
    cr_assert (s_registered (service));
    cr_assert_eq (s_at (service, 0), OCF_SERVICE_CHECK);
    ocf_service_health (service, ocf_service_run (service), &REFUSED, 1);
    cr_assert_not (s_registered (service));
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_UNHEALTHY);
    ocf_service_destroy (&service);
}

Test (service, an_adopted_backend_still_loading_goes_on_starting)
{
    ocf_service_t *service = s_service ("command = backend\nmodels_path = /v1/models\n");
    s_adopt (service, false, NULL, false, 1000);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_STARTING);
    cr_assert_not (s_registered (service));
    cr_assert_eq (s_at (service, 1000), OCF_SERVICE_CHECK);
    ocf_service_health (service, ocf_service_run (service), &HTTP_503, 1001);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_STARTING, "loading: failures are expected");
    //  start_timeout (60 s) counts from the adoption.
    cr_assert_eq (s_at (service, 60999) & OCF_SERVICE_TERM, 0);
    cr_assert_eq (s_at (service, 61000) & OCF_SERVICE_TERM, OCF_SERVICE_TERM);
    ocf_service_destroy (&service);
}

Test (service, a_registered_record_without_models_waits_for_the_list)
{
    ocf_service_t *service = s_service ("command = backend\nmodels_path = /v1/models\n");
    s_adopt (service, true, NULL, false, 0);
    cr_assert_not (s_registered (service), "registering without models would announce nothing routable");
    cr_assert_eq (s_at (service, 0), OCF_SERVICE_CHECK);
    ocf_service_health (service, ocf_service_run (service), &OK, 1);
    cr_assert_eq (ocf_service_take_actions (service), OCF_SERVICE_MODELS);
    json_t *models = json_pack ("[s]", "m2");
    ocf_service_models (service, ocf_service_run (service), models, NULL, 2);
    json_decref (models);
    cr_assert_str_eq (s_groups (service), "model=m2");
    ocf_service_destroy (&service);
}

Test (service, an_outdated_backend_is_stopped_and_replaced_at_once)
{
    ocf_service_t *service = s_service ("command = backend --new\nidentity_group = model=m\n");
    s_adopt (service, true, NULL, true, 0);
    cr_assert_not (s_registered (service), "not what is configured: not registered");
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_STOPPING);
    cr_assert_eq (ocf_service_take_actions (service), OCF_SERVICE_TERM);
    cr_assert_eq (s_at (service, 9999), 0);
    cr_assert_eq (s_at (service, 10000), OCF_SERVICE_KILL, "stop_timeout, then SIGKILL");
    ocf_service_exited (service, OCF_SERVICE_EXIT_UNKNOWN, 10050);
    cr_assert_eq (ocf_service_take_actions (service), OCF_SERVICE_SPAWN, "the configured one starts at once");
    cr_assert_eq (s_stat (service, "restarts"), 0, "a replacement is no restart");
    ocf_service_spawned (service, 10060);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_STARTING);
    ocf_service_destroy (&service);
}

Test (service, the_record_follows_registration_and_models)
{
    ocf_service_t *service = s_service ("command = backend\nmodels_path = /v1/models\n");
    s_launch (service);
    json_t *record = ocf_service_record (service);
    json_t *expected = json_pack ("{s:b, s:n}", "registered", false, "models");
    cr_assert (json_equal (record, expected));
    json_decref (record);
    json_decref (expected);
    ocf_service_health (service, ocf_service_run (service), &OK, 1);
    json_t *models = json_pack ("[s]", "m1");
    ocf_service_models (service, ocf_service_run (service), models, NULL, 2);
    json_decref (models);
    record = ocf_service_record (service);
    expected = json_pack ("{s:b, s:[s]}", "registered", true, "models", "m1");
    cr_assert (json_equal (record, expected));
    json_decref (record);
    json_decref (expected);
    ocf_service_destroy (&service);
}

Test (service, a_foreign_process_on_the_port_is_not_the_backend)
{
    static const ocf_service_probe_t FOREIGN = { .ok = false, .foreign = true,
                                                 .error = "port 8000 is held by pid 99 (python3), not by the backend" };
    ocf_service_t *service = s_service ("command = backend\nidentity_group = model=m\n");
    s_launch (service);
    ocf_service_health (service, ocf_service_run (service), &FOREIGN, 1);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_STARTING, "not ready");
    cr_assert_not (s_registered (service));
    cr_assert_str_eq (s_stat_text (service, "last_error"), FOREIGN.error);
    s_make_healthy (service, 2);
    //  Healthy, then someone else's socket on the port: withdrawn at once, as when refused.
    ocf_service_health (service, ocf_service_run (service), &FOREIGN, 3);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_UNHEALTHY);
    cr_assert_not (s_registered (service));
    ocf_service_destroy (&service);
}

//  The status the registration carries ("-" when withdrawn).
static const char *
s_status (ocf_service_t *service)
{
    static char text[32];
    json_t *registration = ocf_service_registration (service);
    snprintf (text, sizeof text, "%s", registration ? json_string_value (json_object_get (registration, "status")) : "-");
    json_decref (registration);
    return text;
}

//  Ticks at now, answers a health check due with OK, and returns the other actions due.
static int
s_healthy_at (ocf_service_t *service, int64_t now)
{
    int actions = s_at (service, now);
    if (actions & OCF_SERVICE_CHECK)
        ocf_service_health (service, ocf_service_run (service), &OK, now);
    return actions & ~OCF_SERVICE_CHECK;
}

Test (service, drain_marks_then_waits_for_nothing_in_flight_then_withdraws)
{
    ocf_service_t *service = s_service ("command = backend\n");
    s_launch (service);
    s_make_healthy (service, 10);
    cr_assert_str_eq (s_status (service), "ready");
    ocf_service_drain (service, 1000);
    cr_assert_str_eq (s_status (service), "draining", "still registered, marked so that no proxyd chooses it");
    cr_assert_eq (ocf_service_drain_state (service), OCF_SERVICE_DRAIN_DRAINING);
    cr_assert_eq (s_healthy_at (service, 1000), 0, "no in-flight poll before tabled holds the mark");
    ocf_service_drain_published (service, 1050);
        cr_assert_eq (s_healthy_at (service, 1050), OCF_SERVICE_INFLIGHT);
    cr_assert_eq (s_healthy_at (service, 1100), 0, "one poll at a time");
    ocf_service_inflight (service, 3, NULL, 1101);
    cr_assert_str_eq (s_status (service), "draining");
    cr_assert_eq (s_healthy_at (service, 1149), 0);
    cr_assert_eq (s_healthy_at (service, 1150), OCF_SERVICE_INFLIGHT, "polled every 100 ms");
    ocf_service_inflight (service, -1, "proxyd did not answer", 1151);
    cr_assert_str_eq (s_status (service), "draining", "unknown is not idle");
    cr_assert_eq (s_healthy_at (service, 1250), OCF_SERVICE_INFLIGHT);
    ocf_service_inflight (service, 0, NULL, 1260);
    cr_assert_str_eq (s_status (service), "-", "withdrawn once nothing is in flight");
    cr_assert_eq (ocf_service_drain_state (service), OCF_SERVICE_DRAIN_DRAINED);
    cr_assert (ocf_service_running (service), "the backend keeps running");
    cr_assert_eq (s_at (service, 5000), OCF_SERVICE_CHECK, "and is still checked");
    ocf_service_health (service, ocf_service_run (service), &OK, 5001);
    cr_assert_str_eq (s_status (service), "-", "healthy but drained: not registered");
    cr_assert_eq (s_stat (service, "withdrawals"), 1);
    cr_assert_str_eq (s_stat_text (service, "drain"), "drained");
    ocf_service_undrain (service, 6000);
    cr_assert_str_eq (s_status (service), "ready", "undrained: registered again");
    cr_assert_eq (s_stat (service, "registrations"), 2);
    cr_assert_eq (ocf_service_drain_state (service), OCF_SERVICE_DRAIN_NONE);
    ocf_service_destroy (&service);
}

Test (service, drain_timeout_withdraws_with_requests_still_in_flight)
{
    ocf_service_t *service = s_service ("command = backend\n[workerd]\ndrain_timeout = 30s\n");
    s_launch (service);
    s_make_healthy (service, 10);
    ocf_service_drain (service, 1000);
    ocf_service_drain_published (service, 1000);
    for (int64_t now = 1000; now < 31000; now += 100) {
        if (s_healthy_at (service, now) & OCF_SERVICE_INFLIGHT)
            ocf_service_inflight (service, 1, NULL, now);
        cr_assert_str_eq (s_status (service), "draining", "a stream is running at %lld ms", (long long) now);
    }
    cr_assert_eq (ocf_service_next_wakeup (service) <= 31000, true);
    s_healthy_at (service, 31000);
    cr_assert_str_eq (s_status (service), "-", "withdrawn at drain_timeout");
    cr_assert_eq (s_healthy_at (service, 31100), 0, "no more polls");
    ocf_service_destroy (&service);
}

Test (service, draining_is_withdrawn_at_once_when_not_registered_or_when_it_fails)
{
    ocf_service_t *service = s_service ("command = backend\n");
    s_launch (service);
    ocf_service_drain (service, 50);
    cr_assert_eq (ocf_service_drain_state (service), OCF_SERVICE_DRAIN_DRAINED, "starting: nothing to wait for");
    s_make_healthy (service, 100);
    cr_assert_str_eq (s_status (service), "-", "healthy later: stays withdrawn");
    ocf_service_undrain (service, 200);
    cr_assert_str_eq (s_status (service), "ready");
    ocf_service_drain (service, 300);
    cr_assert_str_eq (s_status (service), "draining");
    ocf_service_exited (service, 9, 400);
    cr_assert_str_eq (s_status (service), "-");
    cr_assert_eq (ocf_service_drain_state (service), OCF_SERVICE_DRAIN_DRAINED, "its exit ended the drain");
    ocf_service_destroy (&service);
}

Test (service, stopped_after_its_drain_then_started_again_by_undrain)
{
    ocf_service_t *service = s_service ("command = backend\n");
    s_launch (service);
    s_make_healthy (service, 10);
    ocf_service_drain (service, 100);
    ocf_service_drain_published (service, 100);
    cr_assert_eq (s_healthy_at (service, 100), OCF_SERVICE_INFLIGHT);
    ocf_service_inflight (service, 0, NULL, 120);
    ocf_service_stop (service, 130);
    cr_assert_eq (ocf_service_take_actions (service), OCF_SERVICE_TERM);
    ocf_service_exited (service, 0, 200);
    cr_assert_eq (ocf_service_state (service), OCF_SERVICE_STOPPED);
    ocf_service_undrain (service, 1000);
    cr_assert_eq (ocf_service_take_actions (service), OCF_SERVICE_SPAWN, "started again");
    ocf_service_spawned (service, 1001);
    cr_assert_eq (s_at (service, 1001), OCF_SERVICE_CHECK);
    s_make_healthy (service, 1100);
    cr_assert_str_eq (s_status (service), "ready");
    ocf_service_destroy (&service);
}

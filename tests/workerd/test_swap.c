/*  The model change state machine (workerd/ocf_swap.c) driving two ocf_service machines with
    a made-up clock: beside (new backend healthy first, then the old one drained and stopped),
    after_drain (old one drained and stopped first, the service listed as "swapping" in the
    gap), and a new backend that fails.  */
#include "ocf_swap.h"
#include "ocf_test.h"

#include <criterion/criterion.h>
#include <signal.h>

static ocf_config_t *s_old_config, *s_new_config;
static ocf_service_t *s_old, *s_new;
static ocf_swap_t *s_swap;

static const ocf_service_probe_t OK = { .ok = true, .latency_us = 800 };

static ocf_config_t *
s_config (const char *command, const char *swap)
{
    ocf_config_t *config = ocf_config_new ();
    char text[1024];
    snprintf (text, sizeof text, "[workerd]\nhealth_interval = 1s\ndrain_timeout = 30s\n[service.llm]\ncommand = %s\n"
              "port = 8000\nswap_port = 8001\nswap = %s\nidentity_group = model=%s\nrestart_max = 1\n"
              "restart_delay = 1s\nstart_timeout = 60s\nstop_timeout = 10s\n", command, swap, command);
    ocf_config_load_string (config, text, "test.conf");
    ocf_config_finish (config);
    cr_assert_str_empty (ocf_config_errors (config));
    return config;
}

//  The old backend, healthy and registered on port 8000 at time 0; the new configuration.
static void
s_setup (const char *swap)
{
    s_old_config = s_config ("serve-a --port {port}", swap);
    s_new_config = s_config ("serve-b --port {port}", swap);
    s_old = ocf_service_new (&s_old_config->services[0], &s_old_config->workerd);
    s_new = ocf_service_new (&s_new_config->services[0], &s_new_config->workerd);
    ocf_service_start (s_old, 0);
    ocf_service_take_actions (s_old);
    ocf_service_spawned (s_old, 0);
    ocf_service_health (s_old, ocf_service_run (s_old), &OK, 0);
    cr_assert (ocf_service_registered (s_old));
}

static void
s_teardown (void)
{
    ocf_swap_destroy (&s_swap);
    ocf_service_destroy (&s_old);
    ocf_service_destroy (&s_new);
    ocf_config_destroy (&s_old_config);
    ocf_config_destroy (&s_new_config);
}

TestSuite (swap, .fini = s_teardown);

//  "status:port" of what tabled should hold under a name ("-": withdrawn).
static const char *
s_listed (json_t *registration)
{
    static char text[2][64];
    static int which;
    which ^= 1;
    if (!registration)
        return "-";
    snprintf (text[which], sizeof text[which], "%s:%lld", json_string_value (json_object_get (registration, "status")),
              (long long) json_integer_value (json_object_get (registration, "port")));
    json_decref (registration);
    return text[which];
}

static const char *
s_main (void)
{
    return s_listed (ocf_swap_registration (s_swap));
}

static const char *
s_aside (void)
{
    return s_listed (ocf_swap_aside_registration (s_swap));
}

//  The machines and the swap ticked at now as the runner does; returns the new machine's actions.
static int
s_at (int64_t now, int *old_actions)
{
    ocf_swap_tick (s_swap, now);
    ocf_service_tick (s_old, now);
    ocf_service_tick (s_new, now);
    if (ocf_swap_tick (s_swap, now)) {
        ocf_service_tick (s_old, now);
        ocf_service_tick (s_new, now);
    }
    int actions = ocf_service_take_actions (s_old);
    if (old_actions)
        *old_actions = actions;
    return ocf_service_take_actions (s_new);
}

Test (swap, beside_serves_from_the_old_backend_until_the_new_one_is_registered)
{
    s_setup ("beside");
    ocf_service_set_port (s_new, 8001);
    s_swap = ocf_swap_new ("llm", OCF_SWAP_BESIDE, s_old, s_new, 1000);
    cr_assert_eq (ocf_swap_phase (s_swap), OCF_SWAP_STARTING);
    cr_assert_eq (s_at (1000, NULL), OCF_SERVICE_SPAWN, "the new backend starts at once");
    ocf_service_spawned (s_new, 1000);
    //  Loading: the old one serves, under the service's name.
    cr_assert_eq (s_at (1100, NULL), OCF_SERVICE_CHECK);
    cr_assert_str_eq (s_main (), "ready:8000");
    cr_assert_str_eq (s_aside (), "-");
    ocf_service_health (s_new, ocf_service_run (s_new), &OK, 5000);
    int old_actions;
    s_at (5000, &old_actions);
    //  Healthy: the name is the new backend's at once, the old one listed beside it, draining.
    cr_assert_eq (ocf_swap_phase (s_swap), OCF_SWAP_DRAINING);
    cr_assert_str_eq (s_main (), "ready:8001");
    cr_assert_str_eq (s_aside (), "draining:8000");
    cr_assert_str_eq (ocf_swap_aside_name (s_swap), "llm.old");
    json_t *aside = ocf_swap_aside_registration (s_swap);
    cr_assert_str_eq (json_string_value (json_object_get (aside, "name")), "llm.old");
    json_decref (aside);
    //  Once tabled holds the mark, the old backend's requests in flight are counted down.
    ocf_service_drain_published (s_old, 5010);
    s_at (5010, &old_actions);
    cr_assert (old_actions & OCF_SERVICE_INFLIGHT);
    ocf_service_inflight (s_old, 2, NULL, 5015);
    s_at (5200, &old_actions);
    cr_assert_eq (ocf_swap_phase (s_swap), OCF_SWAP_DRAINING, "streams still running");
    ocf_service_inflight (s_old, 0, NULL, 5210);
    s_at (5210, &old_actions);
    cr_assert_eq (ocf_swap_phase (s_swap), OCF_SWAP_STOPPING);
    cr_assert (old_actions & OCF_SERVICE_TERM, "the old backend is stopped once drained");
    cr_assert_str_eq (s_aside (), "-");
    cr_assert_str_eq (s_main (), "ready:8001");
    ocf_service_exited (s_old, 0, 5400);
    s_at (5400, NULL);
    cr_assert_eq (ocf_swap_phase (s_swap), OCF_SWAP_DONE);
    cr_assert (ocf_swap_over (s_swap));
    json_t *stats = ocf_swap_stats (s_swap, 5400);
    cr_assert_eq (json_integer_value (json_object_get (stats, "elapsed_ms")), 4400);
    json_decref (stats);
}

Test (swap, beside_keeps_the_old_backend_when_the_new_one_fails)
{
    s_setup ("beside");
    ocf_service_set_port (s_new, 8001);
    s_swap = ocf_swap_new ("llm", OCF_SWAP_BESIDE, s_old, s_new, 0);
    s_at (0, NULL);
    ocf_service_spawned (s_new, 0);
    //  It crashes, is restarted once (restart_max = 1), crashes again: failed.
    ocf_service_exited (s_new, W_EXITCODE (1, 0), 500);
    cr_assert_eq (ocf_swap_phase (s_swap), OCF_SWAP_STARTING);
    cr_assert_eq (s_at (1500, NULL), OCF_SERVICE_SPAWN);
    ocf_service_spawned (s_new, 1500);
    ocf_service_exited (s_new, W_EXITCODE (1, 0), 2000);
    int old_actions;
    s_at (2000, &old_actions);
    cr_assert_eq (ocf_swap_phase (s_swap), OCF_SWAP_ABORTED);
    cr_assert_eq (old_actions & (OCF_SERVICE_TERM | OCF_SERVICE_KILL), 0, "the old backend is left alone");
    cr_assert_eq (ocf_service_drain_state (s_old), OCF_SERVICE_DRAIN_NONE);
    cr_assert_str_eq (s_main (), "ready:8000");
    cr_assert_str_eq (s_aside (), "-");
}

Test (swap, after_drain_frees_the_port_first_and_lists_the_gap_as_swapping)
{
    s_setup ("after_drain");
    s_swap = ocf_swap_new ("llm", OCF_SWAP_AFTER_DRAIN, s_old, s_new, 1000);
    int old_actions;
    cr_assert_eq (s_at (1000, &old_actions), 0, "nothing starts while the old backend drains");
    cr_assert_eq (ocf_swap_phase (s_swap), OCF_SWAP_DRAINING);
    cr_assert_str_eq (s_main (), "draining:8000");
    ocf_service_drain_published (s_old, 1010);
    s_at (1010, &old_actions);
    ocf_service_inflight (s_old, 0, NULL, 1020);
    s_at (1020, &old_actions);
    cr_assert (old_actions & OCF_SERVICE_TERM);
    cr_assert_eq (ocf_swap_phase (s_swap), OCF_SWAP_STOPPING);
    //  Withdrawn but known: proxyd answers 503 (retry), not 404, while nothing serves.
    cr_assert_str_eq (s_main (), "swapping:8000");
    json_t *placeholder = ocf_swap_registration (s_swap);
    cr_assert_str_eq (json_string_value (json_array_get (json_object_get (placeholder, "identity_group"), 0)),
                      "model=serve-a --port {port}");
    json_decref (placeholder);
    ocf_service_exited (s_old, W_EXITCODE (0, SIGTERM), 1500);
    cr_assert_eq (s_at (1500, NULL), OCF_SERVICE_SPAWN, "the new backend starts once the old one is gone");
    cr_assert_eq (ocf_swap_phase (s_swap), OCF_SWAP_LOADING);
    ocf_service_spawned (s_new, 1500);
    s_at (1600, NULL);
    cr_assert_str_eq (s_main (), "swapping:8000");
    ocf_service_health (s_new, ocf_service_run (s_new), &OK, 9000);
    s_at (9000, NULL);
    cr_assert_eq (ocf_swap_phase (s_swap), OCF_SWAP_DONE);
    cr_assert_str_eq (s_main (), "ready:8000");
}

Test (swap, after_drain_stops_the_old_backend_at_drain_timeout)
{
    s_setup ("after_drain");
    s_swap = ocf_swap_new ("llm", OCF_SWAP_AFTER_DRAIN, s_old, s_new, 0);
    int old_actions;
    s_at (0, &old_actions);
    ocf_service_drain_published (s_old, 10);
    s_at (10, &old_actions);
    ocf_service_inflight (s_old, 1, NULL, 20);
    s_at (29999, &old_actions);
    cr_assert_eq (ocf_swap_phase (s_swap), OCF_SWAP_DRAINING);
    s_at (30000, &old_actions);
    cr_assert_eq (ocf_swap_phase (s_swap), OCF_SWAP_STOPPING, "drain_timeout bounds the wait");
    cr_assert (old_actions & OCF_SERVICE_TERM);
}

Test (swap, after_drain_with_a_failing_new_backend_leaves_the_service_failed)
{
    s_setup ("after_drain");
    //  The old backend was not serving: drained at once, stopped at once.
    ocf_service_exited (s_old, W_EXITCODE (1, 0), 100);
    s_swap = ocf_swap_new ("llm", OCF_SWAP_AFTER_DRAIN, s_old, s_new, 200);
    cr_assert_eq (s_at (200, NULL), OCF_SERVICE_SPAWN);
    cr_assert_eq (ocf_swap_phase (s_swap), OCF_SWAP_LOADING);
    ocf_service_spawn_failed (s_new, "no such program", 200);
    s_at (1200, NULL);
    ocf_service_spawn_failed (s_new, "no such program", 1200);
    s_at (1200, NULL);
    cr_assert_eq (ocf_swap_phase (s_swap), OCF_SWAP_FAILED);
    cr_assert_str_eq (s_main (), "-");
}

//  The errors of a configuration made of text.
static char *
s_errors_of (const char *text)
{
    ocf_config_t *config = ocf_config_new ();
    ocf_config_load_string (config, text, "test.conf");
    ocf_config_finish (config);
    char *errors = strdup (ocf_config_errors (config));
    ocf_config_destroy (&config);
    return errors;
}

Test (swap_config, what_beside_needs_and_the_names_it_takes)
{
    const struct {
        const char *text, *error;
    } cases[] = {
        { "[service.llm]\ncommand = serve --port 8000\nport = 8000\nswap = beside\nswap_port = 8001\n",
          "the command must say where to listen with {port}" },
        { "[service.llm]\ncommand = serve --port {port}\nport = 8000\nswap = beside\n", "needs a port other than port" },
        { "[service.llm]\ncommand = serve --port {port}\nport = 8000\nswap = beside\nswap_port = 8000\n",
          "needs a port other than port" },
        { "[service.llm.old]\ncommand = serve\nport = 8000\n", "may not end in .old or .swap" },
        { "[service.llm.swap]\ncommand = serve\nport = 8000\n", "may not end in .old or .swap" },
        { "[service.llm]\ncommand = serve --port {port}\nport = 8000\nswap = beside\nswap_port = 8001\n"
          "[service.emb]\ncommand = serve\nport = 8001\n", "8001 is also the swap_port of [service.llm]" },
    };
    for (size_t index = 0; index < sizeof cases / sizeof cases[0]; index++) {
        char *errors = s_errors_of (cases[index].text);
        cr_assert (strstr (errors, cases[index].error), "case %zu: '%s' not in: %s", index, cases[index].error, errors);
        free (errors);
    }
    char *errors = s_errors_of ("[service.llm]\ncommand = serve --port {port}\nport = 8000\nswap = beside\nswap_port = 8001\n"
                                "[service.oldish]\ncommand = serve\nport = 8002\n");
    cr_assert_str_empty (errors);
    free (errors);
}

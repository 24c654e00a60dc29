/*  ocf_service: the per-service state machine.  */
#include "ocf_service.h"
#include "ocf_alloc.h"
#include "ocf_log.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define NEVER INT64_MAX
#define MAX_GROUPS 256           //  tabled's limit of identity groups per service
#define STARTING_CHECK_MIN_MS 100
#define INFLIGHT_POLL_MS 100     //  a local IPC round trip: cheap, and a drain ends this soon after its last stream

typedef enum { STOP_NONE, STOP_START_TIMEOUT, STOP_SHUTDOWN, STOP_REPLACE } stop_reason_t;

struct _ocf_service_t {
    const ocf_service_config_t *config;
    int64_t port;                //  the configured one, or swap_port for the new backend of a swap
    bool launched;
    int64_t health_interval;
    int64_t metrics_interval;
    int64_t failure_threshold;
    ocf_service_state_t state;
    int actions;
    bool shutting_down;

    //  The process (launched services)
    bool running;
    bool adopted;                //  the process was started by an earlier workerd
    uint64_t run;
    int64_t started_at;
    int64_t start_deadline;
    int64_t stop_deadline;       //  when SIGKILL follows SIGTERM
    stop_reason_t stop_reason;
    int last_exit;               //  wait status, -1 before any exit

    //  Restarts
    int64_t backoff_until;
    int64_t next_delay;
    int64_t restarts;            //  over the life of workerd
    int64_t restarts_in_loop;    //  since the backend was last stable
    int64_t healthy_since;       //  0 unless healthy

    //  Health
    int64_t next_check_at;
    bool check_in_flight;
    int64_t consecutive_failures;
    int64_t latency_us;
    char last_error[256];
    uint64_t checks;
    uint64_t check_failures;

    //  Identity groups: static ones from the configuration, models from the backend
    json_t *static_groups;
    json_t *models;              //  NULL until the first list arrives
    bool models_in_flight;
    bool awaiting_models;        //  healthy, registration waits for the first list

    //  Load
    int64_t next_scrape_at;
    bool scrape_in_flight;
    bool has_queue;
    int64_t queue_depth;
    bool has_kv;
    double kv_cache;
    bool has_prefix;
    double prefix_hit_rate;      //  over the last scrape interval that had queries
    bool has_prefix_totals;
    double prefix_queries, prefix_hits;  //  the backend's totals at the last scrape
    bool metrics_failing;

    //  Drain
    ocf_service_drain_t drain;
    int64_t drain_timeout;
    int64_t drain_started;
    int64_t drain_deadline;
    bool drain_published;        //  tabled holds the "draining" mark
    int64_t next_inflight_at;
    bool inflight_in_flight;
    int64_t inflight;            //  the local proxyd's last count, -1 unknown
    bool inflight_failing;

    uint64_t registrations;
    uint64_t withdrawals;
};

static const char *s_state_names[] = {
    [OCF_SERVICE_STARTING] = "starting", [OCF_SERVICE_HEALTHY] = "healthy",
    [OCF_SERVICE_UNHEALTHY] = "unhealthy", [OCF_SERVICE_BACKOFF] = "backoff",
    [OCF_SERVICE_STOPPING] = "stopping", [OCF_SERVICE_STOPPED] = "stopped",
    [OCF_SERVICE_FAILED] = "failed"
};

//  "model=a, rack=b": the configured groups, trimmed, without duplicates.
static json_t *
s_static_groups (const char *list)
{
    json_t *groups = json_array ();
    char *copy = ocf_strdup (list), *saveptr = NULL;
    for (char *item = strtok_r (copy, ",", &saveptr); item; item = strtok_r (NULL, ",", &saveptr)) {
        while (*item == ' ' || *item == '\t')
            item++;
        size_t len = strlen (item);
        while (len && (item[len - 1] == ' ' || item[len - 1] == '\t'))
            item[--len] = '\0';
        bool seen = false;
        for (size_t i = 0; i < json_array_size (groups); i++)
            seen |= strcmp (json_string_value (json_array_get (groups, i)), item) == 0;
        if (len && !seen && json_array_size (groups) < MAX_GROUPS)
            json_array_append_new (groups, json_string (item));
    }
    free (copy);
    return groups;
}

ocf_service_t *
ocf_service_new (const ocf_service_config_t *config, const ocf_workerd_config_t *workerd)
{
    ocf_service_t *self = ocf_calloc (1, sizeof *self);
    self->config = config;
    self->port = config->port;
    self->launched = config->command != NULL;
    self->health_interval = workerd->health_interval_ms;
    self->metrics_interval = workerd->metrics_interval_ms;
    self->failure_threshold = workerd->failure_threshold;
    self->drain_timeout = workerd->drain_timeout_ms;
    self->inflight = -1;
    self->state = OCF_SERVICE_STOPPED;
    self->next_delay = config->restart_delay_ms;
    self->last_exit = -1;
    self->static_groups = s_static_groups (config->identity_group);
    return self;
}

void
ocf_service_destroy (ocf_service_t **self_p)
{
    ocf_service_t *self = *self_p;
    if (!self)
        return;
    json_decref (self->static_groups);
    json_decref (self->models);
    free (self);
    *self_p = NULL;
}

bool
ocf_service_launched (ocf_service_t *self)
{
    return self->launched;
}

ocf_service_state_t
ocf_service_state (ocf_service_t *self)
{
    return self->state;
}

uint64_t
ocf_service_run (ocf_service_t *self)
{
    return self->run;
}

bool
ocf_service_running (ocf_service_t *self)
{
    return self->running;
}

void
ocf_service_set_port (ocf_service_t *self, int64_t port)
{
    self->port = port;
}

int64_t
ocf_service_port (ocf_service_t *self)
{
    return self->port;
}

void
ocf_service_set_config (ocf_service_t *self, const ocf_service_config_t *config)
{
    self->config = config;
}

//  --------------------------------------------------------------------------
//  Transitions

static bool
s_registered (ocf_service_t *self)
{
    return self->state == OCF_SERVICE_HEALTHY && !self->shutting_down && self->drain != OCF_SERVICE_DRAIN_DRAINED;
}

bool
ocf_service_registered (ocf_service_t *self)
{
    return s_registered (self);
}

static void
s_count_registration (ocf_service_t *self, bool was_registered)
{
    if (!was_registered && s_registered (self))
        self->registrations++;
    if (was_registered && !s_registered (self))
        self->withdrawals++;
}

static void
s_drained (ocf_service_t *self)
{
    bool was_registered = s_registered (self);
    self->drain = OCF_SERVICE_DRAIN_DRAINED;
    self->inflight_in_flight = false;
    s_count_registration (self, was_registered);
}

static void
s_set_state (ocf_service_t *self, ocf_service_state_t state, int64_t now)
{
    bool was_registered = s_registered (self);
    self->state = state;
    if (state == OCF_SERVICE_HEALTHY) {
        if (!self->healthy_since)
            self->healthy_since = now;
        //  The load is unknown until the first scrape of this healthy spell.
        self->next_scrape_at = now;
    }
    else {
        self->healthy_since = 0;
        self->awaiting_models = false;
    }
    //  A draining backend that fails is withdrawn like any other, and that ends its drain:
    //  were it healthy again, it would come back drained (withdrawn) until undrained.
    if (self->drain == OCF_SERVICE_DRAIN_DRAINING && !s_registered (self) && !self->shutting_down) {
        ocf_log_notice ("%s: withdrawn while draining (%s); drained", self->config->name, s_state_names[state]);
        self->drain = OCF_SERVICE_DRAIN_DRAINED;
    }
    s_count_registration (self, was_registered);
}

static void
s_become_healthy (ocf_service_t *self, int64_t now)
{
    if (self->state == OCF_SERVICE_STARTING && self->launched)
        ocf_log_notice ("%s: healthy %.1f s after start, registering", self->config->name,
                        (double) (now - self->started_at) / 1000);
    else
    if (self->state == OCF_SERVICE_STARTING)
        ocf_log_notice ("%s: healthy, registering", self->config->name);
    else
        ocf_log_notice ("%s: healthy again, registering", self->config->name);
    self->consecutive_failures = 0;
    self->awaiting_models = false;
    s_set_state (self, OCF_SERVICE_HEALTHY, now);
}

static void
s_begin_run (ocf_service_t *self, int64_t now)
{
    self->run++;
    self->started_at = now;
    self->next_check_at = now;
    self->check_in_flight = self->models_in_flight = self->scrape_in_flight = false;
    self->consecutive_failures = 0;
    self->stop_reason = STOP_NONE;
    s_set_state (self, OCF_SERVICE_STARTING, now);
}

void
ocf_service_start (ocf_service_t *self, int64_t now)
{
    if (self->shutting_down)
        return;
    if (self->launched) {
        self->actions |= OCF_SERVICE_SPAWN;
        //  The state stays as it is until the process exists (spawned or spawn_failed).
        return;
    }
    s_begin_run (self, now);
}

void
ocf_service_adopted (ocf_service_t *self, const ocf_service_adoption_t *adoption, int64_t now)
{
    const char *name = self->config->name;
    self->running = true;
    self->adopted = true;
    s_begin_run (self, now);
    self->start_deadline = now + self->config->start_timeout_ms;
    if (adoption->models)
        self->models = json_incref (adoption->models);
    if (adoption->outdated) {
        //  The port and the GPUs are the old backend's: it must go before the new one starts.
        ocf_log_notice ("%s: the running backend was started with another command, env, gpus or workdir than "
                        "configured now: stopping it, then starting the configured one", name);
        self->stop_reason = STOP_REPLACE;
        self->stop_deadline = now + self->config->stop_timeout_ms;
        self->actions |= OCF_SERVICE_TERM;
        s_set_state (self, OCF_SERVICE_STOPPING, now);
        return;
    }
    bool discover = *self->config->models_path != '\0';
    if (adoption->registered && (!discover || self->models)) {
        ocf_log_notice ("%s: adopted the running backend; it stays registered while its checks pass", name);
        s_set_state (self, OCF_SERVICE_HEALTHY, now);
    }
    else
        ocf_log_notice ("%s: adopted the running backend; not healthy yet, waiting for it (start_timeout from now)", name);
}

void
ocf_service_spawned (ocf_service_t *self, int64_t now)
{
    self->running = true;
    self->adopted = false;
    s_begin_run (self, now);
    self->start_deadline = now + self->config->start_timeout_ms;
}

static void
s_schedule_restart (ocf_service_t *self, bool failure, int64_t now)
{
    const char *policy = self->config->restart;
    if (strcmp (policy, "no") == 0 || (strcmp (policy, "on-failure") == 0 && !failure)) {
        s_set_state (self, failure ? OCF_SERVICE_FAILED : OCF_SERVICE_STOPPED, now);
        ocf_log_notice ("%s: not restarted (restart=%s)", self->config->name, policy);
        return;
    }
    if (self->restarts_in_loop >= self->config->restart_max) {
        s_set_state (self, OCF_SERVICE_FAILED, now);
        ocf_log_error ("%s: crash loop: %lld restart%s without becoming stable, giving up (restart_max=%lld)",
                       self->config->name, (long long) self->restarts_in_loop, self->restarts_in_loop == 1 ? "" : "s",
                       (long long) self->config->restart_max);
        return;
    }
    int64_t delay = self->next_delay;
    self->next_delay = delay * 2 > self->config->restart_delay_max_ms ? self->config->restart_delay_max_ms : delay * 2;
    if (self->next_delay < self->config->restart_delay_ms)
        self->next_delay = self->config->restart_delay_ms;
    self->restarts_in_loop++;
    self->restarts++;
    self->backoff_until = now + delay;
    s_set_state (self, OCF_SERVICE_BACKOFF, now);
    ocf_log_notice ("%s: restarting in %.1f s (restart %lld of at most %lld)", self->config->name, (double) delay / 1000,
                    (long long) self->restarts_in_loop, (long long) self->config->restart_max);
}

void
ocf_service_spawn_failed (ocf_service_t *self, const char *error, int64_t now)
{
    ocf_log_error ("%s: cannot start: %s", self->config->name, error);
    snprintf (self->last_error, sizeof self->last_error, "cannot start: %s", error);
    self->run++;
    if (self->shutting_down)
        s_set_state (self, OCF_SERVICE_STOPPED, now);
    else
        s_schedule_restart (self, true, now);
}

static void
s_describe_exit (int status, char *text, size_t size)
{
    if (status == OCF_SERVICE_EXIT_UNKNOWN)
        snprintf (text, size, "ended (exit status unknown: not a child of workerd)");
    else
    if (WIFEXITED (status))
        snprintf (text, size, "exited with status %d", WEXITSTATUS (status));
    else
    if (WIFSIGNALED (status))
        snprintf (text, size, "killed by %s%s", strsignal (WTERMSIG (status)), WCOREDUMP (status) ? " (core dumped)" : "");
    else
        snprintf (text, size, "ended (wait status %d)", status);
}

void
ocf_service_exited (ocf_service_t *self, int wait_status, int64_t now)
{
    if (!self->running)
        return;
    self->running = false;
    if (wait_status != OCF_SERVICE_EXIT_UNKNOWN)
        self->last_exit = wait_status;
    char how[128];
    s_describe_exit (wait_status, how, sizeof how);
    bool was_registered = s_registered (self);
    stop_reason_t reason = self->state == OCF_SERVICE_STOPPING ? self->stop_reason : STOP_NONE;
    if (self->shutting_down || reason == STOP_SHUTDOWN) {
        ocf_log_info ("%s: backend %s", self->config->name, how);
        s_set_state (self, OCF_SERVICE_STOPPED, now);
        return;
    }
    if (reason == STOP_REPLACE) {
        ocf_log_info ("%s: the outdated backend %s; starting the configured one", self->config->name, how);
        s_set_state (self, OCF_SERVICE_STOPPED, now);
        self->actions |= OCF_SERVICE_SPAWN;
        return;
    }
    bool failure = reason == STOP_START_TIMEOUT || wait_status == OCF_SERVICE_EXIT_UNKNOWN
                || !WIFEXITED (wait_status) || WEXITSTATUS (wait_status) != 0;
    ocf_log_warning ("%s: backend %s after %.1f s%s", self->config->name, how, (double) (now - self->started_at) / 1000,
                     was_registered ? ", withdrawing" : "");
    snprintf (self->last_error, sizeof self->last_error, "backend %s", how);
    s_schedule_restart (self, failure, now);
}

static void
s_health_failed (ocf_service_t *self, const ocf_service_probe_t *probe, int64_t now)
{
    self->check_failures++;
    self->consecutive_failures++;
    const char *why = probe->error ? probe->error : "failed";
    bool repeated = strcmp (self->last_error, why) == 0;
    snprintf (self->last_error, sizeof self->last_error, "%s", why);
    switch (self->state) {
        case OCF_SERVICE_STARTING:
            //  A launched backend is expected to fail while it loads; start_timeout decides.
            //  Another process on its port is not loading: the operator must hear of it.
            if (self->launched) {
                if (probe->foreign && !repeated)
                    ocf_log_warning ("%s: not ready: %s", self->config->name, why);
                else
                    ocf_log_debug ("%s: not healthy yet: %s", self->config->name, why);
                return;
            }
            ocf_log_warning ("%s: health check failed: %s", self->config->name, why);
            s_set_state (self, OCF_SERVICE_UNHEALTHY, now);
            return;
        case OCF_SERVICE_HEALTHY:
            //  Nothing listening means no request can succeed: no point waiting for more.
            if (probe->refused || probe->foreign || self->consecutive_failures >= self->failure_threshold) {
                ocf_log_warning ("%s: unhealthy (%s, %lld consecutive failure%s), withdrawing", self->config->name, why,
                                 (long long) self->consecutive_failures, self->consecutive_failures == 1 ? "" : "s");
                s_set_state (self, OCF_SERVICE_UNHEALTHY, now);
            }
            else
                ocf_log_notice ("%s: health check failed (%lld of %lld): %s", self->config->name,
                                (long long) self->consecutive_failures, (long long) self->failure_threshold, why);
            return;
        default:
            if (!repeated)
                ocf_log_info ("%s: still unhealthy: %s", self->config->name, why);
            return;
    }
}

void
ocf_service_health (ocf_service_t *self, uint64_t run, const ocf_service_probe_t *probe, int64_t now)
{
    if (run != self->run)
        return;
    self->check_in_flight = false;
    if (self->shutting_down || (self->state != OCF_SERVICE_STARTING && self->state != OCF_SERVICE_HEALTHY
                            &&  self->state != OCF_SERVICE_UNHEALTHY))
        return;
    self->checks++;
    self->latency_us = probe->latency_us;
    if (!probe->ok) {
        s_health_failed (self, probe, now);
        return;
    }
    self->consecutive_failures = 0;
    self->last_error[0] = '\0';
    bool discover = *self->config->models_path != '\0';
    if (discover && !self->models_in_flight)
        self->actions |= OCF_SERVICE_MODELS;
    if (self->state == OCF_SERVICE_HEALTHY)
        return;
    //  Registering without the model list would announce a service nobody can route to.
    if (discover && !self->models) {
        if (!self->awaiting_models)
            ocf_log_info ("%s: answers its health check; fetching its models before registering", self->config->name);
        self->awaiting_models = true;
        return;
    }
    s_become_healthy (self, now);
}

static void
s_log_models (ocf_service_t *self, json_t *models)
{
    char list[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < json_array_size (models) && used < sizeof list - 1; i++)
        used += (size_t) snprintf (list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                   json_string_value (json_array_get (models, i)));
    ocf_log_info ("%s: serves %zu model%s%s%s", self->config->name, json_array_size (models),
                  json_array_size (models) == 1 ? "" : "s", used ? ": " : "", list);
}

void
ocf_service_models (ocf_service_t *self, uint64_t run, json_t *models, const char *error, int64_t now)
{
    if (run != self->run)
        return;
    self->models_in_flight = false;
    if (!models) {
        //  Keep the last list: a failed fetch says nothing about what the backend serves.
        ocf_log_warning ("%s: cannot read its models: %s", self->config->name, error ? error : "failed");
        return;
    }
    if (!self->models || !json_equal (self->models, models)) {
        if (error && *error)
            ocf_log_warning ("%s: %s", self->config->name, error);
        s_log_models (self, models);
        json_decref (self->models);
        self->models = json_incref (models);
    }
    if (self->awaiting_models && !self->shutting_down)
        s_become_healthy (self, now);
}

//  The hit rate of the prefix cache from its counters: over the interval since the last
//  scrape (what the cache does now, not since the backend started), kept while no queries
//  come; from the totals at the first scrape and after a counter reset (a restart).
static void
s_prefix_counters (ocf_service_t *self, double queries, double hits)
{
    bool reset = !self->has_prefix_totals || queries < self->prefix_queries || hits < self->prefix_hits;
    double new_queries = reset ? queries : queries - self->prefix_queries;
    double new_hits = reset ? hits : hits - self->prefix_hits;
    if (new_queries > 0) {
        double rate = new_hits / new_queries;
        self->prefix_hit_rate = rate > 1 ? 1 : rate;
        self->has_prefix = true;
    }
    self->has_prefix_totals = true;
    self->prefix_queries = queries;
    self->prefix_hits = hits;
}

void
ocf_service_metrics (ocf_service_t *self, uint64_t run, bool ok, const ocf_prom_load_t *load, const char *error,
                     int64_t now)
{
    if (run != self->run)
        return;
    self->scrape_in_flight = false;
    if (!ok) {
        //  The last values stay: they are the best estimate there is.
        if (!self->metrics_failing)
            ocf_log_warning ("%s: cannot read its metrics: %s", self->config->name, error ? error : "failed");
        self->metrics_failing = true;
        return;
    }
    if (self->metrics_failing)
        ocf_log_info ("%s: metrics readable again", self->config->name);
    self->metrics_failing = false;
    self->has_queue = load->has_queue;
    self->queue_depth = load->queue_depth;
    self->has_kv = load->has_kv;
    self->kv_cache = load->kv_cache;
    if (load->has_prefix_counters)
        s_prefix_counters (self, load->prefix_queries, load->prefix_hits);
    else
    if (load->has_prefix_rate) {
        self->has_prefix = true;
        self->prefix_hit_rate = load->prefix_hit_rate;
    }
}

static int64_t
s_min (int64_t a, int64_t b)
{
    return a < b ? a : b;
}

//  A backend that is starting is checked at a pace that grows with the time it has taken
//  (100 ms, 200, 400, ... up to health_interval): one that is up after T seconds is seen
//  within about 2T, and one that loads a model for minutes costs a check per interval.
static int64_t
s_check_interval (ocf_service_t *self, int64_t now)
{
    if (self->state != OCF_SERVICE_STARTING)
        return self->health_interval;
    int64_t elapsed = now - self->started_at;
    return s_min (elapsed > STARTING_CHECK_MIN_MS ? elapsed : STARTING_CHECK_MIN_MS, self->health_interval);
}

void
ocf_service_tick (ocf_service_t *self, int64_t now)
{
    if (self->state == OCF_SERVICE_BACKOFF && now >= self->backoff_until && !self->shutting_down)
        self->actions |= OCF_SERVICE_SPAWN;
    if (self->state == OCF_SERVICE_STARTING && self->running && now >= self->start_deadline && !self->shutting_down) {
        ocf_log_error ("%s: not healthy within start_timeout (%.0f s), stopping it", self->config->name,
                       (double) self->config->start_timeout_ms / 1000);
        snprintf (self->last_error, sizeof self->last_error, "not healthy within start_timeout");
        self->stop_reason = STOP_START_TIMEOUT;
        self->stop_deadline = now + self->config->stop_timeout_ms;
        self->actions |= OCF_SERVICE_TERM;
        s_set_state (self, OCF_SERVICE_STOPPING, now);
    }
    if (self->state == OCF_SERVICE_STOPPING && self->running && now >= self->stop_deadline) {
        ocf_log_warning ("%s: still running %.1f s after SIGTERM, sending SIGKILL to its process group",
                         self->config->name, (double) self->config->stop_timeout_ms / 1000);
        self->actions |= OCF_SERVICE_KILL;
        self->stop_deadline = NEVER;
    }
    bool checked = self->state == OCF_SERVICE_HEALTHY || self->state == OCF_SERVICE_UNHEALTHY
                || (self->state == OCF_SERVICE_STARTING && (self->running || !self->launched));
    if (checked && !self->shutting_down && !self->check_in_flight && now >= self->next_check_at) {
        self->actions |= OCF_SERVICE_CHECK;
        self->check_in_flight = true;
        self->next_check_at = now + s_check_interval (self, now);
    }
    if (s_registered (self) && *self->config->metrics_path && !self->scrape_in_flight && now >= self->next_scrape_at) {
        self->actions |= OCF_SERVICE_SCRAPE;
        self->scrape_in_flight = true;
        self->next_scrape_at = now + self->metrics_interval;
    }
    if (self->drain == OCF_SERVICE_DRAIN_DRAINING && now >= self->drain_deadline) {
        char left[64] = "the requests in flight unknown";
        if (self->inflight >= 0)
            snprintf (left, sizeof left, "%lld request%s still in flight", (long long) self->inflight,
                      self->inflight == 1 ? "" : "s");
        ocf_log_warning ("%s: drain_timeout (%.0f s) reached with %s; withdrawing", self->config->name,
                         (double) self->drain_timeout / 1000, left);
        s_drained (self);
    }
    if (self->drain == OCF_SERVICE_DRAIN_DRAINING && self->drain_published && !self->inflight_in_flight
    &&  now >= self->next_inflight_at) {
        self->actions |= OCF_SERVICE_INFLIGHT;
        self->inflight_in_flight = true;
        self->next_inflight_at = now + INFLIGHT_POLL_MS;
    }
    //  A backend that stayed healthy for restart_delay_max ended its crash loop, if any.
    if (s_registered (self) && self->restarts_in_loop
    &&  now - self->healthy_since >= self->config->restart_delay_max_ms) {
        self->restarts_in_loop = 0;
        self->next_delay = self->config->restart_delay_ms;
    }
}

//  --------------------------------------------------------------------------
//  Drain

void
ocf_service_drain (ocf_service_t *self, int64_t now)
{
    if (self->drain != OCF_SERVICE_DRAIN_NONE || self->shutting_down)
        return;
    if (!s_registered (self)) {
        ocf_log_notice ("%s: drained (not registered: %s); stays withdrawn until undrained", self->config->name,
                        s_state_names[self->state]);
        self->drain = OCF_SERVICE_DRAIN_DRAINED;
        return;
    }
    ocf_log_notice ("%s: draining: marked draining in the table, no new requests; waiting at most %.0f s "
                    "(drain_timeout) for those in flight", self->config->name, (double) self->drain_timeout / 1000);
    self->drain = OCF_SERVICE_DRAIN_DRAINING;
    self->drain_started = now;
    self->drain_deadline = now + self->drain_timeout;
    self->drain_published = false;
    self->inflight = -1;
    self->inflight_failing = false;
}

void
ocf_service_drain_published (ocf_service_t *self, int64_t now)
{
    if (self->drain != OCF_SERVICE_DRAIN_DRAINING || self->drain_published)
        return;
    self->drain_published = true;
    self->next_inflight_at = now;
}

void
ocf_service_inflight (ocf_service_t *self, int64_t count, const char *error, int64_t now)
{
    if (self->drain != OCF_SERVICE_DRAIN_DRAINING || !self->inflight_in_flight)
        return;
    self->inflight_in_flight = false;
    if (count < 0) {
        //  Not knowing is not idle: a stream may still be running. drain_timeout decides.
        if (!self->inflight_failing)
            ocf_log_warning ("%s: cannot learn the requests in flight from proxyd (%s); waiting for drain_timeout",
                             self->config->name, error ? error : "no answer");
        self->inflight_failing = true;
        return;
    }
    if (self->inflight_failing)
        ocf_log_info ("%s: proxyd answers again", self->config->name);
    self->inflight_failing = false;
    if (count != self->inflight && count > 0)
        ocf_log_info ("%s: draining, %lld request%s in flight", self->config->name, (long long) count,
                      count == 1 ? "" : "s");
    self->inflight = count;
    if (count == 0) {
        ocf_log_notice ("%s: drained in %.1f s (nothing in flight), withdrawing", self->config->name,
                        (double) (now - self->drain_started) / 1000);
        s_drained (self);
    }
}

void
ocf_service_undrain (ocf_service_t *self, int64_t now)
{
    if (self->drain == OCF_SERVICE_DRAIN_NONE)
        return;
    bool was_registered = s_registered (self);
    self->drain = OCF_SERVICE_DRAIN_NONE;
    self->inflight_in_flight = false;
    if (self->shutting_down && !self->running) {
        //  Stopped after its drain: a fresh start, crash-loop accounting included.
        self->shutting_down = false;
        self->restarts_in_loop = 0;
        self->next_delay = self->config->restart_delay_ms;
        ocf_log_notice ("%s: undrained, starting it again", self->config->name);
        ocf_service_start (self, now);
        return;
    }
    s_count_registration (self, was_registered);
    ocf_log_notice ("%s: undrained%s", self->config->name, s_registered (self) ? ", registering" : "");
}

ocf_service_drain_t
ocf_service_drain_state (ocf_service_t *self)
{
    return self->drain;
}

void
ocf_service_withdraw (ocf_service_t *self)
{
    if (s_registered (self))
        self->withdrawals++;
    self->shutting_down = true;
    self->actions &= ~(OCF_SERVICE_SPAWN | OCF_SERVICE_CHECK | OCF_SERVICE_MODELS | OCF_SERVICE_SCRAPE
                     | OCF_SERVICE_INFLIGHT);
}

void
ocf_service_stop (ocf_service_t *self, int64_t now)
{
    self->shutting_down = true;
    if (!self->running) {
        if (self->state != OCF_SERVICE_FAILED)
            self->state = OCF_SERVICE_STOPPED;
        return;
    }
    if (self->state == OCF_SERVICE_STOPPING && self->stop_reason == STOP_SHUTDOWN)
        return;
    self->stop_reason = STOP_SHUTDOWN;
    self->stop_deadline = now + self->config->stop_timeout_ms;
    self->actions |= OCF_SERVICE_TERM;
    self->state = OCF_SERVICE_STOPPING;
}

//  --------------------------------------------------------------------------
//  Outputs

int
ocf_service_take_actions (ocf_service_t *self)
{
    int actions = self->actions;
    self->actions = 0;
    if (actions & OCF_SERVICE_MODELS)
        self->models_in_flight = true;
    return actions;
}

int64_t
ocf_service_next_wakeup (ocf_service_t *self)
{
    if (self->shutting_down && !self->running)
        return NEVER;
    int64_t next = NEVER;
    switch (self->state) {
        case OCF_SERVICE_BACKOFF:
            next = self->backoff_until;
            break;
        case OCF_SERVICE_STARTING:
            if (self->running)
                next = self->start_deadline;
            break;
        case OCF_SERVICE_STOPPING:
            next = self->stop_deadline;
            break;
        default:
            break;
    }
    bool checked = self->state == OCF_SERVICE_HEALTHY || self->state == OCF_SERVICE_UNHEALTHY
                || (self->state == OCF_SERVICE_STARTING && (self->running || !self->launched));
    if (checked && !self->shutting_down && !self->check_in_flight)
        next = s_min (next, self->next_check_at);
    if (s_registered (self) && *self->config->metrics_path && !self->scrape_in_flight)
        next = s_min (next, self->next_scrape_at);
    if (self->drain == OCF_SERVICE_DRAIN_DRAINING) {
        next = s_min (next, self->drain_deadline);
        if (self->drain_published && !self->inflight_in_flight)
            next = s_min (next, self->next_inflight_at);
    }
    return next;
}

//  KV-cache use and prefix hit rates in whole percents: finer changes are noise that would
//  cost a record update (and its gossip) each time.
static double
s_whole_percents (double kv_cache)
{
    return round (kv_cache * 100) / 100;
}

json_t *
ocf_service_registration (ocf_service_t *self)
{
    if (!s_registered (self))
        return NULL;
    json_t *groups = json_copy (self->static_groups);
    for (size_t i = 0; self->models && i < json_array_size (self->models); i++) {
        if (json_array_size (groups) == MAX_GROUPS)
            break;
        char group[300];
        snprintf (group, sizeof group, "model=%s", json_string_value (json_array_get (self->models, i)));
        json_array_append_new (groups, json_string (group));
    }
    json_t *load = json_object ();
    if (self->config->max_inflight > 0)
        json_object_set_new (load, "max_inflight", json_integer (self->config->max_inflight));
    if (self->has_queue)
        json_object_set_new (load, "queue_depth", json_integer (self->queue_depth));
    if (self->has_kv)
        json_object_set_new (load, "kv_cache", json_real (s_whole_percents (self->kv_cache)));
    if (self->has_prefix)
        json_object_set_new (load, "prefix_hit_rate", json_real (s_whole_percents (self->prefix_hit_rate)));
    const char *status = self->drain == OCF_SERVICE_DRAIN_DRAINING ? "draining" : "ready";
    return json_pack ("{s:s, s:o, s:s, s:s, s:I, s:o}", "name", self->config->name, "identity_group", groups,
                      "status", status, "host", self->config->host, "port", (json_int_t) self->port,
                      "load", load);
}

json_t *
ocf_service_record (ocf_service_t *self)
{
    return json_pack ("{s:b, s:O?}", "registered", s_registered (self), "models", self->models);
}

json_t *
ocf_service_stats (ocf_service_t *self, int64_t now)
{
    //  The five states people and dashboards know; backoff and stopping are "stopped"
    //  (no process serving), with restart_in_ms telling a backoff apart.
    static const char *reported[] = {
        [OCF_SERVICE_STARTING] = "starting", [OCF_SERVICE_HEALTHY] = "healthy",
        [OCF_SERVICE_UNHEALTHY] = "unhealthy", [OCF_SERVICE_BACKOFF] = "stopped",
        [OCF_SERVICE_STOPPING] = "stopped", [OCF_SERVICE_STOPPED] = "stopped", [OCF_SERVICE_FAILED] = "failed"
    };
    json_t *stats = json_pack ("{s:s, s:s, s:b, s:b, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                               "state", reported[self->state], "phase", s_state_names[self->state],
                               "launched", self->launched, "running", self->running, "registered", s_registered (self),
                               "restarts", (json_int_t) self->restarts,
                               "consecutive_failures", (json_int_t) self->consecutive_failures,
                               "health_checks", (json_int_t) self->checks,
                               "health_failures", (json_int_t) self->check_failures,
                               "registrations", (json_int_t) self->registrations,
                               "withdrawals", (json_int_t) self->withdrawals,
                               "port", (json_int_t) self->port);
    json_object_set_new (stats, "adopted", json_boolean (self->adopted));
    json_object_set_new (stats, "health_latency_ms",
                         self->checks ? json_real ((double) self->latency_us / 1000) : json_null ());
    json_object_set_new (stats, "models", self->models ? json_copy (self->models) : json_array ());
    json_object_set_new (stats, "queue_depth", self->has_queue ? json_integer (self->queue_depth) : json_null ());
    json_object_set_new (stats, "kv_cache", self->has_kv ? json_real (s_whole_percents (self->kv_cache)) : json_null ());
    json_object_set_new (stats, "prefix_hit_rate",
                         self->has_prefix ? json_real (s_whole_percents (self->prefix_hit_rate)) : json_null ());
    json_object_set_new (stats, "last_error", *self->last_error ? json_string (self->last_error) : json_null ());
    if (self->state == OCF_SERVICE_BACKOFF)
        json_object_set_new (stats, "restart_in_ms", json_integer (self->backoff_until > now ? self->backoff_until - now : 0));
    if (self->last_exit >= 0)
        json_object_set_new (stats, "last_exit_status", json_integer (self->last_exit));
    static const char *drains[] = { [OCF_SERVICE_DRAIN_NONE] = NULL, [OCF_SERVICE_DRAIN_DRAINING] = "draining",
                                    [OCF_SERVICE_DRAIN_DRAINED] = "drained" };
    json_object_set_new (stats, "drain", drains[self->drain] ? json_string (drains[self->drain]) : json_null ());
    if (self->drain == OCF_SERVICE_DRAIN_DRAINING) {
        json_object_set_new (stats, "drain_inflight", self->inflight >= 0 ? json_integer (self->inflight) : json_null ());
        json_object_set_new (stats, "drain_left_ms", json_integer (self->drain_deadline > now ? self->drain_deadline - now : 0));
    }
    return stats;
}

/*  ocf_agent: processes, HTTP, GPU probe and registrar around the state machines.  */
#include "ocf_agent.h"
#include "ocf_alloc.h"
#include "ocf_backend_record.h"
#include "ocf_daemon.h"
#include "ocf_gpu_probe.h"
#include "ocf_hardware.h"
#include "ocf_inflight.h"
#include "ocf_fetch.h"
#include "ocf_linebuf.h"
#include "ocf_logtail.h"
#include "ocf_log.h"
#include "ocf_models.h"
#include "ocf_portowner.h"
#include "ocf_procstat.h"
#include "ocf_process.h"
#include "ocf_prom.h"
#include "ocf_service.h"
#include "ocf_slurm.h"
#include "ocf_swap.h"
#include "ocf_statedir.h"
#include "ocf_strbuf.h"
#include "ocf_sysinfo.h"
#include "ocf_registrar.h"
#include "ocf_time.h"
#include "ocf_units.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

extern char **environ;

#define NEVER INT64_MAX
#define TABLED_TIMEOUT_MS 2000
#define TABLED_HEARTBEAT_MS 1000
#define WITHDRAW_WAIT_MS 2000    //  how long SIGTERM waits for tabled before stopping backends
#define KILL_WAIT_MS 5000        //  how long a SIGKILLed group may take to go
#define BACKEND_LOG_MAX (16 * 1024 * 1024)   //  a backend's log file is truncated past this
#define MAX_HEALTH_BODY 65536
#define MAX_MODELS_BODY (4 * 1024 * 1024)
#define MAX_METRICS_BODY (8 * 1024 * 1024)
#define MAX_MODELS 256
#define UNIT_START_TIMEOUT_MS 30000   //  from `systemctl restart` to the backend's exec
#define INFLIGHT_TIMEOUT_MS 1000 //  proxyd answers STATS from its main loop: milliseconds

typedef enum { PHASE_RUNNING, PHASE_WITHDRAWING, PHASE_STOPPING, PHASE_DONE } phase_t;

//  A service's log file follower: the service's, not one backend's (the old and the new
//  backend of a swap append to the same file).
typedef struct {
    ocf_agent_t *agent;
    char name[OCF_SERVICE_NAME_MAX + 1];
    ocf_logtail_t *tail;
} follower_t;

typedef struct _entry_t entry_t;

struct _entry_t {
    ocf_agent_t *agent;
    ocf_service_config_t *config;
    ocf_service_t *machine;
    int64_t port;                //  its backend's: port, or swap_port after a swap beside the old one
    char **argv;                 //  the command, split, {port} replaced
    char **env;                  //  env plus CUDA_VISIBLE_DEVICES
    char base_url[320];
    char address[300];           //  host:port, as proxyd counts the requests in flight to it
    ocf_process_t *process;
    char log_path[4200];         //  state_dir/backends/NAME.log, its output
    follower_t *follower;        //  follows it into workerd's log
    char unit[OCF_SERVICE_NAME_MAX + 8];   //  launcher = systemd: ocf-backend@UNIT.service (NAME, or NAME.swap)
    char record_path[4200];      //  state_dir/backends/NAME.json, for the next workerd
    json_t *spec;                //  the configuration it is started with
    json_t *recorded;            //  the service state last written there
    ocf_portowner_t port_owner;  //  the last verdict on who listens on its port
    bool wants_inflight;         //  waits for the local proxyd's in-flight count
    bool stop_when_drained;      //  DRAIN {"stop": true}: the backend goes once drained
    bool stopped_by_drain;       //  ... and was told to
    bool kept_drained;           //  listed in state_dir/drained: drained until UNDRAIN, restarts included
    int pending;                 //  HTTP requests and unit starts whose callbacks are still due
    ocf_swap_t *swap;            //  the new backend of a swap under way: the swap ...
    entry_t *old;                //  ... and the old backend's entry
    entry_t *successor;          //  the old backend of a swap under way: the new one's entry
    bool removed;                //  no longer configured: drained, stopped, then forgotten
    bool dead;                   //  forgotten once its process is gone and no callback is due
};

struct _ocf_agent_t {
    ocf_config_t *config;        //  the one read at start: [node] and [workerd] come from it
    ocf_config_t **loaded;       //  those read by reloads, kept while an entry refers to them
    size_t loaded_count;
    zloop_t *loop;
    entry_t **entries;
    size_t entry_count;
    size_t entry_cap;
    ocf_fetch_t *fetch;
    ocf_registrar_t *registrar;
    ocf_units_t *units;          //  launcher = systemd, else NULL
    bool in_event;               //  s_after_event is running
    bool event_again;            //  and must run once more
    ocf_inflight_t *inflight;
    ocf_agent_fn *on_drain;
    void *on_drain_arg;
    ocf_gpu_probe_t *probe;
    bool probe_polled;
    int64_t next_probe_at;
    int cpus;
    int64_t memory_mb;
    int64_t memory_used_mb;
    json_t *hardware;                   //  what the record was last told (settled figures)
    int64_t health_timeout_ms;
    phase_t phase;
    int64_t phase_deadline;
    int timer_id;
    int64_t timer_at;
    int64_t started_at;
    uint64_t output_lines;
    uint64_t metrics_scrapes;
    uint64_t metrics_failures;
    uint64_t model_fetches;
    uint64_t model_failures;
};

static void s_after_event (ocf_agent_t *self);
static void s_settle (ocf_agent_t *self);
static void s_load_drained (ocf_agent_t *self, int64_t now);
static void s_save_drained (ocf_agent_t *self);

//  --------------------------------------------------------------------------
//  Backend output: each line into the log, prefixed with the service name

static void
s_log_line (const char *line, size_t len, bool continued, void *arg)
{
    follower_t *follower = arg;
    follower->agent->output_lines++;
    ocf_log_info ("%s: %.*s%s", follower->name, (int) len, line, continued ? " [...]" : "");
}

//  --------------------------------------------------------------------------
//  Carrying out the state machines' actions

//  --------------------------------------------------------------------------
//  Backend records: what the next workerd needs to adopt a backend

//  Written whenever the service state in it changes (registration, models: rarely), through
//  a temporary file and a rename so that a crash never leaves half a record.
static void
s_write_record (entry_t *entry)
{
    //  None for the old backend of a swap beside it: the file is the new one's.
    if (!*entry->record_path)
        return;
    json_t *state = ocf_service_record (entry->machine);
    if (entry->recorded && json_equal (state, entry->recorded)) {
        json_decref (state);
        return;
    }
    char *text = ocf_backend_record_encode (entry->config->name, ocf_process_pid (entry->process),
                                            ocf_process_start_time (entry->process), entry->port, entry->spec, state);
    if (ocf_statedir_write (entry->record_path, text) != 0) {
        ocf_log_error ("%s: cannot write %s: %s (a restarted workerd would not adopt the backend)", entry->config->name,
                       entry->record_path, strerror (errno));
        json_decref (state);
    }
    else {
        json_decref (entry->recorded);
        entry->recorded = state;
    }
    free (text);
}

static void
s_forget_record (entry_t *entry)
{
    if (*entry->record_path)
        unlink (entry->record_path);
    json_decref (entry->recorded);
    entry->recorded = NULL;
}

static void s_entry_exited (entry_t *entry, int status);

//  The port its backend listens on, and what follows from it: the URL it is checked at, the
//  address proxyd counts its requests under, the command ({port}).
static void
s_set_port (entry_t *entry, int64_t port)
{
    const char *host = entry->config->host;
    entry->port = port;
    snprintf (entry->base_url, sizeof entry->base_url, strchr (host, ':') ? "http://[%s]:%lld" : "http://%s:%lld", host,
              (long long) port);
    snprintf (entry->address, sizeof entry->address, "%s:%lld", host, (long long) port);
    ocf_service_set_port (entry->machine, port);
    if (!entry->config->command)
        return;
    char number[16];
    snprintf (number, sizeof number, "%lld", (long long) port);
    size_t placeholder = strlen (OCF_SERVICE_PORT_PLACEHOLDER);
    char error[128];
    ocf_config_argv_free (&entry->argv);
    //  It split when the configuration was checked.
    entry->argv = ocf_config_split_argv (entry->config->command, error, sizeof error);
    for (char **arg = entry->argv; *arg; arg++) {
        ocf_strbuf_t expanded = { 0 };
        const char *rest = *arg, *found;
        while ((found = strstr (rest, OCF_SERVICE_PORT_PLACEHOLDER))) {
            ocf_strbuf_printf (&expanded, "%.*s%s", (int) (found - rest), rest, number);
            rest = found + placeholder;
        }
        if (rest == *arg)
            continue;
        ocf_strbuf_printf (&expanded, "%s", rest);
        free (*arg);
        *arg = ocf_strdup (expanded.data);
        ocf_strbuf_free (&expanded);
    }
}

//  An adopted backend's pidfd became readable: it ended.
static int
s_on_pidfd (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    s_entry_exited (arg, OCF_SERVICE_EXIT_UNKNOWN);
    s_after_event (((entry_t *) arg)->agent);
    return 0;
}

static void
s_watch_pidfd (entry_t *entry)
{
    zmq_pollitem_t item = { NULL, ocf_process_pidfd (entry->process), ZMQ_POLLIN, 0 };
    zloop_poller (entry->agent->loop, &item, s_on_pidfd, entry);
}

//  Reads the record an earlier workerd left and adopts its backend when the record is
//  sound and the process is still the one it started. Returns true when adopted.
static bool
s_adopt (entry_t *entry, int64_t now)
{
    const char *name = entry->config->name;
    size_t size;
    char *text = ocf_statedir_read (entry->record_path, OCF_BACKEND_RECORD_MAX, &size);
    if (!text) {
        if (errno == ENOENT)
            return false;
        ocf_log_warning ("%s: cannot read %s: %s; record discarded", name, entry->record_path, strerror (errno));
        unlink (entry->record_path);
        return false;
    }
    ocf_backend_record_t record;
    char error[512];
    bool adopted = false;
    if (ocf_backend_record_decode (text, size, &record, error, sizeof error) != 0)
        ocf_log_warning ("%s: %s is not a backend record: %s; record discarded", name, entry->record_path, error);
    else {
        if (strcmp (record.service, name) != 0)
            ocf_log_warning ("%s: %s is the record of service '%s'; record discarded", name, entry->record_path,
                             record.service);
        else
        if (!(entry->process = ocf_process_adopt (record.pid, record.start_time, error, sizeof error)))
            ocf_log_notice ("%s: the backend recorded as pid %d is not running (%s); starting it", name,
                            (int) record.pid, error);
        else {
            //  A backend that a swap started beside the old one listens on swap_port.
            int64_t port = record.port ? record.port : entry->config->port;
            bool outdated = !json_equal (record.spec, entry->spec)
                         || (port != entry->config->port && port != entry->config->swap_port);
            if (!outdated && port != entry->port)
                s_set_port (entry, port);
            ocf_log_info ("%s: pid %d is the backend an earlier workerd started%s", name, (int) record.pid,
                          outdated ? ", with another configuration" : "; adopting it");
            s_watch_pidfd (entry);
            ocf_service_adoption_t adoption = { .registered = record.registered, .models = record.models,
                                                .outdated = outdated };
            ocf_service_adopted (entry->machine, &adoption, now);
            adopted = true;
        }
        ocf_backend_record_clear (&record);
    }
    free (text);
    if (!adopted)
        unlink (entry->record_path);
    return adopted;
}

//  The outcome of a unit's start (ocf_units).
static void
s_on_unit_started (void *arg, ocf_process_t *process, const char *error)
{
    entry_t *entry = arg;
    int64_t now = ocf_time_mono_ms ();
    entry->pending--;
    if (!process)
        ocf_service_spawn_failed (entry->machine, error, now);
    else {
        entry->process = process;
        s_watch_pidfd (entry);
        ocf_log_info ("%s: started %s in ocf-backend@%s.service (pid %d)", entry->config->name, entry->argv[0],
                      entry->unit, (int) ocf_process_pid (process));
        ocf_service_spawned (entry->machine, now);
    }
    s_after_event (entry->agent);
}

static void
s_spawn (entry_t *entry, int64_t now)
{
    char error[512];
    ocf_units_t *units = entry->agent->units;
    if (units) {
        char path[4096];
        //  Known at once, as for a child: not an exit status 127 in the unit's journal.
        if (ocf_process_find_program (entry->argv[0], path, sizeof path, error, sizeof error) != 0)
            ocf_service_spawn_failed (entry->machine, error, now);
        else
        if (!ocf_units_starting (units, entry->unit)
        &&  ocf_units_start (units, entry->unit, entry->argv, entry->env, entry->config->workdir,
                             s_on_unit_started, entry) == 0)
            entry->pending++;
        return;
    }
    entry->process = ocf_process_spawn (entry->argv, entry->env, entry->config->workdir, entry->log_path, error,
                                        sizeof error);
    if (!entry->process) {
        ocf_service_spawn_failed (entry->machine, error, now);
        return;
    }
    ocf_log_info ("%s: started %s (pid %d)", entry->config->name, entry->argv[0], (int) ocf_process_pid (entry->process));
    ocf_service_spawned (entry->machine, now);
}

static void
s_signal (entry_t *entry, int signal_number)
{
    if (!entry->process)
        return;
    if (signal_number == SIGTERM)
        ocf_log_info ("%s: sending SIGTERM to process group %d", entry->config->name, (int) ocf_process_pid (entry->process));
    if (ocf_process_signal (entry->process, signal_number) != 0 && errno != ESRCH)
        ocf_log_error ("%s: cannot signal process group %d: %s", entry->config->name,
                       (int) ocf_process_pid (entry->process), strerror (errno));
}

//  What a request was for travels in its tag, with the run it belongs to.
typedef enum { GET_HEALTH, GET_MODELS, GET_METRICS } get_kind_t;

static void s_deliver (entry_t *entry, get_kind_t kind, uint64_t run, const ocf_fetch_result_t *result);

static void
s_on_response (const ocf_fetch_result_t *result, void *arg, uint64_t tag)
{
    entry_t *entry = arg;
    entry->pending--;
    s_deliver (entry, (get_kind_t) (tag & 3), tag >> 2, result);
    s_after_event (entry->agent);
}

static void
s_get (entry_t *entry, get_kind_t kind)
{
    static const size_t max_body[] = { MAX_HEALTH_BODY, MAX_MODELS_BODY, MAX_METRICS_BODY };
    const char *paths[] = { entry->config->health_path, entry->config->models_path, entry->config->metrics_path };
    char url[1024];
    snprintf (url, sizeof url, "%s%s", entry->base_url, paths[kind]);
    uint64_t run = ocf_service_run (entry->machine);
    if (ocf_fetch_get (entry->agent->fetch, url, entry->agent->health_timeout_ms, max_body[kind], s_on_response, entry,
                       run << 2 | kind) != 0) {
        ocf_fetch_result_t failed = { .body = "", .error = "cannot start an HTTP request" };
        s_deliver (entry, kind, run, &failed);
    }
    else
        entry->pending++;
}

static void
s_act (entry_t *entry, int64_t now)
{
    ocf_agent_t *self = entry->agent;
    //  An action can make another due at once (a spawn that fails schedules a restart):
    //  a few rounds settle it.
    for (int round = 0; round < 4; round++) {
        ocf_service_tick (entry->machine, now);
        //  Drained with {"stop": true}: stopped on purpose, not restarted until undrained.
        if (entry->stop_when_drained && ocf_service_drain_state (entry->machine) == OCF_SERVICE_DRAIN_DRAINED) {
            entry->stop_when_drained = false;
            entry->stopped_by_drain = true;
            if (ocf_service_running (entry->machine))
                ocf_log_notice ("%s: drained, stopping its backend", entry->config->name);
            ocf_service_stop (entry->machine, now);
        }
        int actions = ocf_service_take_actions (entry->machine);
        if (!actions)
            break;
        if (actions & OCF_SERVICE_SPAWN)
            s_spawn (entry, now);
        if (actions & OCF_SERVICE_TERM)
            s_signal (entry, SIGTERM);
        if (actions & OCF_SERVICE_KILL)
            s_signal (entry, SIGKILL);
        if (actions & OCF_SERVICE_CHECK)
            s_get (entry, GET_HEALTH);
        if (actions & OCF_SERVICE_MODELS)
            s_get (entry, GET_MODELS);
        if (actions & OCF_SERVICE_SCRAPE)
            s_get (entry, GET_METRICS);
        if (actions & OCF_SERVICE_INFLIGHT) {
            char error[512];
            entry->wants_inflight = ocf_inflight_ask (self->inflight, error, sizeof error) == 0;
            if (!entry->wants_inflight)
                ocf_service_inflight (entry->machine, -1, error, now);
        }
    }
    if (entry->process)
        s_write_record (entry);
}

//  --------------------------------------------------------------------------
//  HTTP results

static void
s_describe (const ocf_fetch_result_t *result, char *text, size_t size)
{
    if (result->error)
        snprintf (text, size, "%s", result->error);
    else
        snprintf (text, size, "HTTP %d", result->status);
}

static bool
s_success (const ocf_fetch_result_t *result)
{
    return !result->error && result->status >= 200 && result->status < 300;
}

static void
s_deliver_health (entry_t *entry, uint64_t run, const ocf_fetch_result_t *result, int64_t now)
{
    char why[512];
    s_describe (result, why, sizeof why);
    ocf_service_probe_t probe = { .ok = s_success (result), .refused = result->refused,
                                  .latency_us = result->latency_us, .error = why };
    //  The answer counts only if it came from the backend, not from whoever else listens.
    char holder[128];
    if (probe.ok && entry->process
    &&  ocf_portowner_check (&entry->port_owner, ocf_process_pid (entry->process), entry->config->host,
                             (int) entry->port, holder, sizeof holder) != 0) {
        snprintf (why, sizeof why, "port %lld is held by %s, not by the backend (pid %d)",
                  (long long) entry->port, holder, (int) ocf_process_pid (entry->process));
        probe.ok = false;
        probe.foreign = true;
    }
    ocf_service_health (entry->machine, run, &probe, now);
}

static void
s_deliver_models (entry_t *entry, uint64_t run, const ocf_fetch_result_t *result, int64_t now)
{
    char problem[512] = "";
    json_t *models = NULL;
    entry->agent->model_fetches++;
    if (!s_success (result))
        s_describe (result, problem, sizeof problem);
    else
    if (!(models = ocf_models_parse (result->body, result->size, MAX_MODELS, problem, sizeof problem))) {
        //  Say which request got the bad answer: the parser only knows the text.
        char detail[600];
        snprintf (detail, sizeof detail, "GET %s: %s", entry->config->models_path, problem);
        snprintf (problem, sizeof problem, "%s", detail);
    }
    if (!models)
        entry->agent->model_failures++;
    ocf_service_models (entry->machine, run, models, problem, now);
    json_decref (models);
}

static void
s_deliver_metrics (entry_t *entry, uint64_t run, const ocf_fetch_result_t *result, int64_t now)
{
    char problem[512] = "";
    ocf_prom_load_t load = { 0 };
    bool ok = s_success (result);
    entry->agent->metrics_scrapes++;
    if (!ok)
        s_describe (result, problem, sizeof problem);
    else
    if (ocf_prom_parse_load (result->body, result->size, &load, problem, sizeof problem) != 0) {
        char detail[600];
        snprintf (detail, sizeof detail, "GET %s: %s", entry->config->metrics_path, problem);
        snprintf (problem, sizeof problem, "%s", detail);
        ok = false;
    }
    if (!ok)
        entry->agent->metrics_failures++;
    ocf_service_metrics (entry->machine, run, ok, &load, problem, now);
}

static void
s_deliver (entry_t *entry, get_kind_t kind, uint64_t run, const ocf_fetch_result_t *result)
{
    int64_t now = ocf_time_mono_ms ();
    if (kind == GET_HEALTH)
        s_deliver_health (entry, run, result, now);
    else
    if (kind == GET_MODELS)
        s_deliver_models (entry, run, result, now);
    else
        s_deliver_metrics (entry, run, result, now);
}

//  --------------------------------------------------------------------------
//  GPU inventory and hardware

static void
s_report_hardware (ocf_agent_t *self)
{
    json_t *gpus = ocf_gpu_probe_gpus (self->probe);
    if (!gpus)
        return;
    ocf_sysinfo_read ("/proc", &self->cpus, &self->memory_mb, &self->memory_used_mb);
    json_t *measured = json_pack ("{s:i, s:I, s:I, s:O}", "cpus", self->cpus, "memory_mb", (json_int_t) self->memory_mb,
                                  "memory_used_mb", (json_int_t) self->memory_used_mb, "gpus", gpus);
    json_t *settled = ocf_hardware_settle (self->hardware, measured);
    json_decref (measured);
    json_decref (self->hardware);
    self->hardware = json_incref (settled);
    ocf_registrar_set_hardware (self->registrar, settled);
}

static int
s_on_probe_output (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    ocf_agent_t *self = arg;
    if (ocf_gpu_probe_read (self->probe) != 0) {
        zloop_poller_end (loop, item);
        self->probe_polled = false;
    }
    return 0;
}

static void
s_probe (ocf_agent_t *self, int64_t now)
{
    if (ocf_gpu_probe_start (self->probe, now) != 0) {
        //  Finished at once (no nvidia-smi here).
        self->next_probe_at = now + self->config->workerd.gpu_interval_ms;
        s_report_hardware (self);
        return;
    }
    zmq_pollitem_t item = { NULL, ocf_gpu_probe_fd (self->probe), ZMQ_POLLIN, 0 };
    zloop_poller (self->loop, &item, s_on_probe_output, self);
    zloop_poller_set_tolerant (self->loop, &item);
    self->probe_polled = true;
    self->next_probe_at = NEVER;
}

static void
s_probe_exited (ocf_agent_t *self, int status)
{
    if (self->probe_polled) {
        zmq_pollitem_t item = { NULL, ocf_gpu_probe_fd (self->probe), 0, 0 };
        zloop_poller_end (self->loop, &item);
        self->probe_polled = false;
    }
    ocf_gpu_probe_exited (self->probe, status);
    self->next_probe_at = ocf_time_mono_ms () + self->config->workerd.gpu_interval_ms;
    s_report_hardware (self);
}

//  --------------------------------------------------------------------------
//  Scheduling: one timer, armed for the earliest deadline of all parts

static int s_on_timer (zloop_t *loop, int timer_id, void *arg);

static int64_t
s_next_deadline (ocf_agent_t *self)
{
    if (self->phase == PHASE_DONE)
        return 0;                //  at once: the timer ends the loop
    int64_t next = self->phase == PHASE_RUNNING ? self->next_probe_at : NEVER;
    int64_t probe_deadline = ocf_gpu_probe_deadline (self->probe);
    if (probe_deadline && probe_deadline < next)
        next = probe_deadline;
    if (self->units && ocf_units_next_deadline (self->units) < next)
        next = ocf_units_next_deadline (self->units);
    if (self->phase == PHASE_WITHDRAWING || self->phase == PHASE_STOPPING)
        next = self->phase_deadline < next ? self->phase_deadline : next;
    for (size_t i = 0; i < self->entry_count; i++) {
        int64_t wake = ocf_service_next_wakeup (self->entries[i]->machine);
        next = wake < next ? wake : next;
    }
    return next;
}

static void
s_arm (ocf_agent_t *self)
{
    int64_t at = s_next_deadline (self);
    if (self->timer_id >= 0 && self->timer_at == at)
        return;
    if (self->timer_id >= 0)
        zloop_timer_end (self->loop, self->timer_id);
    self->timer_id = -1;
    if (at == NEVER)
        return;
    int64_t delay = at - ocf_time_mono_ms ();
    self->timer_at = at;
    self->timer_id = zloop_timer (self->loop, (size_t) (delay > 0 ? delay : 0), 1, s_on_timer, self);
}

static bool
s_anything_running (ocf_agent_t *self)
{
    for (size_t i = 0; i < self->entry_count; i++)
        if (self->entries[i]->process)
            return true;
    return ocf_gpu_probe_pid (self->probe) != 0;
}

//  Shutdown: withdrawn from tabled first (or given up on it), then the backends stopped.
static void
s_advance_shutdown (ocf_agent_t *self, int64_t now)
{
    if (self->phase == PHASE_WITHDRAWING
    &&  (ocf_registrar_synced (self->registrar) || now >= self->phase_deadline)) {
        if (ocf_registrar_synced (self->registrar))
            ocf_log_info ("every service is withdrawn from tabled; stopping the backends");
        else
            ocf_log_warning ("tabled did not confirm the withdrawal within %d ms; stopping the backends anyway",
                             WITHDRAW_WAIT_MS);
        self->phase = PHASE_STOPPING;
        int64_t longest = 0;
        for (size_t i = 0; i < self->entry_count; i++) {
            ocf_service_stop (self->entries[i]->machine, now);
            if (self->entries[i]->config->stop_timeout_ms > longest)
                longest = self->entries[i]->config->stop_timeout_ms;
        }
        ocf_gpu_probe_kill (self->probe);
        self->phase_deadline = now + longest + KILL_WAIT_MS;
    }
    if (self->phase == PHASE_STOPPING && !s_anything_running (self)) {
        ocf_log_info ("every backend has stopped");
        self->phase = PHASE_DONE;
    }
    else
    if (self->phase == PHASE_STOPPING && now >= self->phase_deadline) {
        ocf_log_error ("backends still running %d ms after SIGKILL; exiting without them", KILL_WAIT_MS);
        self->phase = PHASE_DONE;
    }
}

//  After any event: let every machine act, hand registrations to the registrar, re-arm.
static void
s_after_event (ocf_agent_t *self)
{
    //  Outcomes reported from within (a unit's start that failed at the tick) ask for one
    //  more round rather than a nested one.
    if (self->in_event) {
        self->event_again = true;
        return;
    }
    self->in_event = true;
    do {
        self->event_again = false;
        s_settle (self);
    } while (self->event_again);
    self->in_event = false;
}

static bool
s_tick_swaps (ocf_agent_t *self, int64_t now)
{
    bool changed = false;
    for (size_t i = 0; i < self->entry_count; i++)
        if (self->entries[i]->swap)
            changed |= ocf_swap_tick (self->entries[i]->swap, now);
    return changed;
}

//  A swap that is over leaves one entry for the service: the new one, or the old one when
//  the new one failed beside it.
static void
s_end_swaps (ocf_agent_t *self)
{
    for (size_t i = 0; i < self->entry_count; i++) {
        entry_t *entry = self->entries[i], *old = entry->old;
        if (!entry->swap || !ocf_swap_over (entry->swap))
            continue;
        ocf_registrar_set_service (self->registrar, ocf_swap_aside_name (entry->swap), NULL);
        if (ocf_swap_phase (entry->swap) == OCF_SWAP_ABORTED) {
            //  The record file is the old backend's again (written at its next event).
            entry->dead = true;
            entry->record_path[0] = '\0';
            old->follower = entry->follower;
            entry->follower = NULL;
            ocf_statedir_backend_path (self->config->node.state_dir, old->config->name, ".json", old->record_path,
                                       sizeof old->record_path);
            json_decref (old->recorded);
            old->recorded = NULL;
        }
        else
            old->dead = true;
        old->successor = NULL;
        entry->old = NULL;
        ocf_swap_destroy (&entry->swap);
    }
}

//  What tabled should hold, from every machine (and every swap under way).
static void
s_register (ocf_agent_t *self)
{
    for (size_t i = 0; i < self->entry_count; i++) {
        entry_t *entry = self->entries[i];
        if (entry->dead || entry->successor)
            continue;            //  forgotten, or registered by the swap
        if (entry->swap) {
            ocf_registrar_set_service (self->registrar, entry->config->name, ocf_swap_registration (entry->swap));
            ocf_registrar_set_service (self->registrar, ocf_swap_aside_name (entry->swap),
                                       ocf_swap_aside_registration (entry->swap));
        }
        else
            ocf_registrar_set_service (self->registrar, entry->config->name, ocf_service_registration (entry->machine));
    }
}

static void s_entry_destroy (entry_t **entry_p);

//  Removed services once stopped, and the losers of swaps, are forgotten when nothing will
//  call back about them any more.
static void
s_forget_entries (ocf_agent_t *self)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->entry_count; i++) {
        entry_t *entry = self->entries[i];
        if (entry->removed && !ocf_service_running (entry->machine) && !entry->dead) {
            ocf_log_notice ("%s: removed from the configuration, its backend stopped: forgotten", entry->config->name);
            ocf_registrar_set_service (self->registrar, entry->config->name, NULL);
            entry->dead = true;
        }
        if (entry->dead && !entry->process && !entry->pending)
            s_entry_destroy (&entry);
        else
            self->entries[kept++] = entry;
    }
    self->entry_count = kept;
}

static void
s_settle (ocf_agent_t *self)
{
    int64_t now = ocf_time_mono_ms ();
    if (self->units)
        ocf_units_tick (self->units, now);
    s_tick_swaps (self, now);
    for (size_t i = 0; i < self->entry_count; i++)
        s_act (self->entries[i], now);
    //  A machine's tick (a drain_timeout, an exit) may move a swap on, which gives the
    //  machines more to do.
    if (s_tick_swaps (self, now))
        for (size_t i = 0; i < self->entry_count; i++)
            s_act (self->entries[i], now);
    s_end_swaps (self);
    s_register (self);
    s_forget_entries (self);
    if (self->phase == PHASE_RUNNING && now >= self->next_probe_at)
        s_probe (self, now);
    int64_t probe_deadline = ocf_gpu_probe_deadline (self->probe);
    if (probe_deadline && now >= probe_deadline)
        ocf_gpu_probe_kill (self->probe);
    if (self->phase != PHASE_RUNNING && self->phase != PHASE_DONE) {
        s_advance_shutdown (self, now);
        //  Stopping the services made SIGTERMs due.
        for (size_t i = 0; i < self->entry_count; i++)
            s_act (self->entries[i], now);
    }
    s_arm (self);
    if (self->on_drain)
        self->on_drain (self->on_drain_arg);
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    ocf_agent_t *self = arg;
    if (timer_id != self->timer_id)
        return 0;                //  ended in this loop iteration but run anyway
    self->timer_id = -1;
    s_after_event (self);
    return self->phase == PHASE_DONE ? -1 : 0;
}

//  The registrar caught up with tabled: a withdrawal may be complete, and tabled holds the
//  "draining" marks set so far.
static void
s_on_synced (void *arg)
{
    ocf_agent_t *self = arg;
    bool draining = false;
    int64_t now = ocf_time_mono_ms ();
    for (size_t i = 0; i < self->entry_count; i++)
        if (ocf_service_drain_state (self->entries[i]->machine) == OCF_SERVICE_DRAIN_DRAINING) {
            ocf_service_drain_published (self->entries[i]->machine, now);
            draining = true;
        }
    if (self->phase == PHASE_WITHDRAWING || draining)
        s_after_event (self);
    else
    if (self->on_drain)
        self->on_drain (self->on_drain_arg);    //  a complete drain waits for tabled's acknowledgement
}

//  The local proxyd's answer, for every backend that asked, by address: the old and the new
//  backend of a swap share the service's name. A backend it never routed to is not listed:
//  nothing in flight.
static void
s_on_inflight (json_t *counts, const char *error, void *arg)
{
    ocf_agent_t *self = arg;
    int64_t now = ocf_time_mono_ms ();
    for (size_t i = 0; i < self->entry_count; i++) {
        entry_t *entry = self->entries[i];
        if (!entry->wants_inflight)
            continue;
        entry->wants_inflight = false;
        json_t *count = counts ? json_object_get (counts, entry->address) : NULL;
        ocf_service_inflight (entry->machine, counts ? (json_is_integer (count) ? json_integer_value (count) : 0) : -1,
                              error, now);
    }
    s_after_event (self);
}

//  --------------------------------------------------------------------------
//  Children

static void
s_entry_exited (entry_t *entry, int status)
{
    //  What the child wrote last is worth keeping: it often says why it died.
    if (entry->follower)
        ocf_logtail_drain (entry->follower->tail);
    if (ocf_process_pidfd (entry->process) >= 0) {
        zmq_pollitem_t item = { NULL, ocf_process_pidfd (entry->process), 0, 0 };
        zloop_poller_end (entry->agent->loop, &item);
    }
    s_forget_record (entry);
    //  Workers the backend left behind (its process group) go with it.
    ocf_process_signal (entry->process, SIGKILL);
    ocf_process_destroy (&entry->process);
    ocf_service_exited (entry->machine, status, ocf_time_mono_ms ());
}

int
ocf_agent_reap (ocf_agent_t *self)
{
    int status;
    pid_t pid;
    while ((pid = waitpid (-1, &status, WNOHANG)) > 0) {
        if (pid == ocf_gpu_probe_pid (self->probe)) {
            s_probe_exited (self, status);
            continue;
        }
        if (self->units && ocf_units_reap (self->units, pid, status))
            continue;
        for (size_t i = 0; i < self->entry_count; i++)
            if (self->entries[i]->process && ocf_process_pid (self->entries[i]->process) == pid)
                s_entry_exited (self->entries[i], status);
    }
    s_after_event (self);
    return self->phase == PHASE_DONE ? -1 : 0;
}

int
ocf_agent_leave (ocf_agent_t *self)
{
    if (self->phase != PHASE_RUNNING) {
        ocf_log_info ("already stopping");
        return 0;
    }
    size_t running = 0;
    for (size_t i = 0; i < self->entry_count; i++)
        if (self->entries[i]->process) {
            entry_t *entry = self->entries[i];
            json_t *registration = ocf_service_registration (entry->machine);
            ocf_log_info ("%s: backend (pid %d) left running%s", entry->config->name, (int) ocf_process_pid (entry->process),
                          registration ? ", registered" : "");
            json_decref (registration);
            running++;
        }
    ocf_log_notice ("exiting with %zu backend%s left running (a restarted ocf-workerd adopts them; "
                    "`ocfctl -d workerd STOP` stops them)", running, running == 1 ? "" : "s");
    self->phase = PHASE_DONE;
    return -1;
}

int
ocf_agent_shutdown (ocf_agent_t *self)
{
    if (self->phase != PHASE_RUNNING) {
        ocf_log_info ("already stopping");
        return 0;
    }
    ocf_log_info ("withdrawing %zu service%s from tabled before stopping the backends", self->entry_count,
                  self->entry_count == 1 ? "" : "s");
    self->phase = PHASE_WITHDRAWING;
    self->phase_deadline = ocf_time_mono_ms () + WITHDRAW_WAIT_MS;
    for (size_t i = 0; i < self->entry_count; i++)
        ocf_service_withdraw (self->entries[i]->machine);
    s_after_event (self);
    return self->phase == PHASE_DONE ? -1 : 0;
}

bool
ocf_agent_stopping (ocf_agent_t *self)
{
    return self->phase != PHASE_RUNNING;
}

//  --------------------------------------------------------------------------
//  Construction

//  "KEY=VALUE KEY=VALUE" plus CUDA_VISIBLE_DEVICES from gpus.
static char **
s_environment (const ocf_service_config_t *config)
{
    size_t count = 0, cap = 8;
    char **env = ocf_calloc (cap, sizeof *env);
    char *copy = ocf_strdup (config->env), *saveptr = NULL;
    for (char *item = strtok_r (copy, " \t", &saveptr); item; item = strtok_r (NULL, " \t", &saveptr)) {
        if (count + 2 >= cap)
            env = ocf_realloc (env, (cap *= 2) * sizeof *env);
        env[count++] = ocf_strdup (item);
    }
    free (copy);
    if (*config->gpus) {
        if (count + 2 >= cap)
            env = ocf_realloc (env, (cap *= 2) * sizeof *env);
        char *variable = ocf_malloc (strlen (config->gpus) + 32);
        sprintf (variable, "CUDA_VISIBLE_DEVICES=%s", config->gpus);
        env[count++] = variable;
    }
    env[count] = NULL;
    return env;
}

//  How long after the process started (exec) the backends were adopted, from its start
//  time (clock ticks, 10 ms) and CLOCK_BOOTTIME: the bound that matters to an operator.
static void
s_log_adoption_time (ocf_agent_t *self)
{
    size_t adopted = 0;
    for (size_t i = 0; i < self->entry_count; i++)
        adopted += self->entries[i]->process != NULL;
    ocf_procstat_t stat;
    struct timespec boot;
    long ticks = sysconf (_SC_CLK_TCK);
    if (ocf_procstat_read (getpid (), &stat) != 0 || clock_gettime (CLOCK_BOOTTIME, &boot) != 0 || ticks <= 0)
        return;
    int64_t since_ms = (int64_t) boot.tv_sec * 1000 + boot.tv_nsec / 1000000 - (int64_t) stat.start_time * 1000 / ticks;
    ocf_log_info ("%zu running backend%s adopted, %lld ms after workerd started", adopted, adopted == 1 ? "" : "s",
                  (long long) since_ms);
}

//  A service's entry, its backend on port, added to the agent's; not started. NULL with
//  error set when its command cannot be split (the configuration check catches it first).
static entry_t *
s_entry_new (ocf_agent_t *self, ocf_service_config_t *config, int64_t port, char *error, size_t error_size)
{
    entry_t *entry = ocf_calloc (1, sizeof *entry);
    entry->agent = self;
    entry->config = config;
    snprintf (entry->unit, sizeof entry->unit, "%s", config->name);
    const char *state_dir = self->config->node.state_dir;
    if (config->command) {
        if (!(entry->argv = ocf_config_split_argv (config->command, error, error_size))) {
            free (entry);
            return NULL;
        }
        entry->env = s_environment (config);
        //  A unit's output goes to its own journal (journalctl -u ocf-backend@NAME).
        ocf_statedir_backend_path (state_dir, config->name, ".log", entry->log_path, sizeof entry->log_path);
        ocf_statedir_backend_path (state_dir, config->name, ".json", entry->record_path, sizeof entry->record_path);
        entry->spec = ocf_backend_record_spec (config);
    }
    entry->machine = ocf_service_new (config, &self->config->workerd);
    s_set_port (entry, port);
    if (self->entry_count == self->entry_cap) {
        self->entry_cap = self->entry_cap ? self->entry_cap * 2 : 8;
        self->entries = ocf_realloc (self->entries, self->entry_cap * sizeof *self->entries);
    }
    self->entries[self->entry_count++] = entry;
    ocf_log_info ("%s: %s on %s", config->name, config->command ? "launching a backend" : "checking an externally managed backend",
                  entry->base_url);
    return entry;
}

//  Follows the service's log file (launcher = process).
static int
s_follow (entry_t *entry, char *error, size_t error_size)
{
    follower_t *follower = ocf_calloc (1, sizeof *follower);
    follower->agent = entry->agent;
    snprintf (follower->name, sizeof follower->name, "%s", entry->config->name);
    follower->tail = ocf_logtail_new (entry->agent->loop, entry->log_path, BACKEND_LOG_MAX, s_log_line, follower, error,
                                      error_size);
    if (!follower->tail) {
        free (follower);
        return -1;
    }
    entry->follower = follower;
    return 0;
}

static void
s_entry_destroy (entry_t **entry_p)
{
    entry_t *entry = *entry_p;
    //  A backend still running was left on purpose (ocf_agent_leave): it outlives workerd.
    if (entry->process && ocf_process_pidfd (entry->process) >= 0) {
        zmq_pollitem_t item = { NULL, ocf_process_pidfd (entry->process), 0, 0 };
        zloop_poller_end (entry->agent->loop, &item);
    }
    ocf_process_destroy (&entry->process);
    json_decref (entry->spec);
    json_decref (entry->recorded);
    if (entry->follower) {
        ocf_logtail_destroy (&entry->follower->tail);
        free (entry->follower);
    }
    ocf_swap_destroy (&entry->swap);
    ocf_service_destroy (&entry->machine);
    ocf_config_argv_free (&entry->argv);
    ocf_config_argv_free (&entry->env);
    free (entry);
    *entry_p = NULL;
}

ocf_agent_t *
ocf_agent_new (ocf_config_t *config, zloop_t *loop, char *error, size_t error_size)
{
    ocf_agent_t *self = ocf_calloc (1, sizeof *self);
    self->config = config;
    self->loop = loop;
    self->timer_id = -1;
    self->started_at = ocf_time_mono_ms ();
    int64_t interval = config->workerd.health_interval_ms;
    self->health_timeout_ms = interval < 1000 ? 1000 : interval > 10000 ? 10000 : interval;
    self->fetch = ocf_fetch_new (loop);
    char endpoint[512];
    self->registrar = ocf_registrar_new (loop, ocf_daemon_endpoint (config, "tabled.api", endpoint, sizeof endpoint),
                                         TABLED_TIMEOUT_MS, TABLED_HEARTBEAT_MS);
    ocf_registrar_set_synced_handler (self->registrar, s_on_synced, self);
    self->inflight = ocf_inflight_new (loop, ocf_daemon_endpoint (config, "proxyd.api", endpoint, sizeof endpoint),
                                       INFLIGHT_TIMEOUT_MS, s_on_inflight, self);
    int64_t gpu_timeout = config->workerd.gpu_interval_ms;
    self->probe = ocf_gpu_probe_new (config->workerd.nvidia_smi, gpu_timeout < 2000 ? 2000 : gpu_timeout > 30000 ? 30000 : gpu_timeout);
    char skipped[256];
    json_t *labels = ocf_slurm_labels (environ, skipped, sizeof skipped);
    if (*skipped)
        ocf_log_warning ("Slurm variables left out of the labels (too long or control characters): %s", skipped);
    if (json_object_size (labels))
        ocf_log_info ("running in Slurm job %s: its variables become labels",
                      json_string_value (json_object_get (labels, "slurm_job_id")) ?: "(no id)");
    ocf_registrar_set_labels (self->registrar, labels);

    char backends[4200];
    ocf_statedir_path (config->node.state_dir, OCF_STATE_BACKENDS, backends, sizeof backends);
    if (ocf_mkdirs (backends, 0750) != 0) {
        snprintf (error, error_size, "cannot create %s: %s", backends, strerror (errno));
        ocf_agent_destroy (&self);
        return NULL;
    }
    if (strcmp (config->workerd.launcher, "systemd") == 0
    &&  !(self->units = ocf_units_new (loop, backends, UNIT_START_TIMEOUT_MS, error, error_size))) {
        ocf_agent_destroy (&self);
        return NULL;
    }
    for (size_t i = 0; i < config->service_count; i++) {
        entry_t *entry = s_entry_new (self, &config->services[i], config->services[i].port, error, error_size);
        if (!entry || (entry->config->command && !self->units && s_follow (entry, error, error_size) != 0)) {
            ocf_agent_destroy (&self);
            return NULL;
        }
    }
    //  A service this node registered in an earlier run is withdrawn until it is healthy,
    //  unless its backend is still running: then it stays as it is (registered or not).
    int64_t now = ocf_time_mono_ms ();
    s_load_drained (self, now);
    for (size_t i = 0; i < self->entry_count; i++) {
        entry_t *entry = self->entries[i];
        if (!entry->config->command || !s_adopt (entry, now)) {
            ocf_registrar_set_service (self->registrar, entry->config->name, NULL);
            ocf_service_start (entry->machine, now);
        }
    }
    s_log_adoption_time (self);
    s_after_event (self);
    return self;
}

void
ocf_agent_destroy (ocf_agent_t **self_p)
{
    ocf_agent_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->entry_count; i++)
        s_entry_destroy (&self->entries[i]);
    free (self->entries);
    for (size_t i = 0; i < self->loaded_count; i++)
        ocf_config_destroy (&self->loaded[i]);
    free (self->loaded);
    if (self->probe_polled) {
        zmq_pollitem_t item = { NULL, ocf_gpu_probe_fd (self->probe), 0, 0 };
        zloop_poller_end (self->loop, &item);
    }
    ocf_gpu_probe_destroy (&self->probe);
    ocf_fetch_destroy (&self->fetch);
    ocf_registrar_destroy (&self->registrar);
    json_decref (self->hardware);
    ocf_units_destroy (&self->units);
    ocf_inflight_destroy (&self->inflight);
    if (self->timer_id >= 0)
        zloop_timer_end (self->loop, self->timer_id);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  Reload

//  The entry that stands for the service now (the new one during a swap), NULL when none.
static entry_t *
s_current (ocf_agent_t *self, const char *name)
{
    for (size_t i = 0; i < self->entry_count; i++) {
        entry_t *entry = self->entries[i];
        if (!entry->dead && !entry->successor && !entry->removed && strcmp (entry->config->name, name) == 0)
            return entry;
    }
    return NULL;
}

static bool
s_uses (ocf_agent_t *self, const ocf_config_t *config)
{
    for (size_t i = 0; i < self->entry_count; i++) {
        const ocf_service_config_t *used = self->entries[i]->config;
        if (used >= config->services && used < config->services + config->service_count)
            return true;
    }
    return false;
}

//  Configurations read by earlier reloads that no entry refers to any more.
static void
s_prune_configs (ocf_agent_t *self)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->loaded_count; i++)
        if (i + 1 == self->loaded_count || s_uses (self, self->loaded[i]))
            self->loaded[kept++] = self->loaded[i];
        else
            ocf_config_destroy (&self->loaded[i]);
    self->loaded_count = kept;
}

//  A changed service: its backend replaced by a swap (ocf_swap).
static void
s_begin_swap (ocf_agent_t *self, entry_t *old, ocf_service_config_t *config, int64_t now)
{
    char error[256];
    bool beside = strcmp (config->swap, "beside") == 0;
    //  Beside: the port the old backend does not hold.
    int64_t port = beside && old->port == config->port ? config->swap_port : config->port;
    entry_t *entry = s_entry_new (self, config, port, error, sizeof error);
    if (!entry) {
        ocf_log_error ("%s: reload: %s; the running backend stays", config->name, error);
        return;
    }
    //  The log file is the service's: the old and the new backend append to it.
    entry->follower = old->follower;
    old->follower = NULL;
    if (config->command && !self->units && !entry->follower && s_follow (entry, error, sizeof error) != 0)
        ocf_log_error ("%s: %s (its output is not logged)", config->name, error);
    if (beside) {
        old->record_path[0] = '\0';
        //  Both run at once: in units of their own (the next swap beside goes back to NAME).
        if (strcmp (old->unit, config->name) == 0)
            snprintf (entry->unit, sizeof entry->unit, "%s.swap", config->name);
    }
    entry->old = old;
    old->successor = entry;
    entry->swap = ocf_swap_new (config->name, beside ? OCF_SWAP_BESIDE : OCF_SWAP_AFTER_DRAIN, old->machine,
                                entry->machine, now);
}

int
ocf_agent_reload (ocf_agent_t *self, ocf_config_t *config)
{
    if (self->phase != PHASE_RUNNING) {
        ocf_log_notice ("reload: ignored, workerd is stopping");
        ocf_config_destroy (&config);
        return -1;
    }
    int64_t now = ocf_time_mono_ms ();
    size_t added = 0, changed = 0, removed = 0, unchanged = 0;
    for (size_t i = 0; i < self->entry_count; i++) {
        entry_t *entry = self->entries[i];
        if (entry->dead || entry->successor || entry->removed || ocf_config_service (config, entry->config->name))
            continue;
        if (entry->swap) {
            ocf_log_warning ("%s: reload: removed from the configuration while its swap is under way; reload again "
                             "once it is done", entry->config->name);
            continue;
        }
        ocf_log_notice ("%s: reload: removed from the configuration: draining it, then stopping its backend",
                        entry->config->name);
        entry->removed = entry->stop_when_drained = true;
        entry->kept_drained = false;
        ocf_service_drain (entry->machine, now);
        removed++;
    }
    for (size_t i = 0; i < config->service_count; i++) {
        ocf_service_config_t *service = &config->services[i];
        entry_t *entry = s_current (self, service->name);
        if (!entry) {
            char error[256];
            ocf_log_notice ("%s: reload: added to the configuration, starting it", service->name);
            entry = s_entry_new (self, service, service->port, error, sizeof error);
            if (!entry || (service->command && !self->units && s_follow (entry, error, sizeof error) != 0)) {
                ocf_log_error ("%s: reload: %s", service->name, error);
                continue;
            }
            ocf_registrar_set_service (self->registrar, service->name, NULL);
            ocf_service_start (entry->machine, now);
            added++;
        }
        else
        if (ocf_service_config_same (entry->config, service)) {
            //  Untouched: only its configuration is the new file's (equal but for swap settings).
            entry->config = service;
            ocf_service_set_config (entry->machine, service);
            unchanged++;
        }
        else
        if (entry->swap)
            ocf_log_warning ("%s: reload: changed again while its swap is under way; reload again once it is done",
                             service->name);
        else {
            s_begin_swap (self, entry, service, now);
            changed++;
        }
    }
    if (self->loaded_count % 8 == 0)
        self->loaded = ocf_realloc (self->loaded, (self->loaded_count + 8) * sizeof *self->loaded);
    self->loaded[self->loaded_count++] = config;
    ocf_log_notice ("reload: %zu service%s added, %zu changed, %zu removed, %zu unchanged (only [service.*] sections "
                    "are applied; other sections take effect at the next start)", added, added == 1 ? "" : "s",
                    changed, removed, unchanged);
    s_prune_configs (self);
    s_save_drained (self);
    s_after_event (self);
    return 0;
}

//  --------------------------------------------------------------------------
//  Drain

static bool
s_any_drain (ocf_agent_t *self)
{
    for (size_t i = 0; i < self->entry_count; i++)
        if (ocf_service_drain_state (self->entries[i]->machine) != OCF_SERVICE_DRAIN_NONE)
            return true;
    return false;
}

//  state_dir/drained: the services an operator drained, one name a line, so that a restart of
//  workerd (an upgrade in the middle of maintenance) does not put them back into service.
//  Drains with stop (ocf.target stopping) are not kept: the host serves again once started.
static void
s_save_drained (ocf_agent_t *self)
{
    char path[4200];
    ocf_statedir_path (self->config->node.state_dir, OCF_STATE_DRAINED, path, sizeof path);
    bool any = false;
    for (size_t i = 0; i < self->entry_count; i++)
        any |= self->entries[i]->kept_drained;
    if (!any) {
        if (unlink (path) != 0 && errno != ENOENT)
            ocf_log_error ("cannot remove %s: %s", path, strerror (errno));
        return;
    }
    ocf_strbuf_t names = { 0 };
    for (size_t i = 0; i < self->entry_count; i++)
        if (self->entries[i]->kept_drained)
            ocf_strbuf_printf (&names, "%s\n", self->entries[i]->config->name);
    if (ocf_statedir_write (path, names.data) != 0)
        ocf_log_error ("cannot write %s (a restart of workerd would undrain): %s", path, strerror (errno));
    ocf_strbuf_free (&names);
}

static void
s_load_drained (ocf_agent_t *self, int64_t now)
{
    char path[4200], line[256];
    ocf_statedir_path (self->config->node.state_dir, OCF_STATE_DRAINED, path, sizeof path);
    FILE *file = fopen (path, "r");
    if (!file)
        return;
    while (fgets (line, sizeof line, file)) {
        line[strcspn (line, "\r\n")] = '\0';
        entry_t *entry = NULL;
        for (size_t i = 0; i < self->entry_count; i++)
            if (strcmp (self->entries[i]->config->name, line) == 0)
                entry = self->entries[i];
        if (!entry) {
            if (*line)
                ocf_log_warning ("%s names '%s', which is no service of this host now: ignored", path, line);
            continue;
        }
        ocf_log_notice ("%s: kept drained (listed in %s) until UNDRAIN", line, path);
        entry->kept_drained = true;
        ocf_service_drain (entry->machine, now);
    }
    fclose (file);
    s_save_drained (self);
}

//  The entry named, or every entry when name is NULL; -1 with error for an unknown name.
static int
s_select (ocf_agent_t *self, const char *name, size_t *first, size_t *last, char *error, size_t error_size)
{
    *first = 0;
    *last = self->entry_count;
    if (!name)
        return 0;
    entry_t *entry = s_current (self, name);
    for (size_t i = 0; entry && i < self->entry_count; i++)
        if (self->entries[i] == entry) {
            *first = i;
            *last = i + 1;
            return 0;
        }
    snprintf (error, error_size, "no service '%s' on this host", name);
    return -1;
}

//  s_select, for a drain or an undrain: none while workerd stops.
static int
s_select_running (ocf_agent_t *self, const char *name, size_t *first, size_t *last, char *error, size_t error_size)
{
    if (s_select (self, name, first, last, error, error_size) != 0)
        return -1;
    if (self->phase != PHASE_RUNNING) {
        snprintf (error, error_size, "workerd is stopping");
        return -1;
    }
    return 0;
}

int
ocf_agent_drain (ocf_agent_t *self, const char *name, bool stop, char *error, size_t error_size)
{
    size_t first, last;
    if (s_select_running (self, name, &first, &last, error, error_size) != 0)
        return -1;
    ocf_log_notice ("drain of %s requested%s", name ? name : "every service", stop ? "; the backends stop once drained" : "");
    int64_t now = ocf_time_mono_ms ();
    for (size_t i = first; i < last; i++) {
        entry_t *entry = self->entries[i];
        ocf_service_drain (entry->machine, now);
        entry->stop_when_drained |= stop;
        entry->kept_drained |= !stop;
    }
    s_save_drained (self);
    s_after_event (self);
    return 0;
}

int
ocf_agent_undrain (ocf_agent_t *self, const char *name, char *error, size_t error_size)
{
    size_t first, last;
    if (s_select_running (self, name, &first, &last, error, error_size) != 0)
        return -1;
    for (size_t i = first; i < last; i++)
        if (self->entries[i]->stopped_by_drain && ocf_service_running (self->entries[i]->machine)) {
            snprintf (error, error_size, "%s: its backend is stopping after its drain; undrain once it has stopped",
                      self->entries[i]->config->name);
            return -1;
        }
    ocf_log_notice ("undrain of %s requested", name ? name : "every service");
    int64_t now = ocf_time_mono_ms ();
    for (size_t i = first; i < last; i++) {
        self->entries[i]->stop_when_drained = self->entries[i]->stopped_by_drain = self->entries[i]->kept_drained = false;
        ocf_service_undrain (self->entries[i]->machine, now);
    }
    s_save_drained (self);
    s_after_event (self);
    return 0;
}

bool
ocf_agent_drained (ocf_agent_t *self, const char *name)
{
    size_t first, last;
    char error[128];
    if (s_select (self, name, &first, &last, error, sizeof error) != 0)
        return true;
    for (size_t i = first; i < last; i++) {
        entry_t *entry = self->entries[i];
        if (ocf_service_drain_state (entry->machine) != OCF_SERVICE_DRAIN_DRAINED || entry->stop_when_drained
        ||  (entry->stopped_by_drain && ocf_service_running (entry->machine)))
            return false;
    }
    //  Complete once tabled has the withdrawals too: a caller that goes on to stop the host
    //  (ocf-drain.service) must not stop tabled before it has them. Not when tabled is away.
    return !ocf_registrar_connected (self->registrar) || ocf_registrar_synced (self->registrar);
}

json_t *
ocf_agent_drain_view (ocf_agent_t *self, const char *name)
{
    static const char *drains[] = { "none", "draining", "drained" };
    size_t first, last;
    char error[128];
    json_t *services = json_object ();
    if (s_select (self, name, &first, &last, error, sizeof error) == 0)
        for (size_t i = first; i < last; i++) {
            entry_t *entry = self->entries[i];
            json_object_set_new (services, entry->config->name,
                                 json_pack ("{s:s, s:b}", "drain", drains[ocf_service_drain_state (entry->machine)],
                                            "running", ocf_service_running (entry->machine)));
        }
    return json_pack ("{s:o, s:b}", "services", services, "drained", ocf_agent_drained (self, name));
}

void
ocf_agent_set_drain_handler (ocf_agent_t *self, ocf_agent_fn *fn, void *arg)
{
    self->on_drain = fn;
    self->on_drain_arg = arg;
}

//  --------------------------------------------------------------------------
//  API views

json_t *
ocf_agent_hello (ocf_agent_t *self)
{
    json_t *names = json_array ();
    for (size_t i = 0; i < self->entry_count; i++)
        if (!self->entries[i]->dead && !self->entries[i]->successor)
            json_array_append_new (names, json_string (self->entries[i]->config->name));
    return json_pack ("{s:s, s:s, s:s, s:i, s:o, s:b, s:b}", "daemon", "ocf-workerd", "software", "ocf " OCF_VERSION,
                      "id", ocf_registrar_node_id (self->registrar), "pid", (int) getpid (), "services", names,
                      "stopping", self->phase != PHASE_RUNNING, "draining", s_any_drain (self));
}

//  Each GPU as STATS shows it for /metrics: its index as a string, so that proxyd's generic
//  rendering makes it a label beside name and uuid (ocf_workerd_gpu_utilization{index="0",...})
//  rather than a gauge of its own.
static json_t *
s_gpu_stats (json_t *gpus)
{
    json_t *list = json_array (), *gpu;
    size_t index;
    json_array_foreach (gpus, index, gpu) {
        json_t *copy = json_deep_copy (gpu);
        json_object_set_new (copy, "index", json_sprintf ("%" JSON_INTEGER_FORMAT, json_integer_value (json_object_get (gpu, "index"))));
        json_array_append_new (list, copy);
    }
    return list;
}

json_t *
ocf_agent_stats (ocf_agent_t *self)
{
    int64_t now = ocf_time_mono_ms ();
    json_t *services = json_object ();
    size_t healthy = 0;
    for (size_t i = 0; i < self->entry_count; i++) {
        entry_t *entry = self->entries[i];
        if (entry->dead || entry->successor)
            continue;            //  the old backend of a swap shows in the new one's "swap"
        json_t *stats = ocf_service_stats (entry->machine, now);
        json_object_set_new (stats, "pid", entry->process ? json_integer (ocf_process_pid (entry->process)) : json_null ());
        if (entry->swap) {
            json_t *swap = ocf_swap_stats (entry->swap, now);
            json_object_set_new (swap, "old", ocf_service_stats (entry->old->machine, now));
            json_object_set_new (stats, "swap", swap);
        }
        json_object_set_new (services, entry->config->name, stats);
        healthy += ocf_service_state (entry->machine) == OCF_SERVICE_HEALTHY;
    }
    json_t *gpus = ocf_gpu_probe_gpus (self->probe);
    json_t *counters = json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                                  "output_lines", (json_int_t) self->output_lines,
                                  "gpu_probes", (json_int_t) ocf_gpu_probe_runs (self->probe),
                                  "gpu_probe_failures", (json_int_t) ocf_gpu_probe_failures (self->probe),
                                  "model_fetches", (json_int_t) self->model_fetches,
                                  "model_fetch_failures", (json_int_t) self->model_failures,
                                  "metrics_scrapes", (json_int_t) self->metrics_scrapes,
                                  "metrics_failures", (json_int_t) self->metrics_failures);
    return json_pack ("{s:o, s:I, s:I, s:I, s:o, s:i, s:I, s:o, s:o, s:I, s:b}", "services", services,
                      "services_total", (json_int_t) json_object_size (services), "services_healthy", (json_int_t) healthy,
                      "gpus", (json_int_t) (gpus ? json_array_size (gpus) : 0), "gpu", s_gpu_stats (gpus), "cpus", self->cpus,
                      "memory_mb", (json_int_t) self->memory_mb, "tabled", ocf_registrar_stats (self->registrar),
                      "counters", counters, "uptime_s", (json_int_t) ((now - self->started_at) / 1000),
                      "stopping", self->phase != PHASE_RUNNING);
}

void
ocf_agent_status_line (ocf_agent_t *self, char *line, size_t size)
{
    size_t healthy = 0, drains[3] = { 0 };
    size_t services = 0;
    for (size_t i = 0; i < self->entry_count; i++) {
        if (self->entries[i]->dead || self->entries[i]->successor)
            continue;
        services++;
        healthy += ocf_service_state (self->entries[i]->machine) == OCF_SERVICE_HEALTHY;
        drains[ocf_service_drain_state (self->entries[i]->machine)]++;
    }
    //  An operator looking at `systemctl status` wants to see that the host is out of service.
    char drain[64] = "";
    if (drains[OCF_SERVICE_DRAIN_DRAINING] || drains[OCF_SERVICE_DRAIN_DRAINED])
        snprintf (drain, sizeof drain, " (%zu draining, %zu drained)", drains[OCF_SERVICE_DRAIN_DRAINING],
                  drains[OCF_SERVICE_DRAIN_DRAINED]);
    json_t *gpus = ocf_gpu_probe_gpus (self->probe);
    snprintf (line, size, "%zu/%zu services healthy%s, %zu GPU%s, tabled %s", healthy, services, drain,
              gpus ? json_array_size (gpus) : 0, gpus && json_array_size (gpus) == 1 ? "" : "s",
              ocf_registrar_connected (self->registrar) ? "connected" : "unreachable");
}

/*  ocf_workerd_config: the [workerd] and [service.NAME] sections.  */
#include "ocf_config.h"

#include <string.h>

#define KEY(field) offsetof (ocf_workerd_config_t, field)

static const ocf_config_key_t s_workerd_keys[] = {
    { "health_interval", OCF_CONFIG_DURATION, KEY (health_interval_ms), "2s", 50, 3600000, NULL, false,
      "Interval of backend health checks" },
    { "failure_threshold", OCF_CONFIG_INT, KEY (failure_threshold), "3", 1, 100, NULL, false,
      "Consecutive failed health checks before a service is withdrawn" },
    { "gpu_interval", OCF_CONFIG_DURATION, KEY (gpu_interval_ms), "10s", 100, 3600000, NULL, false,
      "Interval of GPU inventory refreshes" },
    { "nvidia_smi", OCF_CONFIG_STRING, KEY (nvidia_smi), "nvidia-smi", 0, 0, NULL, false,
      "nvidia-smi program (a host without it is a CPU host)" },
    { "metrics_interval", OCF_CONFIG_DURATION, KEY (metrics_interval_ms), "5s", 100, 3600000, NULL, false,
      "Interval of backend metrics scrapes" },
    { "launcher", OCF_CONFIG_ENUM, KEY (launcher), "process", 0, 0, "process|systemd", false,
      "How backends are started: process (detached children) or systemd (one unit ocf-backend@NAME each)" },
    { "drain_timeout", OCF_CONFIG_DURATION, KEY (drain_timeout_ms), "5min", 0, OCF_CONFIG_DAY_MS, NULL, false,
      "Longest wait for requests in flight (streams) when draining, before the services are withdrawn" },
};

const ocf_config_section_t ocf_workerd_config_section = {
    "workerd", offsetof (ocf_config_t, workerd), s_workerd_keys, sizeof s_workerd_keys / sizeof s_workerd_keys[0], NULL
};

#undef KEY
#define KEY(field) offsetof (ocf_service_config_t, field)

static const ocf_config_key_t s_service_keys[] = {
    { "command", OCF_CONFIG_STRING, KEY (command), NULL, 0, 0, NULL, true,
      "Backend to launch (argv, no shell; {port} becomes the port it is started on); absent: an externally managed backend" },
    { "env", OCF_CONFIG_STRING, KEY (env), "", 0, 0, NULL, true,
      "Environment for the backend: KEY=VALUE KEY=VALUE" },
    { "gpus", OCF_CONFIG_STRING, KEY (gpus), "", 0, 0, NULL, false,
      "GPU indexes for the backend (CUDA_VISIBLE_DEVICES)" },
    { "workdir", OCF_CONFIG_STRING, KEY (workdir), "", 0, 0, NULL, false,
      "Working directory of the backend" },
    { "host", OCF_CONFIG_STRING, KEY (host), "127.0.0.1", 0, 0, NULL, false,
      "Address the backend listens on" },
    { "port", OCF_CONFIG_INT, KEY (port), "0", 0, 65535, NULL, false,
      "Port the backend listens on (required)" },
    { "health_path", OCF_CONFIG_STRING, KEY (health_path), "/health", 0, 0, NULL, false,
      "Health check path: 2xx means healthy" },
    { "models_path", OCF_CONFIG_STRING, KEY (models_path), "", 0, 0, NULL, false,
      "OpenAI /v1/models path; each model becomes identity group model=<id>" },
    { "identity_group", OCF_CONFIG_STRING, KEY (identity_group), "", 0, 0, NULL, true,
      "Static identity groups, comma-separated (e.g. model=llama-3-8b)" },
    { "max_inflight", OCF_CONFIG_INT, KEY (max_inflight), "0", 0, 1000000, NULL, false,
      "Requests the backend takes at once (0: no limit)" },
    { "metrics_path", OCF_CONFIG_STRING, KEY (metrics_path), "", 0, 0, NULL, false,
      "Prometheus metrics path for queue depth and KV-cache use" },
    { "restart", OCF_CONFIG_ENUM, KEY (restart), "on-failure", 0, 0, "always|on-failure|no", false,
      "When a launched backend is restarted" },
    { "restart_max", OCF_CONFIG_INT, KEY (restart_max), "5", 0, 1000, NULL, false,
      "Restarts within a crash loop before giving up" },
    { "restart_delay", OCF_CONFIG_DURATION, KEY (restart_delay_ms), "1s", 0, 3600000, NULL, false,
      "First restart delay; doubles at each failure" },
    { "restart_delay_max", OCF_CONFIG_DURATION, KEY (restart_delay_max_ms), "60s", 0, OCF_CONFIG_DAY_MS, NULL, false,
      "Longest restart delay" },
    { "start_timeout", OCF_CONFIG_DURATION, KEY (start_timeout_ms), "15min", 100, OCF_CONFIG_DAY_MS, NULL, false,
      "Time a launched backend has to become healthy (model loading)" },
    { "stop_timeout", OCF_CONFIG_DURATION, KEY (stop_timeout_ms), "10s", 0, 3600000, NULL, false,
      "Grace period between SIGTERM and SIGKILL" },
    { "swap", OCF_CONFIG_ENUM, KEY (swap), "after_drain", 0, 0, "after_drain|beside", false,
      "How a reload replaces the backend when this section changed: after_drain (drain and stop the old one, then start "
      "the new one) or beside (start the new one on the other port, then drain and stop the old one)" },
    { "swap_port", OCF_CONFIG_INT, KEY (swap_port), "0", 0, 65535, NULL, false,
      "swap = beside: the other port; a backend alternates between port and swap_port at each change" },
};

#define SERVICE_KEY_COUNT (sizeof s_service_keys / sizeof s_service_keys[0])

bool
ocf_service_config_same (const ocf_service_config_t *a, const ocf_service_config_t *b)
{
    for (size_t i = 0; i < SERVICE_KEY_COUNT; i++) {
        const ocf_config_key_t *key = &s_service_keys[i];
        if (strcmp (key->key, "swap") == 0 || strcmp (key->key, "swap_port") == 0)
            continue;
        const char *left = (const char *) a + key->offset, *right = (const char *) b + key->offset;
        if (key->type == OCF_CONFIG_STRING || key->type == OCF_CONFIG_ENUM) {
            const char *x = *(char *const *) left, *y = *(char *const *) right;
            if ((x == NULL) != (y == NULL) || (x && strcmp (x, y) != 0))
                return false;
        }
        else
        if (*(const int64_t *) left != *(const int64_t *) right)
            return false;
    }
    return true;
}

//  swap = beside: a second port that nothing else uses, which the command is told.
static void
s_finish_swap (ocf_config_t *self, ocf_service_config_t *service, const char *where)
{
    if (strcmp (service->swap, "beside") != 0)
        return;
    if (!service->command)
        ocf_config_error (self, "%s swap: beside needs a command (workerd starts the new backend)", where);
    else
    if (!strstr (service->command, OCF_SERVICE_PORT_PLACEHOLDER))
        ocf_config_error (self, "%s swap: beside starts the new backend on another port: the command must say where "
                          "to listen with " OCF_SERVICE_PORT_PLACEHOLDER, where);
    if (service->swap_port == 0 || service->swap_port == service->port)
        ocf_config_error (self, "%s swap_port: swap = beside needs a port other than port for the new backend", where);
}


//  Every service needs a port, and no two the same address; commands must split into argv.
static void
s_finish_services (ocf_config_t *self, const char *file)
{
    for (size_t i = 0; i < self->service_count; i++) {
        ocf_service_config_t *service = &self->services[i];
        char where[128];
        snprintf (where, sizeof where, "%s:%d: [service.%s]", file, service->line, service->name);
        if (service->port == 0)
            ocf_config_error (self, "%s port: missing (the port the backend listens on)", where);
        //  The names a model change gives its backends (the old one's service, its unit).
        size_t len = strlen (service->name);
        if ((len > 4 && strcmp (service->name + len - 4, ".old") == 0) || (len > 5 && strcmp (service->name + len - 5, ".swap") == 0))
            ocf_config_error (self, "%s: a service name may not end in .old or .swap (workerd names a swapped service's "
                              "old backend NAME.old and its unit NAME.swap)", where);
        if (service->command) {
            char problem[128];
            char **argv = ocf_config_split_argv (service->command, problem, sizeof problem);
            if (!argv)
                ocf_config_error (self, "%s command: %s", where, problem);
            ocf_config_argv_free (&argv);
        }
        char what[160];
        snprintf (what, sizeof what, "%s env", where);
        ocf_config_check_pairs (self, what, service->env, " \t");
        snprintf (what, sizeof what, "%s identity_group", where);
        ocf_config_check_pairs (self, what, service->identity_group, ",");
        if (*service->health_path != '/')
            ocf_config_error (self, "%s health_path: '%s' must start with /", where, service->health_path);
        if (*service->models_path && *service->models_path != '/')
            ocf_config_error (self, "%s models_path: '%s' must start with /", where, service->models_path);
        if (*service->metrics_path && *service->metrics_path != '/')
            ocf_config_error (self, "%s metrics_path: '%s' must start with /", where, service->metrics_path);
        if (service->restart_delay_max_ms < service->restart_delay_ms)
            ocf_config_error (self, "%s restart_delay_max: shorter than restart_delay", where);
        s_finish_swap (self, service, where);
        //  Two services on one address would check (and register) the same backend twice.
        for (size_t j = 0; j < i; j++) {
            const ocf_service_config_t *other = &self->services[j];
            if (strcmp (service->host, other->host) != 0)
                continue;
            int64_t mine[] = { service->port, service->swap_port }, theirs[] = { other->port, other->swap_port };
            static const char *keys[] = { "port", "swap_port" };
            for (int m = 0; m < 2; m++)
                for (int t = 0; t < 2; t++)
                    if (mine[m] && mine[m] == theirs[t])
                        ocf_config_error (self, "%s %s: %lld is also the %s of [service.%s]", where, keys[m],
                                          (long long) mine[m], keys[t], other->name);
        }
    }
}

const ocf_config_section_t ocf_service_config_section = {
    "service", 0, s_service_keys, sizeof s_service_keys / sizeof s_service_keys[0], s_finish_services
};

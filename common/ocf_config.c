/*  ocf_config: schema-driven INI configuration.  */
#include "ocf_config.h"
#include "ocf_identity.h"

#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <ini.h>
#include <math.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { T_STRING, T_INT, T_DURATION, T_SIZE, T_DOUBLE, T_ENUM, T_HOSTPORT } key_type_t;

typedef struct {
    const char *section;         //  "service" stands for every [service.NAME]
    const char *key;
    key_type_t type;
    size_t offset;               //  into ocf_config_t, or into ocf_service_config_t
    const char *fallback;        //  default, parsed like a value from the file; NULL = unset
    double min, max;             //  for numbers
    const char *choices;         //  for enums: "a|b|c"
    bool continues;              //  indented continuation lines append to the value
    const char *help;
} key_spec_t;

#define CFG(sect, field) offsetof (ocf_config_t, sect.field)
#define SVC(field) offsetof (ocf_service_config_t, field)
#define DAY (86400.0 * 1000)

static const key_spec_t s_keys[] = {
    { "node", "name", T_STRING, CFG (node, name), "", 0, 0, NULL, false,
      "Name shown to people (default: the host name)" },
    { "node", "state_dir", T_STRING, CFG (node, state_dir), "/var/lib/ocf", 0, 0, NULL, false,
      "Directory for table.db and node.key" },
    { "node", "run_dir", T_STRING, CFG (node, run_dir), "/run/ocf", 0, 0, NULL, false,
      "Directory for the local ipc sockets and their lock files" },
    { "node", "public_addr", T_STRING, CFG (node, public_addr), "", 0, 0, NULL, false,
      "Address other hosts use to reach this one (default: first non-loopback IPv4, else 127.0.0.1)" },
    { "node", "labels", T_STRING, CFG (node, labels), "", 0, 0, NULL, true,
      "Labels copied into this node's record: key=value,key=value" },
    { "node", "log_level", T_ENUM, CFG (node, log_level), "info", 0, 0, "err|warning|notice|info|debug", false,
      "Lines above this level are not logged" },

    { "tabled", "tombstone_retention", T_DURATION, CFG (tabled, tombstone_retention_ms), "24h", 1000, 365 * DAY, NULL, false,
      "How long tombstones are kept before compaction" },
    { "tabled", "reap_after", T_DURATION, CFG (tabled, reap_after_ms), "1h", 1000, 365 * DAY, NULL, false,
      "A node dead this long is tombstoned" },
    { "tabled", "checkpoint_interval", T_DURATION, CFG (tabled, checkpoint_interval_ms), "60s", 100, DAY, NULL, false,
      "How often the SQLite WAL is checkpointed (TRUNCATE)" },
    { "tabled", "max_message", T_SIZE, CFG (tabled, max_message), "4MiB", 1024, 256.0 * 1024 * 1024, NULL, false,
      "Largest request tabled accepts" },
    { "tabled", "max_record", T_SIZE, CFG (tabled, max_record), "64KiB", 512, 16.0 * 1024 * 1024, NULL, false,
      "Largest node record tabled accepts" },
    { "tabled", "batch_max", T_INT, CFG (tabled, batch_max), "512", 1, 100000, NULL, false,
      "Requests applied in one SQLite transaction under load" },

    { "gossipd", "bind", T_HOSTPORT, CFG (gossipd, bind), "0.0.0.0:7946", 0, 0, NULL, false,
      "TCP address for gossip (CURVE-encrypted)" },
    { "gossipd", "seeds", T_STRING, CFG (gossipd, seeds), "", 0, 0, NULL, true,
      "Comma-separated host:port or pubkey@host:port to join; empty starts a new cluster" },
    { "gossipd", "heartbeat_interval", T_DURATION, CFG (gossipd, heartbeat_interval_ms), "1s", 10, 60000, NULL, false,
      "Interval of heartbeats to each observer" },
    { "gossipd", "observers", T_INT, CFG (gossipd, observers), "3", 1, 16, NULL, false,
      "Observers that watch each node's heartbeats" },
    { "gossipd", "phi_threshold", T_DOUBLE, CFG (gossipd, phi_threshold), "8", 1, 32, NULL, false,
      "Phi accrual threshold for suspecting a node" },
    { "gossipd", "gossip_interval", T_DURATION, CFG (gossipd, gossip_interval_ms), "200ms", 10, 60000, NULL, false,
      "Interval of the IHAVE rounds that repair what the dissemination tree missed" },
    { "gossipd", "fanout", T_INT, CFG (gossipd, fanout), "8", 1, 16, NULL, false,
      "Branching of the dissemination tree, and peers each IHAVE round goes to" },
    { "gossipd", "anti_entropy_interval", T_DURATION, CFG (gossipd, anti_entropy_interval_ms), "30s", 50, 3600000, NULL, false,
      "Interval of anti-entropy probes (8 bytes of table root) to a random peer; heartbeats carry the root to observers" },
    { "gossipd", "max_snapshots", T_INT, CFG (gossipd, max_snapshots), "4", 1, 64, NULL, false,
      "Snapshots served at once to joining nodes" },
    { "gossipd", "max_frame", T_SIZE, CFG (gossipd, max_frame), "1MiB", 4096, 64.0 * 1024 * 1024, NULL, false,
      "Largest gossip frame accepted from a peer" },
    { "gossipd", "introducer", T_STRING, CFG (gossipd, introducer), "", 0, 0, NULL, false,
      "host:port answering key requests for plain host:port seeds (default: the bind port + 1; off: none)" },
    { "gossipd", "authorized_keys", T_STRING, CFG (gossipd, authorized_keys), "", 0, 0, NULL, true,
      "Node ids (public keys) allowed in the cluster, comma-separated; empty with no file: any key" },
    { "gossipd", "authorized_keys_file", T_STRING, CFG (gossipd, authorized_keys_file), "", 0, 0, NULL, false,
      "File of allowed node ids, one per line (# comments), added to authorized_keys" },
    { "gossipd", "probe_timeout", T_DURATION, CFG (gossipd, probe_timeout_ms), "500ms", 10, 60000, NULL, false,
      "Time a direct and indirect probe of a silent node has to be answered" },
    { "gossipd", "suspicion_min", T_DURATION, CFG (gossipd, suspicion_min_ms), "1s", 10, 3600000, NULL, false,
      "Suspicion timeout once other observers confirmed it" },
    { "gossipd", "suspicion_max", T_DURATION, CFG (gossipd, suspicion_max_ms), "3s", 10, 3600000, NULL, false,
      "Suspicion timeout without any confirmation" },
    { "gossipd", "phi_min_std", T_DURATION, CFG (gossipd, phi_min_std_ms), "100ms", 1, 60000, NULL, false,
      "Smallest heartbeat deviation phi accrual assumes" },
    { "gossipd", "acceptable_pause", T_DURATION, CFG (gossipd, acceptable_pause_ms), "500ms", 0, 600000, NULL, false,
      "Heartbeat delay phi accrual tolerates before it grows" },
    { "gossipd", "retransmit_mult", T_INT, CFG (gossipd, retransmit_mult), "2", 1, 16, NULL, false,
      "IHAVE sends per rumour: retransmit_mult * ceil(log10(N + 1))" },
    { "gossipd", "flood_limit", T_INT, CFG (gossipd, flood_limit), "5000", 10, 10000000, NULL, false,
      "Messages per second a peer may send before it is cut off for a minute" },

    { "proxyd", "listen", T_HOSTPORT, CFG (proxyd, listen), "0.0.0.0:8092", 0, 0, NULL, false,
      "HTTP address of the API (under systemd, ocf-proxyd.socket's ListenStream= must be the same)" },
    { "proxyd", "fabric_listen", T_STRING, CFG (proxyd, fabric_listen), "0.0.0.0:8093", 0, 0, NULL, false,
      "Address where other hosts' proxyds reach this one, mutual TLS only (under systemd, ocf-proxyd-fabric.socket's); off: none, and /v1/_service stays on listen" },
    { "proxyd", "fabric_handshake_timeout", T_DURATION, CFG (proxyd, fabric_handshake_timeout_ms), "10s", 100, 600000, NULL,
      false, "A connection to fabric_listen whose TLS handshake is not done by then is closed" },
    { "proxyd", "policy", T_ENUM, CFG (proxyd, policy), "p2c", 0, 0, "p2c|round_robin|random|local_first", false,
      "How a provider is chosen among live ones" },
    { "proxyd", "max_body", T_SIZE, CFG (proxyd, max_body), "16MiB", 1024, 4.0 * 1024 * 1024 * 1024, NULL, false,
      "Largest request body accepted (413 above)" },
    { "proxyd", "connect_timeout", T_DURATION, CFG (proxyd, connect_timeout_ms), "3s", 10, 600000, NULL, false,
      "Connecting to an upstream" },
    { "proxyd", "first_byte_timeout", T_DURATION, CFG (proxyd, first_byte_timeout_ms), "300s", 100, DAY, NULL, false,
      "Waiting for an upstream's first response byte (a slow first token)" },
    { "proxyd", "io_timeout", T_DURATION, CFG (proxyd, io_timeout_ms), "300s", 100, DAY, NULL, false,
      "Longest silence inside a response stream" },
    { "proxyd", "retries", T_INT, CFG (proxyd, retries), "2", 0, 16, NULL, false,
      "Other providers tried when connecting fails or the upstream answers 502/503 first" },
    { "proxyd", "load_report_interval", T_DURATION, CFG (proxyd, load_report_interval_ms), "1s", 50, 3600000, NULL, false,
      "Most frequent in-flight report to tabled" },
    { "proxyd", "workers", T_INT, CFG (proxyd, workers), "1", 1, 64, NULL, false,
      "Event-loop threads, each with its own listener (SO_REUSEPORT; under systemd, all accept from its socket), routing view and pools" },
    { "proxyd", "keepalive_timeout", T_DURATION, CFG (proxyd, keepalive_timeout_ms), "4s", 100, 3600000, NULL, false,
      "Idle upstream connections are closed after this (keep it below the backends' own idle timeout)" },
    { "proxyd", "stop_timeout", T_DURATION, CFG (proxyd, stop_timeout_ms), "15s", 0, 3600000, NULL, false,
      "On SIGTERM, longest wait for requests in flight (streams) to finish" },
    { "proxyd", "admin_key_file", T_STRING, CFG (proxyd, admin_key_file), "", 0, 0, NULL, false,
      "File holding the admin key (its first line): with Authorization: Bearer <key>, clients that are not local may call the admin routes (POST/DELETE /v1/dnt/_node); empty: local clients only" },
    { "proxyd", "api_keys_file", T_STRING, CFG (proxyd, api_keys_file), "", 0, 0, NULL, false,
      "Client API keys, hashed, one per line: name sha256:<hex> [rpm=N] [streams=N] (format: configuration.md); empty: no key needed; reloaded on SIGHUP" },
    { "proxyd", "allowed_origins", T_STRING, CFG (proxyd, allowed_origins), "", 0, 0, NULL, true,
      "Browser origins allowed by CORS, comma-separated and exact (https://app.example.com), or *; empty: none" },

    { "workerd", "health_interval", T_DURATION, CFG (workerd, health_interval_ms), "2s", 50, 3600000, NULL, false,
      "Interval of backend health checks" },
    { "workerd", "failure_threshold", T_INT, CFG (workerd, failure_threshold), "3", 1, 100, NULL, false,
      "Consecutive failed health checks before a service is withdrawn" },
    { "workerd", "gpu_interval", T_DURATION, CFG (workerd, gpu_interval_ms), "10s", 100, 3600000, NULL, false,
      "Interval of GPU inventory refreshes" },
    { "workerd", "nvidia_smi", T_STRING, CFG (workerd, nvidia_smi), "nvidia-smi", 0, 0, NULL, false,
      "nvidia-smi program (a host without it is a CPU host)" },
    { "workerd", "metrics_interval", T_DURATION, CFG (workerd, metrics_interval_ms), "5s", 100, 3600000, NULL, false,
      "Interval of backend metrics scrapes" },

    { "service", "command", T_STRING, SVC (command), NULL, 0, 0, NULL, true,
      "Backend to launch (argv, no shell); absent: an externally managed backend" },
    { "service", "env", T_STRING, SVC (env), "", 0, 0, NULL, true,
      "Environment for the backend: KEY=VALUE KEY=VALUE" },
    { "service", "gpus", T_STRING, SVC (gpus), "", 0, 0, NULL, false,
      "GPU indexes for the backend (CUDA_VISIBLE_DEVICES)" },
    { "service", "workdir", T_STRING, SVC (workdir), "", 0, 0, NULL, false,
      "Working directory of the backend" },
    { "service", "host", T_STRING, SVC (host), "127.0.0.1", 0, 0, NULL, false,
      "Address the backend listens on" },
    { "service", "port", T_INT, SVC (port), "0", 0, 65535, NULL, false,
      "Port the backend listens on (required)" },
    { "service", "health_path", T_STRING, SVC (health_path), "/health", 0, 0, NULL, false,
      "Health check path: 2xx means healthy" },
    { "service", "models_path", T_STRING, SVC (models_path), "", 0, 0, NULL, false,
      "OpenAI /v1/models path; each model becomes identity group model=<id>" },
    { "service", "identity_group", T_STRING, SVC (identity_group), "", 0, 0, NULL, true,
      "Static identity groups, comma-separated (e.g. model=llama-3-8b)" },
    { "service", "max_inflight", T_INT, SVC (max_inflight), "0", 0, 1000000, NULL, false,
      "Requests the backend takes at once (0: no limit)" },
    { "service", "metrics_path", T_STRING, SVC (metrics_path), "", 0, 0, NULL, false,
      "Prometheus metrics path for queue depth and KV-cache use" },
    { "service", "restart", T_ENUM, SVC (restart), "on-failure", 0, 0, "always|on-failure|no", false,
      "When a launched backend is restarted" },
    { "service", "restart_max", T_INT, SVC (restart_max), "5", 0, 1000, NULL, false,
      "Restarts within a crash loop before giving up" },
    { "service", "restart_delay", T_DURATION, SVC (restart_delay_ms), "1s", 0, 3600000, NULL, false,
      "First restart delay; doubles at each failure" },
    { "service", "restart_delay_max", T_DURATION, SVC (restart_delay_max_ms), "60s", 0, DAY, NULL, false,
      "Longest restart delay" },
    { "service", "start_timeout", T_DURATION, SVC (start_timeout_ms), "15min", 100, DAY, NULL, false,
      "Time a launched backend has to become healthy (model loading)" },
    { "service", "stop_timeout", T_DURATION, SVC (stop_timeout_ms), "10s", 0, 3600000, NULL, false,
      "Grace period between SIGTERM and SIGKILL" },
};
#define KEY_COUNT (sizeof s_keys / sizeof s_keys[0])
#define MAX_ERRORS 64

//  --------------------------------------------------------------------------
//  Value parsing

typedef struct {
    const char *unit;
    double factor;
} unit_t;

//  A non-negative number followed by one of the units (the empty unit included when listed).
static int
s_parse_scaled (const char *text, const unit_t *units, size_t count, int64_t *out)
{
    char *end;
    errno = 0;
    double value = strtod (text, &end);
    if (end == text || errno || !isfinite (value) || value < 0)
        return -1;
    for (size_t i = 0; i < count; i++)
        if (strcmp (end, units[i].unit) == 0) {
            double result = value * units[i].factor;
            if (result > 9e15)
                return -1;
            *out = (int64_t) result;
            return 0;
        }
    return -1;
}

int
ocf_config_parse_duration (const char *text, int64_t *ms)
{
    static const unit_t units[] = {
        { "ms", 1 }, { "s", 1000 }, { "sec", 1000 }, { "m", 60000 }, { "min", 60000 },
        { "h", 3600000 }, { "d", 86400000 }, { "", 1000 }
    };
    return s_parse_scaled (text, units, sizeof units / sizeof units[0], ms);
}

int
ocf_config_parse_size (const char *text, int64_t *bytes)
{
    static const unit_t units[] = {
        { "", 1 }, { "B", 1 }, { "K", 1024 }, { "KiB", 1024 }, { "KB", 1000 },
        { "M", 1048576 }, { "MiB", 1048576 }, { "MB", 1e6 },
        { "G", 1073741824 }, { "GiB", 1073741824 }, { "GB", 1e9 }
    };
    return s_parse_scaled (text, units, sizeof units / sizeof units[0], bytes);
}

int
ocf_config_parse_hostport (const char *text, char *host_out, size_t host_size, int *port)
{
    const char *colon;
    const char *host = text;
    size_t host_len;
    if (text[0] == '[') {
        const char *close = strchr (text, ']');
        if (!close || close[1] != ':')
            return -1;
        host = text + 1;
        host_len = close - host;
        colon = close + 1;
    }
    else {
        colon = strrchr (text, ':');
        if (!colon || memchr (text, ':', colon - text))
            return -1;
        host_len = colon - text;
    }
    if (host_len == 0 || host_len >= host_size)
        return -1;
    char *end;
    errno = 0;
    long value = strtol (colon + 1, &end, 10);
    if (end == colon + 1 || *end || errno || value < 1 || value > 65535)
        return -1;
    memcpy (host_out, host, host_len);
    host_out[host_len] = '\0';
    *port = (int) value;
    return 0;
}

int
ocf_config_parse_seed (const char *text, char *key, char *host_out, size_t host_size, int *port)
{
    //  A node id is exactly OCF_NODE_ID_LEN characters; a host never has an '@'.
    bool keyed = strlen (text) > OCF_NODE_ID_LEN && text[OCF_NODE_ID_LEN] == '@';
    const char *address = keyed ? text + OCF_NODE_ID_LEN + 1 : text;
    key[0] = '\0';
    if (keyed)
        snprintf (key, OCF_NODE_ID_LEN + 1, "%.*s", OCF_NODE_ID_LEN, text);
    if ((keyed && !ocf_identity_id_valid (key)) || strchr (address, '@'))
        return -1;
    return ocf_config_parse_hostport (address, host_out, host_size, port);
}

char **
ocf_config_split_argv (const char *command, char *error, size_t error_size)
{
    size_t capacity = 8, count = 0;
    char **argv = calloc (capacity, sizeof *argv);
    char *word = malloc (strlen (command) + 1);
    const char *cursor = command;
    while (true) {
        while (isspace ((unsigned char) *cursor))
            cursor++;
        if (!*cursor)
            break;
        size_t len = 0;
        char quote = 0;
        for (; *cursor && (quote || !isspace ((unsigned char) *cursor)); cursor++) {
            if (quote && *cursor == quote)
                quote = 0;
            else
            if (!quote && (*cursor == '\'' || *cursor == '"'))
                quote = *cursor;
            else
            if (*cursor == '\\' && quote != '\'' && cursor[1])
                word[len++] = *++cursor;
            else
                word[len++] = *cursor;
        }
        if (quote) {
            snprintf (error, error_size, "unterminated %c quote", quote);
            free (word);
            ocf_config_argv_free (&argv);
            return NULL;
        }
        if (count + 2 > capacity)
            argv = realloc (argv, (capacity *= 2) * sizeof *argv);
        argv[count++] = strndup (word, len);
        argv[count] = NULL;
    }
    free (word);
    if (count == 0) {
        snprintf (error, error_size, "empty command");
        ocf_config_argv_free (&argv);
        return NULL;
    }
    return argv;
}

void
ocf_config_argv_free (char ***argv_p)
{
    char **argv = *argv_p;
    if (!argv)
        return;
    for (char **arg = argv; *arg; arg++)
        free (*arg);
    free (argv);
    *argv_p = NULL;
}

//  --------------------------------------------------------------------------
//  Errors

static void __attribute__ ((format (printf, 2, 3)))
s_error (ocf_config_t *self, const char *format, ...)
{
    size_t used = self->errors ? strlen (self->errors) : 0;
    size_t lines = 0;
    for (size_t i = 0; i < used; i++)
        lines += self->errors[i] == '\n';
    if (lines >= MAX_ERRORS)
        return;
    char message[1024];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    self->errors = realloc (self->errors, used + strlen (message) + 2);
    sprintf (self->errors + used, "%s\n", message);
}

static int
s_error_count (ocf_config_t *self)
{
    int count = 0;
    for (const char *c = self->errors; c && *c; c++)
        count += *c == '\n';
    return count;
}

const char *
ocf_config_errors (ocf_config_t *self)
{
    return self->errors ? self->errors : "";
}

//  --------------------------------------------------------------------------
//  Applying values

static const key_spec_t *
s_key_find (const char *section, const char *key)
{
    for (size_t i = 0; i < KEY_COUNT; i++)
        if (strcmp (s_keys[i].section, section) == 0 && strcmp (s_keys[i].key, key) == 0)
            return &s_keys[i];
    return NULL;
}

static bool
s_enum_allows (const char *choices, const char *value)
{
    size_t len = strlen (value);
    for (const char *c = choices; *c; ) {
        const char *bar = strchr (c, '|');
        size_t choice_len = bar ? (size_t) (bar - c) : strlen (c);
        if (choice_len == len && strncmp (c, value, len) == 0)
            return true;
        if (!bar)
            break;
        c = bar + 1;
    }
    return false;
}

//  Parses text into the field at base+offset; on failure writes why into problem.
static int
s_apply (const key_spec_t *spec, void *base, const char *text, char *problem, size_t problem_size)
{
    void *field = (char *) base + spec->offset;
    int64_t number = 0;
    double real = 0;
    switch (spec->type) {
        case T_STRING:
            free (*(char **) field);
            *(char **) field = text ? strdup (text) : NULL;
            return 0;
        case T_ENUM:
            if (!s_enum_allows (spec->choices, text)) {
                snprintf (problem, problem_size, "'%s' is not one of %s", text, spec->choices);
                return -1;
            }
            free (*(char **) field);
            *(char **) field = strdup (text);
            return 0;
        case T_HOSTPORT: {
            char host[256];
            int port;
            if (ocf_config_parse_hostport (text, host, sizeof host, &port) != 0) {
                snprintf (problem, problem_size, "'%s' is not host:port", text);
                return -1;
            }
            free (*(char **) field);
            *(char **) field = strdup (text);
            return 0;
        }
        case T_INT: {
            char *end;
            errno = 0;
            long long value = strtoll (text, &end, 10);
            if (end == text || *end || errno) {
                snprintf (problem, problem_size, "'%s' is not an integer", text);
                return -1;
            }
            number = value;
            real = (double) value;
            break;
        }
        case T_DURATION:
            if (ocf_config_parse_duration (text, &number) != 0) {
                snprintf (problem, problem_size, "'%s' is not a duration (e.g. 500ms, 30s, 5min, 1h, 1d)", text);
                return -1;
            }
            real = (double) number;
            break;
        case T_SIZE:
            if (ocf_config_parse_size (text, &number) != 0) {
                snprintf (problem, problem_size, "'%s' is not a size (e.g. 4096, 64KiB, 16MiB)", text);
                return -1;
            }
            real = (double) number;
            break;
        case T_DOUBLE: {
            char *end;
            errno = 0;
            real = strtod (text, &end);
            if (end == text || *end || errno || !isfinite (real)) {
                snprintf (problem, problem_size, "'%s' is not a number", text);
                return -1;
            }
            break;
        }
    }
    if (real < spec->min || real > spec->max) {
        snprintf (problem, problem_size, "'%s' is out of range (%g to %g%s)", text,
                  spec->type == T_DURATION ? spec->min / 1000 : spec->min,
                  spec->type == T_DURATION ? spec->max / 1000 : spec->max,
                  spec->type == T_DURATION ? " seconds" : spec->type == T_SIZE ? " bytes" : "");
        return -1;
    }
    if (spec->type == T_DOUBLE)
        *(double *) field = real;
    else
        *(int64_t *) field = number;
    return 0;
}

static void
s_apply_defaults (const char *section, void *base)
{
    char problem[256];
    for (size_t i = 0; i < KEY_COUNT; i++)
        if (strcmp (s_keys[i].section, section) == 0 && s_keys[i].fallback)
            s_apply (&s_keys[i], base, s_keys[i].fallback, problem, sizeof problem);
}

static bool
s_service_name_valid (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > OCF_SERVICE_NAME_MAX)
        return false;
    for (const char *c = name; *c; c++)
        if (!isalnum ((unsigned char) *c) && *c != '-' && *c != '_' && *c != '.')
            return false;
    return true;
}

static ocf_service_config_t *
s_service_add (ocf_config_t *self, const char *name, int line)
{
    self->services = realloc (self->services, (self->service_count + 1) * sizeof *self->services);
    ocf_service_config_t *service = &self->services[self->service_count++];
    memset (service, 0, sizeof *service);
    snprintf (service->name, sizeof service->name, "%s", name);
    service->line = line;
    s_apply_defaults ("service", service);
    return service;
}

ocf_service_config_t *
ocf_config_service (ocf_config_t *self, const char *name)
{
    for (size_t i = 0; i < self->service_count; i++)
        if (strcmp (self->services[i].name, name) == 0)
            return &self->services[i];
    return NULL;
}

//  Resolves a section name to the schema section and the struct its keys live in. A new
//  [service.NAME] is created on first sight. Returns NULL (with problem set) when unknown.
static void *
s_section_base (ocf_config_t *self, const char *section, const char **schema_section, int line,
                char *problem, size_t problem_size)
{
    static const char *plain[] = { "node", "tabled", "gossipd", "proxyd", "workerd" };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (strcmp (section, plain[i]) == 0) {
            *schema_section = plain[i];
            return self;
        }
    if (strncmp (section, "service.", 8) == 0) {
        const char *name = section + 8;
        if (!s_service_name_valid (name)) {
            snprintf (problem, problem_size,
                      "service name '%s' must be 1-%d letters, digits, '-', '_' or '.'", name, OCF_SERVICE_NAME_MAX);
            return NULL;
        }
        *schema_section = "service";
        ocf_service_config_t *service = ocf_config_service (self, name);
        return service ? service : s_service_add (self, name, line);
    }
    snprintf (problem, problem_size, "unknown section [%s] (known: node, tabled, gossipd, proxyd, workerd, service.NAME)", section);
    return NULL;
}

//  --------------------------------------------------------------------------
//  Reading INI files. libinih (Debian's build) reads lines of at most 199 bytes and gives no
//  line numbers to the handler, so we feed it through our own reader that counts lines,
//  rejects overlong ones and tells continuation lines apart.

typedef struct {
    ocf_config_t *config;
    const char *name;            //  file name for messages
    FILE *file;                  //  or:
    const char *text;            //  in-memory text
    int line;
    bool continuation;           //  the current line is indented
    char last_section[128];
    char last_key[64];
    int last_line;
    //  keys seen per section, to report duplicates with the first line
    struct { char section[128]; char key[64]; int line; } seen[256];
    int seen_count;
} reader_t;

static char *
s_read_line (char *buffer, int size, void *stream)
{
    reader_t *reader = stream;
    char *got = NULL;
    if (reader->file)
        got = fgets (buffer, size, reader->file);
    else
    if (reader->text && *reader->text) {
        const char *newline = strchr (reader->text, '\n');
        size_t len = newline ? (size_t) (newline - reader->text) + 1 : strlen (reader->text);
        size_t take = len < (size_t) size - 1 ? len : (size_t) size - 1;
        memcpy (buffer, reader->text, take);
        buffer[take] = '\0';
        reader->text += take;
        got = buffer;
    }
    if (!got)
        return NULL;
    reader->line++;
    reader->continuation = buffer[0] == ' ' || buffer[0] == '\t';
    size_t len = strlen (buffer);
    bool at_end = reader->file ? feof (reader->file) : !*reader->text;
    if (len == (size_t) size - 1 && buffer[len - 1] != '\n' && !at_end) {
        s_error (reader->config, "%s:%d: line is longer than %d characters; continue a long value on indented lines",
                 reader->name, reader->line, size - 2);
        //  Skip the rest of the line and hand inih an empty one.
        int c;
        if (reader->file)
            while ((c = fgetc (reader->file)) != EOF && c != '\n');
        else {
            while (*reader->text && *reader->text != '\n')
                reader->text++;
            if (*reader->text)
                reader->text++;
        }
        strcpy (buffer, "\n");
    }
    return buffer;
}

static int
s_handle_key (void *user, const char *section, const char *key, const char *value)
{
    reader_t *reader = user;
    ocf_config_t *self = reader->config;
    char problem[512];
    const char *schema_section;
    void *base = s_section_base (self, section, &schema_section, reader->line, problem, sizeof problem);
    if (!base) {
        //  Report an unknown section once, not for each of its keys.
        if (strcmp (reader->last_section, section) != 0)
            s_error (self, "%s:%d: %s", reader->name, reader->line, problem);
        snprintf (reader->last_section, sizeof reader->last_section, "%s", section);
        return 1;
    }
    const key_spec_t *spec = s_key_find (schema_section, key);
    if (!spec) {
        s_error (self, "%s:%d: [%s] %s: unknown key", reader->name, reader->line, section, key);
        return 1;
    }
    bool continued = reader->continuation && strcmp (reader->last_key, key) == 0
                  && strcmp (reader->last_section, section) == 0;
    if (continued) {
        if (!spec->continues) {
            s_error (self, "%s:%d: [%s] %s: this key takes one line", reader->name, reader->line, section, key);
            return 1;
        }
        char **field = (char **) ((char *) base + spec->offset);
        size_t len = strlen (*field);
        *field = realloc (*field, len + strlen (value) + 2);
        sprintf (*field + len, "%s%s", len ? " " : "", value);
        return 1;
    }
    for (int i = 0; i < reader->seen_count; i++)
        if (strcmp (reader->seen[i].section, section) == 0 && strcmp (reader->seen[i].key, key) == 0) {
            s_error (self, "%s:%d: [%s] %s: given twice (first on line %d)", reader->name, reader->line,
                     section, key, reader->seen[i].line);
            return 1;
        }
    if (reader->seen_count < (int) (sizeof reader->seen / sizeof reader->seen[0])) {
        snprintf (reader->seen[reader->seen_count].section, sizeof reader->seen[0].section, "%s", section);
        snprintf (reader->seen[reader->seen_count].key, sizeof reader->seen[0].key, "%s", key);
        reader->seen[reader->seen_count++].line = reader->line;
    }
    snprintf (reader->last_section, sizeof reader->last_section, "%s", section);
    snprintf (reader->last_key, sizeof reader->last_key, "%s", key);
    if (s_apply (spec, base, value, problem, sizeof problem) != 0)
        s_error (self, "%s:%d: [%s] %s: %s", reader->name, reader->line, section, key, problem);
    return 1;
}

static int
s_parse (ocf_config_t *self, reader_t *reader)
{
    int before = s_error_count (self);
    reader->config = self;
    int result = ini_parse_stream (s_read_line, reader, s_handle_key, reader);
    if (result > 0 && s_error_count (self) == before)
        s_error (self, "%s:%d: not a section header or key = value line", reader->name, result);
    return s_error_count (self) - before;
}

int
ocf_config_load (ocf_config_t *self, const char *path, bool required)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        if (!required && errno == ENOENT)
            return 0;
        s_error (self, "%s: cannot read: %s", path, strerror (errno));
        return 1;
    }
    free (self->path);
    self->path = strdup (path);
    reader_t *reader = calloc (1, sizeof *reader);
    reader->name = path;
    reader->file = file;
    int errors = s_parse (self, reader);
    free (reader);
    fclose (file);
    return errors;
}

int
ocf_config_load_string (ocf_config_t *self, const char *text, const char *name)
{
    reader_t *reader = calloc (1, sizeof *reader);
    reader->name = name;
    reader->text = text;
    int errors = s_parse (self, reader);
    free (reader);
    return errors;
}

int
ocf_config_set (ocf_config_t *self, const char *assignment)
{
    const char *equals = strchr (assignment, '=');
    const char *dot = equals ? memrchr (assignment, '.', equals - assignment) : NULL;
    if (!equals || !dot || dot == assignment || dot + 1 == equals) {
        s_error (self, "--set %s: expected section.key=value", assignment);
        return 1;
    }
    char section[128], key[64], problem[512];
    if ((size_t) (dot - assignment) >= sizeof section || (size_t) (equals - dot - 1) >= sizeof key) {
        s_error (self, "--set %s: section or key too long", assignment);
        return 1;
    }
    memcpy (section, assignment, dot - assignment);
    section[dot - assignment] = '\0';
    memcpy (key, dot + 1, equals - dot - 1);
    key[equals - dot - 1] = '\0';
    const char *schema_section;
    void *base = s_section_base (self, section, &schema_section, 0, problem, sizeof problem);
    if (!base) {
        s_error (self, "--set %s: %s", assignment, problem);
        return 1;
    }
    const key_spec_t *spec = s_key_find (schema_section, key);
    if (!spec) {
        s_error (self, "--set %s: [%s] %s: unknown key", assignment, section, key);
        return 1;
    }
    if (s_apply (spec, base, equals + 1, problem, sizeof problem) != 0) {
        s_error (self, "--set %s: [%s] %s: %s", assignment, section, key, problem);
        return 1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Derived defaults and cross-key checks

static char *
s_first_public_ipv4 (void)
{
    struct ifaddrs *list;
    char address[INET_ADDRSTRLEN] = "127.0.0.1";
    if (getifaddrs (&list) == 0) {
        for (struct ifaddrs *entry = list; entry; entry = entry->ifa_next)
            if (entry->ifa_addr && entry->ifa_addr->sa_family == AF_INET
            &&  (entry->ifa_flags & IFF_UP) && !(entry->ifa_flags & IFF_LOOPBACK)) {
                inet_ntop (AF_INET, &((struct sockaddr_in *) entry->ifa_addr)->sin_addr, address, sizeof address);
                break;
            }
        freeifaddrs (list);
    }
    return strdup (address);
}

//  A "name=value" list item check shared by labels and identity groups.
static bool
s_pair_valid (const char *item)
{
    const char *equals = strchr (item, '=');
    return equals && equals != item && equals[1];
}

static void
s_check_pairs (ocf_config_t *self, const char *where, const char *list, const char *separators)
{
    char *copy = strdup (list), *saveptr = NULL;
    for (char *item = strtok_r (copy, separators, &saveptr); item; item = strtok_r (NULL, separators, &saveptr)) {
        while (isspace ((unsigned char) *item))
            item++;
        if (*item && !s_pair_valid (item))
            s_error (self, "%s: '%s' is not key=value", where, item);
    }
    free (copy);
}

//  [gossipd]: seeds are host:port or pubkey@host:port; the introducer host:port or off.
static void
s_check_gossipd (ocf_config_t *self, const char *file)
{
    ocf_gossipd_config_t *gossipd = &self->gossipd;
    char host[256];
    int port;
    char *copy = strdup (gossipd->seeds), *saveptr = NULL;
    for (char *seed = strtok_r (copy, ", \t", &saveptr); seed; seed = strtok_r (NULL, ", \t", &saveptr)) {
        char key[OCF_NODE_ID_LEN + 1];
        if (ocf_config_parse_seed (seed, key, host, sizeof host, &port) != 0)
            s_error (self, "%s: [gossipd] seeds: '%s' is not host:port or id@host:port (id: a node id, 52 base32 characters)",
                     file, seed);
    }
    free (copy);
    if (*gossipd->introducer && strcmp (gossipd->introducer, "off") != 0
    &&  ocf_config_parse_hostport (gossipd->introducer, host, sizeof host, &port) != 0)
        s_error (self, "%s: [gossipd] introducer: '%s' is not host:port or off", file, gossipd->introducer);
    copy = strdup (gossipd->authorized_keys);
    for (char *key = strtok_r (copy, ", \t", &saveptr); key; key = strtok_r (NULL, ", \t", &saveptr))
        if (!ocf_identity_id_valid (key))
            s_error (self, "%s: [gossipd] authorized_keys: '%s' is not a node id (52 base32 characters)", file, key);
    free (copy);
    if (gossipd->suspicion_min_ms > gossipd->suspicion_max_ms)
        s_error (self, "%s: [gossipd] suspicion_min is longer than suspicion_max", file);
}

bool
ocf_config_fabric (const ocf_config_t *self)
{
    return strcmp (self->proxyd.fabric_listen, "off") != 0;
}

int
ocf_config_finish (ocf_config_t *self)
{
    int before = s_error_count (self);
    const char *file = self->path ? self->path : "configuration";
    if (!*self->node.name) {
        char host[256] = "localhost";
        gethostname (host, sizeof host - 1);
        free (self->node.name);
        self->node.name = strdup (host);
    }
    if (!*self->node.public_addr) {
        free (self->node.public_addr);
        self->node.public_addr = s_first_public_ipv4 ();
    }
    s_check_gossipd (self, file);
    char host[256];
    int port;
    if (ocf_config_fabric (self) && ocf_config_parse_hostport (self->proxyd.fabric_listen, host, sizeof host, &port) != 0)
        s_error (self, "%s: [proxyd] fabric_listen: '%s' is not host:port or off", file, self->proxyd.fabric_listen);
    if (strlen (self->node.run_dir) > 80)
        s_error (self, "%s: [node] run_dir: '%s' is too long for ipc socket paths (80 characters at most)",
                 file, self->node.run_dir);
    s_check_pairs (self, "[node] labels", self->node.labels, ",");
    for (size_t i = 0; i < self->service_count; i++) {
        ocf_service_config_t *service = &self->services[i];
        char where[128];
        snprintf (where, sizeof where, "%s:%d: [service.%s]", file, service->line, service->name);
        if (service->port == 0)
            s_error (self, "%s port: missing (the port the backend listens on)", where);
        if (service->command) {
            char problem[128];
            char **argv = ocf_config_split_argv (service->command, problem, sizeof problem);
            if (!argv)
                s_error (self, "%s command: %s", where, problem);
            ocf_config_argv_free (&argv);
        }
        char what[160];
        snprintf (what, sizeof what, "%s env", where);
        s_check_pairs (self, what, service->env, " \t");
        snprintf (what, sizeof what, "%s identity_group", where);
        s_check_pairs (self, what, service->identity_group, ",");
        if (*service->health_path != '/')
            s_error (self, "%s health_path: '%s' must start with /", where, service->health_path);
        if (*service->models_path && *service->models_path != '/')
            s_error (self, "%s models_path: '%s' must start with /", where, service->models_path);
        if (*service->metrics_path && *service->metrics_path != '/')
            s_error (self, "%s metrics_path: '%s' must start with /", where, service->metrics_path);
        if (service->restart_delay_max_ms < service->restart_delay_ms)
            s_error (self, "%s restart_delay_max: shorter than restart_delay", where);
        //  Two services on one address would check (and register) the same backend twice.
        for (size_t j = 0; j < i; j++)
            if (service->port && service->port == self->services[j].port
            &&  strcmp (service->host, self->services[j].host) == 0)
                s_error (self, "%s port: %lld is also the port of [service.%s]", where, (long long) service->port,
                         self->services[j].name);
    }
    return s_error_count (self) - before;
}

//  --------------------------------------------------------------------------
//  Construction, printing

ocf_config_t *
ocf_config_new (void)
{
    ocf_config_t *self = calloc (1, sizeof *self);
    static const char *sections[] = { "node", "tabled", "gossipd", "proxyd", "workerd" };
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        s_apply_defaults (sections[i], self);
    return self;
}

static void
s_free_strings (const char *section, void *base)
{
    for (size_t i = 0; i < KEY_COUNT; i++)
        if (strcmp (s_keys[i].section, section) == 0
        &&  (s_keys[i].type == T_STRING || s_keys[i].type == T_ENUM || s_keys[i].type == T_HOSTPORT))
            free (*(char **) ((char *) base + s_keys[i].offset));
}

void
ocf_config_destroy (ocf_config_t **self_p)
{
    ocf_config_t *self = *self_p;
    if (!self)
        return;
    static const char *sections[] = { "node", "tabled", "gossipd", "proxyd", "workerd" };
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        s_free_strings (sections[i], self);
    for (size_t i = 0; i < self->service_count; i++)
        s_free_strings ("service", &self->services[i]);
    free (self->services);
    free (self->errors);
    free (self->path);
    free (self);
    *self_p = NULL;
}

static void
s_format_value (const key_spec_t *spec, void *base, char *out, size_t size)
{
    void *field = (char *) base + spec->offset;
    switch (spec->type) {
        case T_STRING: case T_ENUM: case T_HOSTPORT:
            snprintf (out, size, "%s", *(char **) field ? *(char **) field : "");
            break;
        case T_DURATION: {
            int64_t ms = *(int64_t *) field;
            if (ms % 3600000 == 0 && ms)
                snprintf (out, size, "%lldh", (long long) (ms / 3600000));
            else
            if (ms % 1000 == 0 && ms)
                snprintf (out, size, "%llds", (long long) (ms / 1000));
            else
                snprintf (out, size, "%lldms", (long long) ms);
            break;
        }
        case T_INT: case T_SIZE:
            snprintf (out, size, "%lld", (long long) *(int64_t *) field);
            break;
        case T_DOUBLE:
            snprintf (out, size, "%g", *(double *) field);
            break;
    }
}

static void
s_print_section (FILE *out, const char *header, const char *schema_section, void *base)
{
    fprintf (out, "[%s]\n", header);
    for (size_t i = 0; i < KEY_COUNT; i++) {
        if (strcmp (s_keys[i].section, schema_section) != 0)
            continue;
        char value[4096];
        s_format_value (&s_keys[i], base, value, sizeof value);
        if (s_keys[i].type == T_STRING && !*(char **) ((char *) base + s_keys[i].offset))
            fprintf (out, "# %s =\n", s_keys[i].key);
        else
            fprintf (out, "%s = %s\n", s_keys[i].key, value);
    }
    fprintf (out, "\n");
}

void
ocf_config_print (ocf_config_t *self, FILE *out)
{
    static const char *sections[] = { "node", "tabled", "gossipd", "proxyd", "workerd" };
    for (size_t i = 0; i < sizeof sections / sizeof sections[0]; i++)
        s_print_section (out, sections[i], sections[i], self);
    for (size_t i = 0; i < self->service_count; i++) {
        char header[128];
        snprintf (header, sizeof header, "service.%s", self->services[i].name);
        s_print_section (out, header, "service", &self->services[i]);
    }
}

void
ocf_config_print_reference (FILE *out)
{
    static const char *type_names[] = {
        [T_STRING] = "string", [T_INT] = "integer", [T_DURATION] = "duration", [T_SIZE] = "size",
        [T_DOUBLE] = "number", [T_ENUM] = "one of", [T_HOSTPORT] = "host:port"
    };
    const char *section = "";
    for (size_t i = 0; i < KEY_COUNT; i++) {
        const key_spec_t *spec = &s_keys[i];
        if (strcmp (section, spec->section) != 0) {
            section = spec->section;
            fprintf (out, "%s[%s%s]\n", i ? "\n" : "", section, strcmp (section, "service") ? "" : ".NAME");
        }
        fprintf (out, "  %-22s %s%s%s, default %s%s%s\n      %s\n", spec->key, type_names[spec->type],
                 spec->choices ? " " : "", spec->choices ? spec->choices : "",
                 spec->fallback && *spec->fallback ? "\"" : "",
                 spec->fallback ? (*spec->fallback ? spec->fallback : "(empty)") : "(unset)",
                 spec->fallback && *spec->fallback ? "\"" : "", spec->help);
    }
}

//  --------------------------------------------------------------------------
//  Authorized keys

static int
s_add_keys (zhashx_t *keys, const char *list, const char *where, char *error, size_t error_size)
{
    char *copy = strdup (list), *saveptr = NULL;
    int rc = 0;
    for (char *key = strtok_r (copy, ", \t\r\n", &saveptr); key && rc == 0; key = strtok_r (NULL, ", \t\r\n", &saveptr)) {
        if (!ocf_identity_id_valid (key)) {
            snprintf (error, error_size, "%s: '%s' is not a node id (52 base32 characters)", where, key);
            rc = -1;
        }
        else
            zhashx_update (keys, key, (void *) "");
    }
    free (copy);
    return rc;
}

int
ocf_config_authorized_keys (const ocf_gossipd_config_t *config, zhashx_t *keys, char *error, size_t error_size)
{
    if (s_add_keys (keys, config->authorized_keys, "[gossipd] authorized_keys", error, error_size) != 0)
        return -1;
    if (!*config->authorized_keys_file)
        return 0;
    const char *path = config->authorized_keys_file;
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (error, error_size, "[gossipd] authorized_keys_file: cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    char line[512];
    int number = 0, rc = 0;
    while (rc == 0 && fgets (line, sizeof line, file)) {
        number++;
        char *text = line + strspn (line, " \t");
        if (*text == '#' || *text == '\n' || !*text)
            continue;
        char where[600];
        snprintf (where, sizeof where, "%s:%d", path, number);
        rc = s_add_keys (keys, text, where, error, error_size);
    }
    fclose (file);
    return rc;
}

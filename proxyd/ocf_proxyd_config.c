/*  ocf_proxyd_config: the [proxyd] section.  */
#include "ocf_config.h"

#define KEY(field) offsetof (ocf_proxyd_config_t, field)

static const ocf_config_key_t s_keys[] = {
    { "listen", OCF_CONFIG_HOSTPORT, KEY (listen), "0.0.0.0:8092", 0, 0, NULL, false,
      "HTTP address of the API (under systemd, ocf-proxyd.socket's ListenStream= must be the same)" },
    { "fabric_listen", OCF_CONFIG_STRING, KEY (fabric_listen), "0.0.0.0:8093", 0, 0, NULL, false,
      "Address where other hosts' proxyds reach this one, mutual TLS only (under systemd, ocf-proxyd-fabric.socket's); off: none, and /v1/_service stays on listen" },
    { "fabric_handshake_timeout", OCF_CONFIG_DURATION, KEY (fabric_handshake_timeout_ms), "10s", 100, 600000, NULL,
      false, "A connection to fabric_listen whose TLS handshake is not done by then is closed" },
    { "policy", OCF_CONFIG_ENUM, KEY (policy), "prefix", 0, 0, "p2c|round_robin|random|local_first|prefix", false,
      "How a provider is chosen among live ones (prefix: by the request's prompt prefix, with bounded loads; p2c: the less loaded of two, this host first)" },
    { "prefix_block", OCF_CONFIG_SIZE, KEY (prefix_block), "256", 16, 4096, NULL, false,
      "policy = prefix: bytes of normalised prompt text per hashed block" },
    { "prefix_blocks", OCF_CONFIG_INT, KEY (prefix_blocks), "16", 1, 65536, NULL, false,
      "policy = prefix: longest prefix key, in blocks (a prompt that shares this much with others goes where they go)" },
    { "prefix_balance", OCF_CONFIG_DOUBLE, KEY (prefix_balance), "0.25", 0, 10, NULL, false,
      "policy = prefix: no provider takes a request that would put its share of this host's recent requests above (1 + this) x the mean; "
      "above the mean, a provider sheds whole keys, more the further above it is (1 + this x u, u in [0, 1) per key and provider)" },
    { "near_rtt", OCF_CONFIG_DURATION, KEY (near_rtt_ms), "20ms", 0, 60000, NULL, false,
      "policy = prefix: providers farther than the nearest by more than this (round-trip time) take requests only when the near ones are full (0: distance does not count)" },
    { "max_body", OCF_CONFIG_SIZE, KEY (max_body), "16MiB", 1024, 4.0 * 1024 * 1024 * 1024, NULL, false,
      "Largest request body accepted (413 above)" },
    { "connect_timeout", OCF_CONFIG_DURATION, KEY (connect_timeout_ms), "3s", 10, 600000, NULL, false,
      "Connecting to an upstream" },
    { "first_byte_timeout", OCF_CONFIG_DURATION, KEY (first_byte_timeout_ms), "300s", 100, OCF_CONFIG_DAY_MS, NULL, false,
      "Waiting for an upstream's first response byte (a slow first token)" },
    { "io_timeout", OCF_CONFIG_DURATION, KEY (io_timeout_ms), "300s", 100, OCF_CONFIG_DAY_MS, NULL, false,
      "Longest silence inside a response stream" },
    { "retries", OCF_CONFIG_INT, KEY (retries), "2", 0, 16, NULL, false,
      "Other providers tried when connecting fails or the upstream answers 502/503 first" },
    { "load_report_interval", OCF_CONFIG_DURATION, KEY (load_report_interval_ms), "1s", 50, 3600000, NULL, false,
      "Most frequent in-flight report to tabled" },
    { "workers", OCF_CONFIG_INT, KEY (workers), "1", 1, 64, NULL, false,
      "Event-loop threads, each with its own listener (SO_REUSEPORT; under systemd, all accept from its socket), routing view and pools" },
    { "keepalive_timeout", OCF_CONFIG_DURATION, KEY (keepalive_timeout_ms), "4s", 100, 3600000, NULL, false,
      "Idle connections to this host's backends are closed after this (keep it below the backends' own idle timeout)" },
    { "fabric_keepalive_timeout", OCF_CONFIG_DURATION, KEY (fabric_keepalive_timeout_ms), "60s", 100, 3600000, NULL, false,
      "Idle connections to other hosts' fabric listeners are closed after this (they keep idle connections 5 s longer, so the side that pooled one closes it first)" },
    { "stop_timeout", OCF_CONFIG_DURATION, KEY (stop_timeout_ms), "15s", 0, 3600000, NULL, false,
      "On SIGTERM, longest wait for requests in flight (streams) to finish" },
    { "admin_key_file", OCF_CONFIG_STRING, KEY (admin_key_file), "", 0, 0, NULL, false,
      "File holding the admin key (its first line): with Authorization: Bearer <key>, clients that are not local may call the admin routes (POST/DELETE /v1/dnt/_node); empty: local clients only" },
    { "api_keys_file", OCF_CONFIG_STRING, KEY (api_keys_file), "", 0, 0, NULL, false,
      "Client API keys, hashed, one per line: name sha256:<hex> [rpm=N] [streams=N] (format: configuration.md); empty: no key needed; reloaded on SIGHUP" },
    { "allowed_origins", OCF_CONFIG_STRING, KEY (allowed_origins), "", 0, 0, NULL, true,
      "Browser origins allowed by CORS, comma-separated and exact (https://app.example.com), or *; empty: none" },
};

static void
s_finish (ocf_config_t *config, const char *file)
{
    char host[256];
    int port;
    if (ocf_config_fabric (config) && ocf_config_parse_hostport (config->proxyd.fabric_listen, host, sizeof host, &port) != 0)
        ocf_config_error (config, "%s: [proxyd] fabric_listen: '%s' is not host:port or off", file, config->proxyd.fabric_listen);
}

const ocf_config_section_t ocf_proxyd_config_section = {
    "proxyd", offsetof (ocf_config_t, proxyd), s_keys, sizeof s_keys / sizeof s_keys[0], s_finish
};

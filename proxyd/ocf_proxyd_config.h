/*  ocf_proxyd_config: the [proxyd] section (ocf-proxyd: the HTTP API and request routing).
    Its keys and defaults are in ocf_proxyd_config.c, linked into the common library: every
    daemon checks the whole shared file.  */
#ifndef OCF_PROXYD_CONFIG_H
#define OCF_PROXYD_CONFIG_H

#include "../common/ocf_config_schema.h"

#include <stdint.h>

typedef struct {
    char *listen;
    char *fabric_listen;         //  host:port of the mutual-TLS listener for other hosts; "off"
    int64_t fabric_handshake_timeout_ms; //  a fabric connection not through its handshake by then is closed
    char *policy;                //  p2c | round_robin | random | local_first | prefix
    int64_t prefix_block;        //  bytes of normalised text per hashed block
    int64_t prefix_blocks;       //  longest prefix key, in blocks
    double prefix_balance;       //  bounded loads: no provider at (1 + this) x the mean load
    int64_t near_rtt_ms;         //  prefix: near providers are within this of the nearest (0: all)
    int64_t max_body;
    int64_t connect_timeout_ms;
    int64_t first_byte_timeout_ms;
    int64_t io_timeout_ms;
    int64_t retries;
    int64_t load_report_interval_ms;
    int64_t workers;             //  event-loop threads
    int64_t keepalive_timeout_ms;    //  idle connections to this host's backends
    int64_t fabric_keepalive_timeout_ms; //  idle connections to other hosts' fabric listeners
    int64_t stop_timeout_ms;     //  grace for requests in flight on SIGTERM
    char *admin_key_file;        //  "": the admin routes take local clients only
    char *api_keys_file;         //  "": no API key needed
    char *allowed_origins;       //  comma-separated, or "*"; "": no CORS
} ocf_proxyd_config_t;

extern const ocf_config_section_t ocf_proxyd_config_section;

#endif

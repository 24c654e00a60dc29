/*  ocf_gossipd_config: the [gossipd] section (ocf-gossipd: talking to other hosts), and what
    reads its values: seeds and the authorized keys (which proxyd's fabric uses too). Its keys
    and defaults are in ocf_gossipd_config.c, linked into the common library: every daemon
    checks the whole shared file. The protocol core's settings are made from it
    (ocf_gossip_config_from).  */
#ifndef OCF_GOSSIPD_CONFIG_H
#define OCF_GOSSIPD_CONFIG_H

#include "../common/ocf_config_schema.h"

#include <czmq.h>
#include <stdint.h>

typedef struct {
    char *bind;                  //  host:port for the CURVE-encrypted TCP socket
    char *seeds;                 //  comma-separated host:port or pubkey@host:port
    int64_t heartbeat_interval_ms;
    int64_t observers;
    double phi_threshold;
    int64_t gossip_interval_ms;
    int64_t fanout;
    int64_t anti_entropy_interval_ms;
    int64_t max_snapshots;
    int64_t max_frame;
    char *introducer;            //  host:port of the key introducer; "" = bind port + 1; "off"
    char *authorized_keys;       //  comma-separated node ids; empty (and no file): any key
    char *authorized_keys_file;
    int64_t probe_timeout_ms;
    int64_t suspicion_min_ms;
    int64_t suspicion_max_ms;
    int64_t phi_min_std_ms;
    int64_t acceptable_pause_ms;
    int64_t retransmit_mult;
    int64_t flood_limit;         //  messages per second from one peer
    int64_t rtt_interval_ms;     //  0: no round-trip pings
} ocf_gossipd_config_t;

extern const ocf_config_section_t ocf_gossipd_config_section;

//  Splits a gossip seed, "host:port" or "pubkey@host:port": key gets the public key (41 bytes,
//  empty when none was given).
int ocf_gossipd_config_parse_seed (const char *text, char *key, char *host_out, size_t host_size, int *port);
//  The node ids of a closed cluster, [gossipd] authorized_keys and the lines of
//  authorized_keys_file ('#' comments), added to keys (id -> ""). Returns 0, or -1 with error
//  set. None at all: the cluster is open to any key.
int ocf_gossipd_config_authorized_keys (const ocf_gossipd_config_t *config, zhashx_t *keys, char *error,
                                        size_t error_size);

#endif

/*  ocf_config: the one INI file all four daemons share (default /etc/ocf/ocf.conf).
    Owns the schema of every key: its type, default and limits, so that an empty file yields a
    working single-host node and every mistake is reported with file, line, section and key.
    Values come from the defaults, then the file, then `--set section.key=value` overrides.  */
#ifndef OCF_CONFIG_H
#define OCF_CONFIG_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define OCF_CONFIG_DEFAULT_PATH "/etc/ocf/ocf.conf"
#define OCF_SERVICE_NAME_MAX 64

typedef struct {
    char *name;                  //  node name shown to people; default: the host name
    char *state_dir;             //  table.db, node.key
    char *run_dir;               //  ipc sockets and their lock files
    char *public_addr;           //  address other hosts use; default: first non-loopback IPv4
    char *labels;                //  "key=value,key=value" copied into the record
    char *log_level;
} ocf_node_config_t;

typedef struct {
    int64_t tombstone_retention_ms;
    int64_t reap_after_ms;
    int64_t checkpoint_interval_ms;
    int64_t max_message;         //  bytes; larger requests are refused
    int64_t max_record;          //  bytes of one node record
    int64_t batch_max;           //  requests applied per transaction (group commit)
} ocf_tabled_config_t;

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
} ocf_gossipd_config_t;

typedef struct {
    char *listen;
    char *fabric_listen;         //  host:port of the mutual-TLS listener for other hosts; "off"
    int64_t fabric_handshake_timeout_ms; //  a fabric connection not through its handshake by then is closed
    char *policy;                //  p2c | round_robin | random | local_first
    int64_t max_body;
    int64_t connect_timeout_ms;
    int64_t first_byte_timeout_ms;
    int64_t io_timeout_ms;
    int64_t retries;
    int64_t load_report_interval_ms;
    int64_t workers;             //  event-loop threads
    int64_t keepalive_timeout_ms;    //  idle upstream connections
    int64_t stop_timeout_ms;     //  grace for requests in flight on SIGTERM
    char *admin_key_file;        //  "": the admin routes take local clients only
    char *api_keys_file;         //  "": no API key needed
    char *allowed_origins;       //  comma-separated, or "*"; "": no CORS
} ocf_proxyd_config_t;

typedef struct {
    int64_t health_interval_ms;
    int64_t failure_threshold;
    int64_t gpu_interval_ms;
    char *nvidia_smi;
    int64_t metrics_interval_ms;
} ocf_workerd_config_t;

typedef struct {
    char name[OCF_SERVICE_NAME_MAX + 1];
    int line;                    //  where the section starts, for error messages
    char *command;               //  NULL: an externally managed backend
    char *env;                   //  space-separated KEY=VALUE
    char *gpus;                  //  becomes CUDA_VISIBLE_DEVICES
    char *workdir;
    char *host;
    int64_t port;
    char *health_path;
    char *models_path;
    char *identity_group;        //  comma-separated, e.g. "model=llama-3-8b"
    int64_t max_inflight;        //  0: no limit
    char *metrics_path;
    char *restart;               //  always | on-failure | no
    int64_t restart_max;         //  crash-loop limit
    int64_t restart_delay_ms;    //  first backoff step; doubles up to restart_delay_max
    int64_t restart_delay_max_ms;
    int64_t start_timeout_ms;
    int64_t stop_timeout_ms;
} ocf_service_config_t;

typedef struct _ocf_config_t ocf_config_t;
struct _ocf_config_t {
    char *path;                  //  the file read, or NULL
    ocf_node_config_t node;
    ocf_tabled_config_t tabled;
    ocf_gossipd_config_t gossipd;
    ocf_proxyd_config_t proxyd;
    ocf_workerd_config_t workerd;
    ocf_service_config_t *services;
    size_t service_count;
    char *errors;                //  newline-separated messages, NULL when none
};

//  A configuration with every default set.
ocf_config_t *ocf_config_new (void);
void ocf_config_destroy (ocf_config_t **self_p);
//  Reads an INI file over the current values. A missing file is an error only when required.
//  Returns the number of errors added.
int ocf_config_load (ocf_config_t *self, const char *path, bool required);
//  Parses the same INI text from memory (tests, fuzzing); name is used in messages.
int ocf_config_load_string (ocf_config_t *self, const char *text, const char *name);
//  Applies one "section.key=value" override.
int ocf_config_set (ocf_config_t *self, const char *assignment);
//  Fills derived defaults (name, public_addr) and checks keys that depend on each other.
int ocf_config_finish (ocf_config_t *self);
const char *ocf_config_errors (ocf_config_t *self);

//  Whether proxyd has a fabric listener ([proxyd] fabric_listen is not "off").
bool ocf_config_fabric (const ocf_config_t *self);
ocf_service_config_t *ocf_config_service (ocf_config_t *self, const char *name);
//  Writes every key with its current value as INI (--check-config --print).
void ocf_config_print (ocf_config_t *self, FILE *out);
//  Writes the reference of every key: section, key, type, default, meaning.
void ocf_config_print_reference (FILE *out);

//  Value parsers shared with the rest of the code; return 0 or -1.
int ocf_config_parse_duration (const char *text, int64_t *ms);
int ocf_config_parse_size (const char *text, int64_t *bytes);
//  Splits "host:port" (host may be "[v6]"); host_out gets the host without brackets.
int ocf_config_parse_hostport (const char *text, char *host_out, size_t host_size, int *port);
//  Splits a gossip seed, "host:port" or "pubkey@host:port": key gets the public key (41 bytes,
//  empty when none was given).
int ocf_config_parse_seed (const char *text, char *key, char *host_out, size_t host_size, int *port);
//  The node ids of a closed cluster, [gossipd] authorized_keys and the lines of
//  authorized_keys_file ('#' comments), added to keys (id -> ""). Returns 0, or -1 with error
//  set. None at all: the cluster is open to any key.
int ocf_config_authorized_keys (const ocf_gossipd_config_t *config, zhashx_t *keys, char *error, size_t error_size);
//  Splits a command line into argv without a shell: whitespace separates, '...' and "..."
//  quote, backslash escapes. Returns a NULL-terminated array to free with ocf_config_argv_free.
char **ocf_config_split_argv (const char *command, char *error, size_t error_size);
void ocf_config_argv_free (char ***argv_p);

#endif

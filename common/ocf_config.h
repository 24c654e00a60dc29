/*  ocf_config: the one INI file all four daemons share (default /etc/ocf/ocf.conf).
    Owns reading it: the INI parser, value types and limits, defaults, errors, printing and
    --help-config. Each section's keys and defaults are declared next to the daemon that uses
    them (ocf_config_schema.h says where), so that an empty file yields a working single-host
    node and every mistake is reported with file, line, section and key. Values come from the
    defaults, then the file, then `--set section.key=value` overrides.  */
#ifndef OCF_CONFIG_H
#define OCF_CONFIG_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ocf_config_schema.h"
#include "ocf_node_config.h"
#include "../tabled/ocf_tabled_config.h"
#include "../gossipd/ocf_gossipd_config.h"
#include "../proxyd/ocf_proxyd_config.h"
#include "../workerd/ocf_workerd_config.h"

#define OCF_CONFIG_DEFAULT_PATH "/etc/ocf/ocf.conf"

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
//  Splits a command line into argv without a shell: whitespace separates, '...' and "..."
//  quote, backslash escapes. Returns a NULL-terminated array to free with ocf_config_argv_free.
char **ocf_config_split_argv (const char *command, char *error, size_t error_size);
void ocf_config_argv_free (char ***argv_p);

#endif

/*  ocf_node_config: the [node] section, what every daemon reads: this host's name, places
    (state_dir, run_dir), address, labels and log level. Its keys and defaults are in
    ocf_node_config.c; ocf_config reads them for every daemon.  */
#ifndef OCF_NODE_CONFIG_H
#define OCF_NODE_CONFIG_H

#include "ocf_config_schema.h"

typedef struct {
    char *name;                  //  node name shown to people; default: the host name
    char *state_dir;             //  table.db, node.key
    char *run_dir;               //  ipc sockets and their lock files
    char *public_addr;           //  address other hosts use; default: first non-loopback IPv4
    char *labels;                //  "key=value,key=value" copied into the record
    char *log_level;
} ocf_node_config_t;

extern const ocf_config_section_t ocf_node_config_section;

#endif

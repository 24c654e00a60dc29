/*  ocf_tabled_config: the [tabled] section (ocf-tabled: the node table). Its keys and
    defaults are in ocf_tabled_config.c, linked into the common library: every daemon checks
    the whole shared file.  */
#ifndef OCF_TABLED_CONFIG_H
#define OCF_TABLED_CONFIG_H

#include "../common/ocf_config_schema.h"

#include <stdint.h>

typedef struct {
    int64_t tombstone_retention_ms;
    int64_t reap_after_ms;
    int64_t checkpoint_interval_ms;
    int64_t max_message;         //  bytes; larger requests are refused
    int64_t max_record;          //  bytes of one node record
    int64_t batch_max;           //  requests applied per transaction (group commit)
} ocf_tabled_config_t;

extern const ocf_config_section_t ocf_tabled_config_section;

#endif

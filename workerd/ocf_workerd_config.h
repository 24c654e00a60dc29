/*  ocf_workerd_config: the [workerd] section and the [service.NAME] sections (ocf-workerd:
    the backends it runs or watches). Their keys and defaults are in ocf_workerd_config.c,
    linked into the common library: every daemon checks the whole shared file.  */
#ifndef OCF_WORKERD_CONFIG_H
#define OCF_WORKERD_CONFIG_H

#include "../common/ocf_config_schema.h"

#include <stdbool.h>
#include <stdint.h>

#define OCF_SERVICE_NAME_MAX 64

typedef struct {
    int64_t health_interval_ms;
    int64_t failure_threshold;
    int64_t gpu_interval_ms;
    char *nvidia_smi;
    int64_t metrics_interval_ms;
    char *launcher;              //  process | systemd
    int64_t drain_timeout_ms;    //  longest wait for requests in flight before a drain withdraws
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
    char *swap;                  //  after_drain | beside: how a reload replaces a changed backend
    int64_t swap_port;           //  beside: the new backend's port while the old one serves
} ocf_service_config_t;

//  "{port}" in a command: replaced with the port the backend is started on.
#define OCF_SERVICE_PORT_PLACEHOLDER "{port}"

extern const ocf_config_section_t ocf_workerd_config_section;
//  Every [service.NAME] section.
extern const ocf_config_section_t ocf_service_config_section;

//  Whether two [service.NAME] sections describe the same backend: every key but swap and
//  swap_port (which only say how the next change is made) is equal.
bool ocf_service_config_same (const ocf_service_config_t *a, const ocf_service_config_t *b);

#endif

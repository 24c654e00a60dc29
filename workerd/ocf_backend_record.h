/*  ocf_backend_record: state_dir/backends/NAME.json, what workerd writes about a backend it
    started, so that the next workerd adopts it (docs/workerd.md, "Restarts of workerd"):

        {"version": 1, "service": "llm", "pid": 4711, "start_time": 123456, "port": 8000,
         "spec": {"command": "...", "env": "...", "gpus": "0,1", "workdir": ""},
         "registered": true, "models": ["meta-llama/Llama-3.1-8B-Instruct"]}

    port is the one it listens on (port or, after a swap beside the old one, swap_port;
    absent in records of earlier versions: port). pid and start_time (clock ticks after
    boot, /proc/PID/stat) tell the backend from a
    process that took its pid later; spec is the configuration it was started with, so a
    changed command is not mistaken for the running one; registered and models are the
    service's state (ocf_service_record). Sans-I/O: the file is read and written by the
    runner; the decoder takes whatever the file holds (it may be damaged, truncated, or
    written by someone else) and rejects anything but such a record, saying why.  */
#ifndef OCF_BACKEND_RECORD_H
#define OCF_BACKEND_RECORD_H

#include "ocf_config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define OCF_BACKEND_RECORD_MAX (1024 * 1024)

typedef struct {
    char service[OCF_SERVICE_NAME_MAX + 1];
    pid_t pid;
    uint64_t start_time;
    int64_t port;                //  0: not recorded
    json_t *spec;
    bool registered;
    json_t *models;              //  NULL: none known
} ocf_backend_record_t;

//  The spec of a launched service's configuration. Caller owns it.
json_t *ocf_backend_record_spec (const ocf_service_config_t *config);
//  The file's text; state: ocf_service_record(); port 0: not recorded. Caller frees.
char *ocf_backend_record_encode (const char *service, pid_t pid, uint64_t start_time, int64_t port, json_t *spec,
                                 json_t *state);
//  Returns 0 with record filled (release it with clear), or -1 with the reason in error.
int ocf_backend_record_decode (const char *text, size_t size, ocf_backend_record_t *record, char *error,
                               size_t error_size);
void ocf_backend_record_clear (ocf_backend_record_t *record);

#endif

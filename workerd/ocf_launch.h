/*  ocf_launch: the two files between workerd and a backend's systemd unit, sans-I/O.
    Under systemd (`[workerd] launcher = systemd`) a backend runs in its own unit,
    ocf-backend@NAME.service, so that a restart or a crash of ocf-workerd.service leaves it
    running. workerd writes state_dir/backends/NAME.spec, what to run:

        {"argv": ["vllm", "serve", "m"], "env": ["HF_HOME=/var/lib/ocf/hf"], "workdir": "",
         "nonce": 8427}

    and starts the unit, whose ExecStart, ocf-backend-exec, reads it, writes
    state_dir/backends/NAME.started, who runs it (then execs it, so that pid is the backend):

        {"pid": 4711, "start_time": 123456, "nonce": 8427}

    The nonce ties the answer to the request (a late one of an earlier start is ignored).
    Both decoders take what the files hold and reject anything else, saying why.  */
#ifndef OCF_LAUNCH_H
#define OCF_LAUNCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OCF_LAUNCH_FILE_MAX (1024 * 1024)

typedef struct {
    char **argv;                 //  NULL-terminated, at least one word
    char **env;                  //  NULL-terminated "KEY=VALUE"
    char *workdir;               //  "" for the unit's own
    uint64_t nonce;
} ocf_launch_spec_t;

//  Caller frees the texts.
char *ocf_launch_spec_encode (char *const *argv, char *const *env, const char *workdir, uint64_t nonce);
char *ocf_launch_started_encode (pid_t pid, uint64_t start_time, uint64_t nonce);
//  0 with spec filled (release it with clear), or -1 with the reason in error.
int ocf_launch_spec_decode (const char *text, size_t size, ocf_launch_spec_t *spec, char *error, size_t error_size);
void ocf_launch_spec_clear (ocf_launch_spec_t *spec);
int ocf_launch_started_decode (const char *text, size_t size, pid_t *pid, uint64_t *start_time, uint64_t *nonce,
                               char *error, size_t error_size);

#endif

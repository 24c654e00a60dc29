/*  ocf_gpu_probe: runs nvidia-smi (the configured program) and keeps the last inventory.
    One run at a time, each with a deadline; the runner polls its output, reaps it and
    calls ocf_gpu_probe_exited(). A host where the program does not exist is a CPU host: an
    empty list, said once in the log. A failing or garbled run keeps the last good list (a
    driver hiccup does not make the GPUs vanish from the record) and is logged when the
    problem starts or changes, not at every refresh.  */
#ifndef OCF_GPU_PROBE_H
#define OCF_GPU_PROBE_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct _ocf_gpu_probe_t ocf_gpu_probe_t;

ocf_gpu_probe_t *ocf_gpu_probe_new (const char *program, int64_t timeout_ms);
//  Kills and reaps a run still going.
void ocf_gpu_probe_destroy (ocf_gpu_probe_t **self_p);
//  Starts a run. Returns 0 when it runs, 1 when it finished at once (the program is missing
//  or cannot be executed: the result is already there).
int ocf_gpu_probe_start (ocf_gpu_probe_t *self, int64_t now);
//  The running nvidia-smi (0 when none), its output pipe (-1 when none).
pid_t ocf_gpu_probe_pid (ocf_gpu_probe_t *self);
int ocf_gpu_probe_fd (ocf_gpu_probe_t *self);
//  Reads the output that is there. Returns -1 at its end (stop polling), else 0.
int ocf_gpu_probe_read (ocf_gpu_probe_t *self);
//  When the run must end (0 when none runs); past it, ocf_gpu_probe_kill().
int64_t ocf_gpu_probe_deadline (ocf_gpu_probe_t *self);
void ocf_gpu_probe_kill (ocf_gpu_probe_t *self);
//  The run ended with this wait status: parses what it printed.
void ocf_gpu_probe_exited (ocf_gpu_probe_t *self, int wait_status);
//  The last inventory (borrowed), NULL before the first result.
json_t *ocf_gpu_probe_gpus (ocf_gpu_probe_t *self);
//  Runs so far and failed runs, for STATS.
uint64_t ocf_gpu_probe_runs (ocf_gpu_probe_t *self);
uint64_t ocf_gpu_probe_failures (ocf_gpu_probe_t *self);

#endif

/*  ocf_gpu_probe: nvidia-smi runs.  */
#include "ocf_gpu_probe.h"
#include "ocf_alloc.h"
#include "ocf_gpu.h"
#include "ocf_log.h"
#include "ocf_process.h"
#include "ocf_strbuf.h"

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define MAX_OUTPUT (512 * 1024)

struct _ocf_gpu_probe_t {
    char *program;
    int64_t timeout_ms;
    ocf_process_t *process;
    int64_t deadline;
    bool killed;                 //  the run overran its deadline
    ocf_strbuf_t output;
    bool truncated;
    json_t *gpus;
    char problem[512];           //  the last one logged, to log each problem once
    uint64_t runs;
    uint64_t failures;
};

ocf_gpu_probe_t *
ocf_gpu_probe_new (const char *program, int64_t timeout_ms)
{
    ocf_gpu_probe_t *self = ocf_calloc (1, sizeof *self);
    self->program = ocf_strdup (program);
    self->timeout_ms = timeout_ms;
    return self;
}

void
ocf_gpu_probe_destroy (ocf_gpu_probe_t **self_p)
{
    ocf_gpu_probe_t *self = *self_p;
    if (!self)
        return;
    if (self->process) {
        ocf_process_signal (self->process, SIGKILL);
        waitpid (ocf_process_pid (self->process), NULL, 0);
        ocf_process_destroy (&self->process);
    }
    ocf_strbuf_free (&self->output);
    json_decref (self->gpus);
    free (self->program);
    free (self);
    *self_p = NULL;
}

//  Keeps the last good list; an empty one when there was none, so the record still says
//  "no usable GPU" rather than nothing.
static void
s_failed (ocf_gpu_probe_t *self, const char *problem)
{
    self->failures++;
    if (strcmp (self->problem, problem) != 0)
        ocf_log_warning ("GPU inventory: %s%s", problem, self->gpus ? "; keeping the last one" : "");
    snprintf (self->problem, sizeof self->problem, "%s", problem);
    if (!self->gpus)
        self->gpus = json_array ();
}

static void
s_succeeded (ocf_gpu_probe_t *self, json_t *gpus)
{
    if (*self->problem || !self->gpus || json_array_size (self->gpus) != json_array_size (gpus))
        ocf_log_info ("GPU inventory: %zu GPU%s%s", json_array_size (gpus), json_array_size (gpus) == 1 ? "" : "s",
                      json_array_size (gpus) ? "" : " (a CPU host)");
    self->problem[0] = '\0';
    json_decref (self->gpus);
    self->gpus = gpus;
}

int
ocf_gpu_probe_start (ocf_gpu_probe_t *self, int64_t now)
{
    if (self->process)
        return 0;
    self->runs++;
    ocf_strbuf_reset (&self->output);
    self->truncated = self->killed = false;
    char *argv[] = { self->program, "--query-gpu=" OCF_GPU_QUERY, "--format=csv,noheader,nounits", NULL };
    char error[512];
    self->process = ocf_process_spawn (argv, NULL, NULL, NULL, error, sizeof error);
    if (!self->process) {
        //  No nvidia-smi: a CPU host, which is a normal case, not a failure.
        if (strcmp (self->problem, error) != 0)
            ocf_log_info ("GPU inventory: %s: reporting no GPUs (a CPU host)", error);
        snprintf (self->problem, sizeof self->problem, "%s", error);
        json_decref (self->gpus);
        self->gpus = json_array ();
        return 1;
    }
    self->deadline = now + self->timeout_ms;
    return 0;
}

pid_t
ocf_gpu_probe_pid (ocf_gpu_probe_t *self)
{
    return self->process ? ocf_process_pid (self->process) : 0;
}

int
ocf_gpu_probe_fd (ocf_gpu_probe_t *self)
{
    return self->process ? ocf_process_output_fd (self->process) : -1;
}

int
ocf_gpu_probe_read (ocf_gpu_probe_t *self)
{
    char buffer[16384];
    ssize_t got = -1;
    while (self->process && (got = ocf_process_read (self->process, buffer, sizeof buffer)) > 0) {
        if (self->output.len + (size_t) got > MAX_OUTPUT)
            self->truncated = true;
        else
            ocf_strbuf_append (&self->output, buffer, (size_t) got);
    }
    return got == 0 ? -1 : 0;
}

int64_t
ocf_gpu_probe_deadline (ocf_gpu_probe_t *self)
{
    return self->process && !self->killed ? self->deadline : 0;
}

void
ocf_gpu_probe_kill (ocf_gpu_probe_t *self)
{
    if (!self->process || self->killed)
        return;
    self->killed = true;
    ocf_process_signal (self->process, SIGKILL);
}

void
ocf_gpu_probe_exited (ocf_gpu_probe_t *self, int wait_status)
{
    if (!self->process)
        return;
    ocf_gpu_probe_read (self);
    ocf_process_destroy (&self->process);
    char problem[512], error[400];
    if (self->killed) {
        snprintf (problem, sizeof problem, "%s did not finish within %.1f s", self->program,
                  (double) self->timeout_ms / 1000);
        s_failed (self, problem);
        return;
    }
    if (self->truncated) {
        snprintf (problem, sizeof problem, "%s printed more than %d bytes", self->program, MAX_OUTPUT);
        s_failed (self, problem);
        return;
    }
    json_t *gpus = ocf_gpu_parse (self->output.data ? self->output.data : "", self->output.len, error, sizeof error);
    if (gpus) {
        s_succeeded (self, gpus);
        return;
    }
    //  A failing nvidia-smi explains itself on its first line ("Failed to initialize NVML:
    //  Driver/library version mismatch"): better than a parse error about that line.
    const char *text = self->output.data ? self->output.data : "";
    size_t first = strcspn (text, "\n");
    if (WIFEXITED (wait_status) && WEXITSTATUS (wait_status) != 0)
        snprintf (problem, sizeof problem, "%s exited with status %d: %.*s", self->program, WEXITSTATUS (wait_status),
                  (int) (first > 300 ? 300 : first), text);
    else
    if (WIFSIGNALED (wait_status))
        snprintf (problem, sizeof problem, "%s was killed by %s", self->program, strsignal (WTERMSIG (wait_status)));
    else
        snprintf (problem, sizeof problem, "cannot read what %s printed: %s", self->program, error);
    s_failed (self, problem);
}

json_t *
ocf_gpu_probe_gpus (ocf_gpu_probe_t *self)
{
    return self->gpus;
}

uint64_t
ocf_gpu_probe_runs (ocf_gpu_probe_t *self)
{
    return self->runs;
}

uint64_t
ocf_gpu_probe_failures (ocf_gpu_probe_t *self)
{
    return self->failures;
}

/*  ocf_units: systemctl, spec and started files, inotify.  */
#include "ocf_units.h"
#include "ocf_alloc.h"
#include "ocf_launch.h"
#include "ocf_log.h"
#include "ocf_statedir.h"
#include "ocf_time.h"

#include <errno.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#define NEVER INT64_MAX
#define MAX_STARTS 64

typedef struct {
    char name[80];
    char unit[128];
    uint64_t nonce;
    ocf_process_t *systemctl;    //  while `systemctl restart` runs
    int64_t deadline;
    char error[600];             //  set: the start failed before systemctl ran
    ocf_units_fn *fn;
    void *arg;
} start_t;

struct _ocf_units_t {
    zloop_t *loop;
    char *backends;
    int64_t timeout_ms;
    int inotify;
    start_t starts[MAX_STARTS];  //  name[0] == '\0': free
};

static void
s_path (ocf_units_t *self, const char *name, const char *suffix, char *path, size_t size)
{
    snprintf (path, size, "%s/%s%s", self->backends, name, suffix);
}

//  Ends a start with its outcome (the slot is free before fn runs: fn may start again).
static void
s_finish (ocf_units_t *self, start_t *start, ocf_process_t *process, const char *error)
{
    if (start->systemctl) {
        ocf_process_signal (start->systemctl, SIGKILL);
        //  Reaped by the runner's SIGCHLD like any child; its pid no longer matches a start.
        ocf_process_destroy (&start->systemctl);
    }
    ocf_units_fn *fn = start->fn;
    void *arg = start->arg;
    start->name[0] = '\0';
    fn (arg, process, error);
}

//  NAME.started appeared: the backend of that start, if the nonce says so.
static void
s_check_started (ocf_units_t *self, start_t *start)
{
    char path[4200], error[512];
    s_path (self, start->name, ".started", path, sizeof path);
    size_t size;
    char *text = ocf_statedir_read (path, OCF_LAUNCH_FILE_MAX, &size);
    if (!text)
        return;
    pid_t pid;
    uint64_t start_time, nonce;
    int rc = ocf_launch_started_decode (text, size, &pid, &start_time, &nonce, error, sizeof error);
    free (text);
    if (rc != 0) {
        ocf_log_warning ("%s: %s is damaged: %s; ignored", start->name, path, error);
        return;
    }
    if (nonce != (start->nonce & INT64_MAX))
        return;                  //  a late answer to an earlier start
    unlink (path);
    ocf_process_t *process = ocf_process_adopt (pid, start_time, error, sizeof error);
    if (!process) {
        char why[700];
        snprintf (why, sizeof why, "%s ended at once (journalctl -u %s)", start->unit, start->unit);
        s_finish (self, start, NULL, why);
        return;
    }
    s_finish (self, start, process, NULL);
}

static int
s_on_inotify (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    ocf_units_t *self = arg;
    char events[4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
    while (read (self->inotify, events, sizeof events) > 0)
        ;
    for (size_t i = 0; i < MAX_STARTS; i++)
        if (self->starts[i].name[0])
            s_check_started (self, &self->starts[i]);
    return 0;
}

ocf_units_t *
ocf_units_new (zloop_t *loop, const char *backends, int64_t timeout_ms, char *error, size_t error_size)
{
    int inotify = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
    if (inotify < 0 || inotify_add_watch (inotify, backends, IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
        snprintf (error, error_size, "cannot watch %s: %s", backends, strerror (errno));
        if (inotify >= 0)
            close (inotify);
        return NULL;
    }
    ocf_units_t *self = ocf_calloc (1, sizeof *self);
    self->loop = loop;
    self->backends = ocf_strdup (backends);
    self->timeout_ms = timeout_ms;
    self->inotify = inotify;
    zmq_pollitem_t item = { NULL, inotify, ZMQ_POLLIN, 0 };
    zloop_poller (loop, &item, s_on_inotify, self);
    zloop_poller_set_tolerant (loop, &item);
    return self;
}

void
ocf_units_destroy (ocf_units_t **self_p)
{
    ocf_units_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < MAX_STARTS; i++)
        ocf_process_destroy (&self->starts[i].systemctl);
    zmq_pollitem_t item = { NULL, self->inotify, 0, 0 };
    zloop_poller_end (self->loop, &item);
    close (self->inotify);
    free (self->backends);
    free (self);
    *self_p = NULL;
}

static start_t *
s_find (ocf_units_t *self, const char *name)
{
    for (size_t i = 0; i < MAX_STARTS; i++)
        if (strcmp (self->starts[i].name, name) == 0 && *name)
            return &self->starts[i];
    return NULL;
}

bool
ocf_units_starting (ocf_units_t *self, const char *name)
{
    return s_find (self, name) != NULL;
}

int
ocf_units_start (ocf_units_t *self, const char *name, char *const *argv, char *const *env, const char *workdir,
                 ocf_units_fn *fn, void *arg)
{
    if (s_find (self, name))
        return -1;
    start_t *start = NULL;
    for (size_t i = 0; !start && i < MAX_STARTS; i++)
        if (!self->starts[i].name[0])
            start = &self->starts[i];
    if (!start)
        return -1;
    snprintf (start->name, sizeof start->name, "%s", name);
    snprintf (start->unit, sizeof start->unit, "ocf-backend@%s.service", name);
    start->nonce = ((uint64_t) ocf_time_mono_us () << 16) ^ (uint64_t) getpid () ^ (uint64_t) random ();
    start->fn = fn;
    start->arg = arg;
    start->deadline = ocf_time_mono_ms () + self->timeout_ms;
    start->error[0] = '\0';
    char path[4200];
    s_path (self, name, ".started", path, sizeof path);
    unlink (path);
    s_path (self, name, ".spec", path, sizeof path);
    char *spec = ocf_launch_spec_encode (argv, env, workdir, start->nonce);
    int written = ocf_statedir_write (path, spec);
    free (spec);
    if (written != 0) {
        snprintf (start->error, sizeof start->error, "cannot write %s: %s", path, strerror (errno));
        start->deadline = 0;     //  reported at the next tick, from the loop
        return 0;
    }
    //  restart, not start: an instance still active (its workerd died before recording it)
    //  is replaced rather than kept unknown on the backend's port.
    char *const systemctl[] = { "systemctl", "--no-block", "--no-ask-password", "restart", start->unit, NULL };
    start->systemctl = ocf_process_spawn (systemctl, NULL, NULL, NULL, start->error, sizeof start->error);
    if (!start->systemctl)
        start->deadline = 0;
    ocf_log_info ("%s: starting %s", name, start->unit);
    return 0;
}

bool
ocf_units_reap (ocf_units_t *self, pid_t pid, int status)
{
    for (size_t i = 0; i < MAX_STARTS; i++) {
        start_t *start = &self->starts[i];
        if (!start->name[0] || !start->systemctl || ocf_process_pid (start->systemctl) != pid)
            continue;
        char output[512] = "";
        ssize_t got = ocf_process_read (start->systemctl, output, sizeof output - 1);
        output[got > 0 ? got : 0] = '\0';
        output[strcspn (output, "\n")] = '\0';
        ocf_process_destroy (&start->systemctl);
        if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
            char error[800];
            snprintf (error, sizeof error, "systemctl restart %s failed: %s", start->unit,
                      *output ? output : "no reason given");
            s_finish (self, start, NULL, error);
        }
        else
            s_check_started (self, start);     //  the unit may have been quicker than systemctl
        return true;
    }
    return false;
}

int64_t
ocf_units_next_deadline (ocf_units_t *self)
{
    int64_t next = NEVER;
    for (size_t i = 0; i < MAX_STARTS; i++)
        if (self->starts[i].name[0] && self->starts[i].deadline < next)
            next = self->starts[i].deadline;
    return next;
}

void
ocf_units_tick (ocf_units_t *self, int64_t now)
{
    for (size_t i = 0; i < MAX_STARTS; i++) {
        start_t *start = &self->starts[i];
        if (!start->name[0] || now < start->deadline)
            continue;
        char error[800];
        if (start->deadline == 0)
            snprintf (error, sizeof error, "cannot start %s: %s", start->unit, start->error);
        else
            snprintf (error, sizeof error, "%s did not exec its backend within %lld ms (journalctl -u %s)", start->unit,
                      (long long) self->timeout_ms, start->unit);
        s_finish (self, start, NULL, error);
    }
}

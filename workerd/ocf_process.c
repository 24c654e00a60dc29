/*  ocf_process: fork/exec in a process group, with an output pipe or a log file.  */
#include "ocf_process.h"
#include "ocf_alloc.h"
#include "ocf_procstat.h"
#include "ocf_signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct _ocf_process_t {
    pid_t pid;
    int output;
    int pidfd;                   //  adopted only
    uint64_t start_time;
};

//  Variables systemd sets for workerd itself; a child inheriting them could notify
//  systemd in workerd's name or log to a stream that is not its own.
static const char *s_unit_variables[] = {
    "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
    "JOURNAL_STREAM", NULL
};

static bool
s_same_key (const char *a, const char *b)
{
    size_t len = strcspn (a, "=");
    return strncmp (a, b, len) == 0 && (b[len] == '=' || b[len] == '\0');
}

//  environ minus the unit's variables and those env overrides, then env.
static char **
s_environment (char *const *env)
{
    size_t count = 0, extra = 0;
    while (environ[count])
        count++;
    while (env && env[extra])
        extra++;
    char **result = ocf_calloc (count + extra + 1, sizeof *result);
    size_t used = 0;
    for (size_t i = 0; i < count; i++) {
        bool drop = false;
        for (const char **name = s_unit_variables; *name && !drop; name++)
            drop = s_same_key (*name, environ[i]);
        for (size_t j = 0; j < extra && !drop; j++)
            drop = s_same_key (env[j], environ[i]);
        if (!drop)
            result[used++] = environ[i];
    }
    for (size_t j = 0; j < extra; j++)
        result[used++] = env[j];
    return result;
}

//  Resolved before fork(): the child may only call async-signal-safe functions.
int
ocf_process_find_program (const char *name, char *path, size_t size, char *error, size_t error_size)
{
    if (strchr (name, '/')) {
        if (access (name, X_OK) != 0) {
            snprintf (error, error_size, "%s: %s", name, strerror (errno));
            return -1;
        }
        snprintf (path, size, "%s", name);
        return 0;
    }
    const char *search = getenv ("PATH");
    char *dirs = ocf_strdup (search && *search ? search : "/usr/local/bin:/usr/bin:/bin");
    char *saveptr = NULL;
    for (char *dir = strtok_r (dirs, ":", &saveptr); dir; dir = strtok_r (NULL, ":", &saveptr)) {
        snprintf (path, size, "%s/%s", *dir ? dir : ".", name);
        struct stat st;
        if (stat (path, &st) == 0 && S_ISREG (st.st_mode) && access (path, X_OK) == 0) {
            free (dirs);
            return 0;
        }
    }
    free (dirs);
    snprintf (error, error_size, "%s: not found in PATH", name);
    return -1;
}

//  The child's side, between fork() and exec(): async-signal-safe calls only. A failure is
//  reported through the status pipe as {stage, errno}.
static void __attribute__ ((noreturn))
s_child (const char *path, char *const *argv, char **envp, const char *workdir, int output, bool detached, int status,
         pid_t parent)
{
    int report[2] = { 0, 0 };
    if (detached)
        setsid ();
    else {
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        if (getppid () != parent)
            _exit (127);
        setpgid (0, 0);
    }
    ocf_signals_reset_for_child ();
    int null = open ("/dev/null", O_RDONLY);
    if (null < 0 || dup2 (null, STDIN_FILENO) < 0 || dup2 (output, STDOUT_FILENO) < 0
    ||  dup2 (output, STDERR_FILENO) < 0) {
        report[1] = errno;
        goto fail;
    }
    if (workdir && *workdir && chdir (workdir) != 0) {
        report[0] = 1;
        report[1] = errno;
        goto fail;
    }
    //  Nothing of workerd's (sockets, the signalfd, curl's connections) may leak into a
    //  backend that runs for days: every other descriptor closes at exec.
    if (close_range (3, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
        for (int fd = 3; fd < 65536; fd++)
            fcntl (fd, F_SETFD, FD_CLOEXEC);
    execve (path, argv, envp);
    report[0] = 2;
    report[1] = errno;
fail:
    if (write (status, report, sizeof report) < 0) {
        //  The parent then sees an exit status 127 without a reason.
    }
    _exit (127);
}

ocf_process_t *
ocf_process_spawn (char *const *argv, char *const *env, const char *workdir, const char *log, char *error,
                   size_t error_size)
{
    char path[4096];
    if (ocf_process_find_program (argv[0], path, sizeof path, error, error_size) != 0)
        return NULL;
    //  output[0]: what workerd reads (-1 for a log file), output[1]: the child's stdout.
    int output[2] = { -1, -1 }, status[2];
    if (log) {
        output[1] = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (output[1] < 0) {
            snprintf (error, error_size, "cannot open %s: %s", log, strerror (errno));
            return NULL;
        }
    }
    else
    if (pipe2 (output, O_CLOEXEC) != 0) {
        snprintf (error, error_size, "pipe: %s", strerror (errno));
        return NULL;
    }
    if (pipe2 (status, O_CLOEXEC) != 0) {
        snprintf (error, error_size, "pipe: %s", strerror (errno));
        if (output[0] >= 0)
            close (output[0]);
        close (output[1]);
        return NULL;
    }
    char **envp = s_environment (env);
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0)
        s_child (path, argv, envp, workdir, output[1], log != NULL, status[1], parent);
    int saved = errno;
    free (envp);
    close (output[1]);
    close (status[1]);
    if (pid < 0) {
        snprintf (error, error_size, "fork: %s", strerror (saved));
        if (output[0] >= 0)
            close (output[0]);
        close (status[0]);
        return NULL;
    }
    //  Also set here: signals sent right after this returns must reach the group. (A detached
    //  child's setsid did it before its exec, which the status pipe waits for.)
    if (!log)
        setpgid (pid, pid);
    //  The status pipe closes at exec (success) or carries why it failed; this takes as
    //  long as the fork and exec themselves.
    int report[2];
    ssize_t got;
    do
        got = read (status[0], report, sizeof report);
    while (got < 0 && errno == EINTR);
    close (status[0]);
    if (got == (ssize_t) sizeof report) {
        waitpid (pid, NULL, 0);
        if (output[0] >= 0)
            close (output[0]);
        snprintf (error, error_size, "%s%s: %s", report[0] == 1 ? "cannot enter " : "cannot execute ",
                  report[0] == 1 ? workdir : path, strerror (report[1]));
        return NULL;
    }
    if (output[0] >= 0)
        fcntl (output[0], F_SETFL, fcntl (output[0], F_GETFL) | O_NONBLOCK);
    ocf_process_t *self = ocf_calloc (1, sizeof *self);
    self->pid = pid;
    self->output = output[0];
    self->pidfd = -1;
    //  Exec'd by now (the status pipe closed): the start time is the backend's for good.
    ocf_procstat_t stat;
    if (ocf_procstat_read (pid, &stat) == 0)
        self->start_time = stat.start_time;
    return self;
}

ocf_process_t *
ocf_process_adopt (pid_t pid, uint64_t start_time, char *error, size_t error_size)
{
    int pidfd = (int) syscall (SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        snprintf (error, error_size, "%s", errno == ESRCH ? "it is gone" : strerror (errno));
        return NULL;
    }
    //  Read after the pidfd exists: a process that matches now is the one the pidfd watches.
    ocf_procstat_t stat;
    if (ocf_procstat_read (pid, &stat) != 0 || stat.state == 'Z') {
        close (pidfd);
        snprintf (error, error_size, "it is gone");
        return NULL;
    }
    if (stat.start_time != start_time) {
        close (pidfd);
        snprintf (error, error_size, "pid %d is now another process (%s, started at tick %llu, not %llu)", (int) pid,
                  stat.comm, (unsigned long long) stat.start_time, (unsigned long long) start_time);
        return NULL;
    }
    ocf_process_t *self = ocf_calloc (1, sizeof *self);
    self->pid = pid;
    self->output = -1;
    self->pidfd = pidfd;
    self->start_time = start_time;
    return self;
}

void
ocf_process_destroy (ocf_process_t **self_p)
{
    ocf_process_t *self = *self_p;
    if (!self)
        return;
    if (self->output >= 0)
        close (self->output);
    if (self->pidfd >= 0)
        close (self->pidfd);
    free (self);
    *self_p = NULL;
}

pid_t
ocf_process_pid (ocf_process_t *self)
{
    return self->pid;
}

uint64_t
ocf_process_start_time (ocf_process_t *self)
{
    return self->start_time;
}

int
ocf_process_pidfd (ocf_process_t *self)
{
    return self->pidfd;
}

int
ocf_process_output_fd (ocf_process_t *self)
{
    return self->output;
}

ssize_t
ocf_process_read (ocf_process_t *self, char *buffer, size_t size)
{
    ssize_t got;
    do
        got = read (self->output, buffer, size);
    while (got < 0 && errno == EINTR);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return -1;
    return got > 0 ? got : 0;
}

int
ocf_process_signal (ocf_process_t *self, int signal_number)
{
    return kill (-self->pid, signal_number);
}

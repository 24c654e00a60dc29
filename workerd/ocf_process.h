/*  ocf_process: one program started by workerd (a backend, nvidia-smi).
    Without a shell: the argv is executed as given, found through PATH when it has no '/'.
    The child gets its own process group (so a backend's workers are signalled with it), an
    empty stdin, default signal handling, and workerd's environment minus systemd's per-unit
    variables (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*, JOURNAL_STREAM) plus the extra variables
    given. Two kinds:
    * attached (a helper such as nvidia-smi): stdout and stderr into one pipe workerd reads
      without blocking; it gets SIGTERM when workerd dies (PR_SET_PDEATHSIG);
    * detached (a backend): a session of its own, stdout and stderr appended to a log file,
      no death signal: it outlives workerd, and writes to a file that nobody has to read
      (a pipe would kill it with SIGPIPE once workerd is gone).
    A third kind is adopted: a detached backend an earlier workerd started, watched through a
    pidfd (readable when it ends) since it is not our child.
    Reaping (waitpid) is the runner's job.  */
#ifndef OCF_PROCESS_H
#define OCF_PROCESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct _ocf_process_t ocf_process_t;

//  Starts argv (NULL-terminated). env: "KEY=VALUE" strings (NULL-terminated, may be NULL);
//  workdir: NULL or "" for workerd's own. Returns NULL with the reason in error when the
//  program cannot be found or executed, or the directory entered: such errors are known
//  before this returns, not reported later as an exit status 127. log: NULL for an attached
//  child, else the file a detached child's output is appended to (created 0640).
ocf_process_t *ocf_process_spawn (char *const *argv, char *const *env, const char *workdir, const char *log,
                                  char *error, size_t error_size);
//  A running process that is not our child: returns NULL with the reason in error when pid
//  is gone or is not the process that started at start_time (a later one with its pid).
ocf_process_t *ocf_process_adopt (pid_t pid, uint64_t start_time, char *error, size_t error_size);
//  Where argv[0] would be found (as spawn looks for it): 0 with path, or -1 with why.
int ocf_process_find_program (const char *name, char *path, size_t size, char *error, size_t error_size);
//  Closes the output pipe or pidfd (stop polling it first). Does not signal or reap the process.
void ocf_process_destroy (ocf_process_t **self_p);
pid_t ocf_process_pid (ocf_process_t *self);
//  Its start time (clock ticks after boot, /proc/PID/stat), 0 when it could not be read.
uint64_t ocf_process_start_time (ocf_process_t *self);
//  An adopted process's pidfd (poll it: readable once the process ended), else -1.
int ocf_process_pidfd (ocf_process_t *self);
//  The read end of the output pipe (non-blocking); -1 for a detached child.
int ocf_process_output_fd (ocf_process_t *self);
//  Reads what is there, up to size bytes: returns the count, 0 at the end of the output
//  (every writer closed it: stop polling), or -1 when nothing is available now.
ssize_t ocf_process_read (ocf_process_t *self, char *buffer, size_t size);
//  Sends a signal to the process group. Returns 0, or -1 when the group is gone.
int ocf_process_signal (ocf_process_t *self, int signal_number);

#endif

/*  ocf_test: what the tests share to exercise the real daemons.
    Temporary node directories, daemons started from the build tree with readiness read from
    our own NOTIFY_SOCKET (the sd_notify contract, as systemd would see it), stopping with
    exit status, deadlines, free TCP ports, and local API calls. A daemon started here dies
    with the test process (PR_SET_PDEATHSIG), so a failing test leaves nothing running.  */
#ifndef OCF_TEST_H
#define OCF_TEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
    char root[256];              //  the node's temporary directory
    char state_dir[300];
    char run_dir[300];
    char config[300];            //  root/ocf.conf (empty unless a test writes it)
    char notify[300];            //  root/notify.sock, our NOTIFY_SOCKET
    int notify_fd;
    int listen_fd;               //  passed to the daemons started for the node as systemd's
                                 //  socket activation does (fd 3, $LISTEN_FDS); -1: none
} ocf_test_node_t;

//  Creates the directories under /tmp/ocf-test-<name>-XXXXXX and an empty config file.
void ocf_test_node_init (ocf_test_node_t *node, const char *name);
//  Kills what is left of the processes started for the test (backends that outlived their
//  workerd included: the test process is their subreaper), then removes the directory
//  (kept when OCF_TEST_KEEP is set). Every child of the test process goes, whichever node
//  started it: call it when the test's nodes are done with, not to stop one node of several.
void ocf_test_node_cleanup (ocf_test_node_t *node);
//  Fails the test from its teardown, where Criterion ignores a failed assertion (the test
//  still counts as passed and the program exits 0): prints why, keeps the work dirs
//  (OCF_TEST_KEEP) and aborts, which Criterion reports as a crash in the teardown and ctest
//  as a failure.
void ocf_test_teardown_fail (const char *format, ...) __attribute__ ((format (printf, 1, 2), noreturn));
//  Appends text to the node's config file.
void ocf_test_node_config (ocf_test_node_t *node, const char *text);

//  Path of a program built by this tree ("ocf-tabled", "ocfctl", ...); a path (with a '/') is
//  taken as it is, so that a benchmark can run another build's daemon beside this one's.
const char *ocf_test_bin (const char *program);
//  Starts a daemon for the node: -c node->config plus state_dir/run_dir and extra
//  "--set" arguments (NULL-terminated, may be NULL); stderr goes to root/<program>.log.
//  Waits up to timeout_ms for READY=1. Returns the pid, or -1 (the log says why).
pid_t ocf_test_start (ocf_test_node_t *node, const char *program, const char *const *sets, int timeout_ms);
//  Same, without waiting for readiness. Both pass node->listen_fd when it is set.
pid_t ocf_test_spawn (ocf_test_node_t *node, const char *program, const char *const *sets);
//  Runs any program (argv[0] a path, or a name found in PATH) with stdin from /dev/null,
//  stdout and stderr appended to log and NOTIFY_SOCKET set to notify (unset when NULL); it
//  dies with the test process. Returns its pid.
pid_t ocf_test_exec (const char *const *argv, const char *log, const char *notify);
//  Waits for a notification line (e.g. "READY=1", "STOPPING=1") on the node's notify socket.
bool ocf_test_wait_notify (ocf_test_node_t *node, const char *line, int timeout_ms);
//  Sends signal and waits up to timeout_ms for the exit; returns the wait status or -1.
int ocf_test_stop (pid_t pid, int signal, int timeout_ms);

//  Calls a local daemon's API; returns the reply body (caller decrefs) and whether it was OK.
json_t *ocf_test_call (ocf_test_node_t *node, const char *daemon, const char *verb, json_t *body, bool *ok);
//  Polls cond every few ms until it holds or timeout_ms passes.
bool ocf_test_wait_for (bool (*cond) (void *arg), void *arg, int timeout_ms);
//  The first of `count` consecutive ports free on 127.0.0.1, below the kernel's ephemeral
//  range (where no other program's outgoing connection takes one meanwhile), and not given
//  to this process before; -1 if none.
int ocf_test_free_ports (int count);
//  One such port (aborts if there is none).
int ocf_test_free_port (void);
int64_t ocf_test_now_us (void);
//  Reads a whole file (NULL when it does not exist); caller frees.
char *ocf_test_read_file (const char *path);
//  Runs a shell command, returning its stdout (caller frees) and exit status.
char *ocf_test_run (const char *command, int *status);

//  Another machine for a test: a network namespace whose only way out is a veth pair to
//  this one, a /30 of its own, so that what runs there reaches this machine's daemons from
//  an address that is not loopback.
typedef struct {
    char name[32];               //  for "ip netns exec NAME ..."
    char host_addr[32];          //  this machine's address as the namespace sees it
    char addr[32];               //  the namespace's own
} ocf_test_netns_t;

//  Creates it; skips the test where "ip netns" is not available.
void ocf_test_netns_new (ocf_test_netns_t *netns);
//  Deletes it (and the veth pair with it); nothing when it was never made.
void ocf_test_netns_destroy (ocf_test_netns_t *netns);

//  The resident set (VmRSS) of a process in kB, -1 when it cannot be read.
long ocf_test_rss_kb (pid_t pid);

#endif

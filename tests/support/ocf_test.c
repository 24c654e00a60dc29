/*  ocf_test: shared test support.  */
#include "ocf_test.h"
#include "ocf_client.h"
#include "ocf_procstat.h"
#include "ocf_time.h"

#include <criterion/criterion.h>
#include <stdarg.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

void
ocf_test_node_init (ocf_test_node_t *node, const char *name)
{
    memset (node, 0, sizeof *node);
    node->listen_fd = -1;
    //  Backends outlive the workerd that started them: orphaned, they become our children
    //  (not init's), so that the cleanup finds them.
    prctl (PR_SET_CHILD_SUBREAPER, 1);
    snprintf (node->root, sizeof node->root, "/tmp/ocf-test-%s-XXXXXX", name);
    if (!mkdtemp (node->root))
        abort ();
    snprintf (node->state_dir, sizeof node->state_dir, "%s/state", node->root);
    snprintf (node->run_dir, sizeof node->run_dir, "%s/run", node->root);
    snprintf (node->config, sizeof node->config, "%s/ocf.conf", node->root);
    snprintf (node->notify, sizeof node->notify, "%s/notify.sock", node->root);
    FILE *file = fopen (node->config, "w");
    fclose (file);
    node->notify_fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf (addr.sun_path, sizeof addr.sun_path, "%s", node->notify);
    if (bind (node->notify_fd, (struct sockaddr *) &addr, sizeof addr) != 0)
        abort ();
}

//  Daemons built with sanitizers report to their logs; a report there fails the test.
static void
s_check_logs (ocf_test_node_t *node)
{
    char command[600];
    snprintf (command, sizeof command,
              "grep -l -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' '%s'/*.log 2>/dev/null",
              node->root);
    int status;
    char *found = ocf_test_run (command, &status);
    if (*found)
        ocf_test_teardown_fail ("sanitizer findings in %s", found);
    free (found);
}

void
ocf_test_teardown_fail (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "[FAIL] in the teardown: ");
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
    setenv ("OCF_TEST_KEEP", "1", 1);
    abort ();
}

//  Kills (with their process groups) and reaps the children still there: backends a workerd
//  left running, orphaned and handed to us (PR_SET_CHILD_SUBREAPER). Returns how many.
static int
s_kill_children (void)
{
    int found = 0;
    DIR *proc = opendir ("/proc");
    struct dirent *item;
    while (proc && (item = readdir (proc))) {
        ocf_procstat_t stat;
        pid_t pid = (pid_t) atoi (item->d_name);
        if (pid <= 0 || ocf_procstat_read (pid, &stat) != 0 || stat.ppid != getpid ())
            continue;
        if (stat.pgrp == pid)
            kill (-pid, SIGKILL);
        kill (pid, SIGKILL);
        waitpid (pid, NULL, 0);
        found++;
    }
    if (proc)
        closedir (proc);
    return found;
}

void
ocf_test_node_cleanup (ocf_test_node_t *node)
{
    //  A killed group's members become our children in turn: a few rounds.
    for (int round = 0; round < 5 && s_kill_children (); round++)
        ;
    s_check_logs (node);
    if (node->notify_fd > 0)
        close (node->notify_fd);
    node->notify_fd = -1;
    if (!getenv ("OCF_TEST_KEEP") && node->root[0]) {
        char command[400];
        snprintf (command, sizeof command, "rm -rf '%s'", node->root);
        if (system (command) != 0)
            fprintf (stderr, "cannot remove %s\n", node->root);
    }
}

void
ocf_test_node_config (ocf_test_node_t *node, const char *text)
{
    FILE *file = fopen (node->config, "a");
    fputs (text, file);
    fclose (file);
}

const char *
ocf_test_bin (const char *program)
{
    static __thread char path[512];
    if (strchr (program, '/'))
        return program;
    snprintf (path, sizeof path, "%s/%s", OCF_BIN_DIR, program);
    return path;
}

//  The child's environment as systemd would make it: NOTIFY_SOCKET, and the listening socket
//  as descriptor 3 with $LISTEN_FDS and $LISTEN_PID when listen_fd >= 0.
static pid_t
s_exec (const char *const *argv, const char *log, const char *notify, int listen_fd)
{
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (127);
        int fd = open (log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2 (fd, STDERR_FILENO);
        dup2 (fd, STDOUT_FILENO);
        int null = open ("/dev/null", O_RDONLY);
        dup2 (null, STDIN_FILENO);
        if (notify)
            setenv ("NOTIFY_SOCKET", notify, 1);
        else
            unsetenv ("NOTIFY_SOCKET");
        unsetenv ("LISTEN_FDS");
        unsetenv ("LISTEN_PID");
        if (listen_fd >= 0) {
            //  Last: whatever the opens above took at 3 is already copied where it belongs.
            if (listen_fd == 3 ? fcntl (3, F_SETFD, 0) != 0 : dup2 (listen_fd, 3) != 3)
                _exit (127);
            char self[24];
            snprintf (self, sizeof self, "%ld", (long) getpid ());
            setenv ("LISTEN_FDS", "1", 1);
            setenv ("LISTEN_PID", self, 1);
        }
        execvp (argv[0], (char **) argv);
        _exit (127);
    }
    return pid;
}

pid_t
ocf_test_spawn (ocf_test_node_t *node, const char *program, const char *const *sets)
{
    char state[400], run[400], log[400];
    snprintf (state, sizeof state, "node.state_dir=%s", node->state_dir);
    snprintf (run, sizeof run, "node.run_dir=%s", node->run_dir);
    const char *name = strrchr (program, '/');
    snprintf (log, sizeof log, "%s/%s.log", node->root, name ? name + 1 : program);
    const char *argv[64] = { ocf_test_bin (program), "-c", node->config, "--set", state, "--set", run };
    int argc = 7;
    for (const char *const *set = sets; set && *set && argc < 60; set++) {
        argv[argc++] = "--set";
        argv[argc++] = *set;
    }
    argv[argc] = NULL;
    return s_exec (argv, log, node->notify, node->listen_fd);
}

pid_t
ocf_test_exec (const char *const *argv, const char *log, const char *notify)
{
    return s_exec (argv, log, notify, -1);
}

bool
ocf_test_wait_notify (ocf_test_node_t *node, const char *line, int timeout_ms)
{
    int64_t deadline = ocf_time_mono_ms () + timeout_ms;
    while (true) {
        int64_t left = deadline - ocf_time_mono_ms ();
        if (left <= 0)
            return false;
        struct pollfd item = { node->notify_fd, POLLIN, 0 };
        if (poll (&item, 1, (int) left) <= 0)
            continue;
        char buffer[4096];
        ssize_t got = recv (node->notify_fd, buffer, sizeof buffer - 1, 0);
        if (got <= 0)
            continue;
        buffer[got] = '\0';
        for (char *saveptr = NULL, *part = strtok_r (buffer, "\n", &saveptr); part; part = strtok_r (NULL, "\n", &saveptr))
            if (strcmp (part, line) == 0)
                return true;
    }
}

pid_t
ocf_test_start (ocf_test_node_t *node, const char *program, const char *const *sets, int timeout_ms)
{
    pid_t pid = ocf_test_spawn (node, program, sets);
    if (pid > 0 && !ocf_test_wait_notify (node, "READY=1", timeout_ms)) {
        ocf_test_stop (pid, SIGKILL, 1000);
        return -1;
    }
    return pid;
}

int
ocf_test_stop (pid_t pid, int signal, int timeout_ms)
{
    if (pid <= 0)
        return -1;
    kill (pid, signal);
    int64_t deadline = ocf_time_mono_ms () + timeout_ms;
    int status;
    while (ocf_time_mono_ms () < deadline) {
        pid_t done = waitpid (pid, &status, WNOHANG);
        if (done == pid)
            return status;
        if (done < 0)
            return -1;
        usleep (2000);
    }
    kill (pid, SIGKILL);
    waitpid (pid, &status, 0);
    return -1;
}

json_t *
ocf_test_call (ocf_test_node_t *node, const char *daemon, const char *verb, json_t *body, bool *ok)
{
    char endpoint[400], error[1024];
    snprintf (endpoint, sizeof endpoint, "ipc://%s/%s.api", node->run_dir, daemon);
    ocf_client_t *client = ocf_client_new (endpoint);
    json_t *reply;
    int rc = ocf_client_call (client, verb, body, 5000, &reply, error, sizeof error);
    ocf_client_destroy (&client);
    if (ok)
        *ok = rc == 0;
    return reply;
}

bool
ocf_test_wait_for (bool (*cond) (void *arg), void *arg, int timeout_ms)
{
    int64_t deadline = ocf_time_mono_ms () + timeout_ms;
    do {
        if (cond (arg))
            return true;
        usleep (5000);
    } while (ocf_time_mono_ms () < deadline);
    return cond (arg);
}

static bool
s_port_free (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port),
                                .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    bool free_now = bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
    close (fd);
    return free_now;
}

#define TEST_PORTS_FIRST 20000
#define TEST_PORTS_END   32000          //  the kernel's ephemeral range starts at 32768

int
ocf_test_free_ports (int count)
{
    //  Below the ephemeral range: a port the kernel handed out for bind(0) could be taken by
    //  any outgoing connection of a test running beside this one before our daemon binds it.
    //  A random start per process, so parallel tests rarely meet; then onwards, so that one
    //  process never gets the same port twice before it binds the first.
    static int next;
    if (!next) {
        unsigned seed = (unsigned) getpid () * 2654435761u ^ (unsigned) ocf_time_mono_us ();
        next = TEST_PORTS_FIRST + (int) (seed % (unsigned) (TEST_PORTS_END - TEST_PORTS_FIRST));
    }
    for (int attempt = 0; attempt < 2000; attempt++) {
        if (next + count > TEST_PORTS_END)
            next = TEST_PORTS_FIRST;
        int base = next;
        next += count;
        bool all = true;
        for (int port = base; port < base + count && all; port++)
            all = s_port_free (port);
        if (all)
            return base;
    }
    return -1;
}

int
ocf_test_free_port (void)
{
    int port = ocf_test_free_ports (1);
    if (port < 0)
        abort ();
    return port;
}

int64_t
ocf_test_now_us (void)
{
    return ocf_time_mono_us ();
}

long
ocf_test_rss_kb (pid_t pid)
{
    char path[64], line[256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    long rss = -1;
    while (file && fgets (line, sizeof line, file))
        if (strncmp (line, "VmRSS:", 6) == 0)
            rss = atol (line + 6);
    if (file)
        fclose (file);
    return rss;
}

char *
ocf_test_read_file (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    size_t cap = 4096, len = 0;
    char *data = malloc (cap);
    size_t got;
    while ((got = fread (data + len, 1, cap - len - 1, file)) > 0) {
        len += got;
        if (cap - len < 2)
            data = realloc (data, cap *= 2);
    }
    data[len] = '\0';
    fclose (file);
    return data;
}

char *
ocf_test_run (const char *command, int *status)
{
    FILE *pipe = popen (command, "r");
    if (!pipe) {
        *status = -1;
        return strdup ("");
    }
    size_t cap = 4096, len = 0, got;
    char *data = malloc (cap);
    while ((got = fread (data + len, 1, cap - len - 1, pipe)) > 0) {
        len += got;
        if (cap - len < 2)
            data = realloc (data, cap *= 2);
    }
    data[len] = '\0';
    int rc = pclose (pipe);
    *status = WIFEXITED (rc) ? WEXITSTATUS (rc) : -1;
    return data;
}

//  --------------------------------------------------------------------------
//  Another machine: a network namespace

void
ocf_test_netns_new (ocf_test_netns_t *netns)
{
    int status;
    free (ocf_test_run ("ip netns list", &status));
    if (status != 0)
        cr_skip_test ("'ip netns' is not available here");
    //  A /30 per test process, so that tests running at once do not share addresses.
    int pid = (int) getpid (), net = (pid % 16384) * 4;
    snprintf (netns->name, sizeof netns->name, "ocftest%d", pid);
    snprintf (netns->host_addr, sizeof netns->host_addr, "10.201.%d.%d", net / 256, net % 256 + 1);
    snprintf (netns->addr, sizeof netns->addr, "10.201.%d.%d", net / 256, net % 256 + 2);
    char command[1024];
    snprintf (command, sizeof command,
              "ip netns add %s && ip link add ocft%d type veth peer name eth0 netns %s && ip addr add %s/30 dev ocft%d"
              " && ip link set ocft%d up && ip netns exec %s ip addr add %s/30 dev eth0"
              " && ip netns exec %s ip link set eth0 up && ip netns exec %s ip link set lo up 2>&1",
              netns->name, pid, netns->name, netns->host_addr, pid, pid, netns->name, netns->addr, netns->name,
              netns->name);
    char *output = ocf_test_run (command, &status);
    cr_assert_eq (status, 0, "%s failed: %s", command, output);
    free (output);
}

void
ocf_test_netns_destroy (ocf_test_netns_t *netns)
{
    if (!*netns->name)
        return;
    char command[128];
    snprintf (command, sizeof command, "ip netns del %s 2>/dev/null", netns->name);
    if (system (command) != 0)
        ocf_test_teardown_fail ("could not delete the network namespace %s", netns->name);
    *netns->name = '\0';
}

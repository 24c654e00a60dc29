/*  The real ocf-workerd with the real ocf-tabled and ocf-test-backend processes, over real
    sockets. What tabled holds is read back through its API (GET of this node's row) and,
    for the SQL views, with the sqlite3 command on table.db. Health checks run every
    OCF_TEST_HEALTH_INTERVAL (default 200ms) to keep the suite short; the timing test takes
    OCF_TEST_TIMING_SAMPLES (default 7) samples and reports medians on stderr ("TIMING ...").  */
#include "ocf_client.h"
#include "ocf_procstat.h"
#include "ocf_test.h"
#include "ocf_time.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FIXTURES OCF_SOURCE_DIR "/tests/workerd/fixtures"
#define MAX_BACKENDS 4

static ocf_test_node_t s_node;
static pid_t s_tabled;
static pid_t s_workerd;
static pid_t s_backends[MAX_BACKENDS];
static ocf_client_t *s_client;
static char s_id[64];
static char s_interval[32] = "200ms";
static int64_t s_interval_ms = 200;

//  --------------------------------------------------------------------------
//  Set-up: a node with tabled running; each test writes its services, then starts workerd

static void
s_setup (void)
{
    const char *interval = getenv ("OCF_TEST_HEALTH_INTERVAL");
    if (interval && *interval) {
        snprintf (s_interval, sizeof s_interval, "%s", interval);
        s_interval_ms = atoll (interval) * (strstr (interval, "ms") ? 1 : 1000);
    }
    ocf_test_node_init (&s_node, "workerd");
    s_tabled = ocf_test_start (&s_node, "ocf-tabled", NULL, 10000);
    cr_assert_gt (s_tabled, 0, "ocf-tabled did not report READY=1");
    char endpoint[400];
    snprintf (endpoint, sizeof endpoint, "ipc://%s/tabled.api", s_node.run_dir);
    s_client = ocf_client_new (endpoint);
    json_t *reply;
    char error[256];
    cr_assert_eq (ocf_client_call (s_client, "HELLO", NULL, 5000, &reply, error, sizeof error), 0, "%s", error);
    snprintf (s_id, sizeof s_id, "%s", json_string_value (json_object_get (reply, "id")));
    json_decref (reply);
}

//  STOP: withdraw, stop the backends, exit. Returns the wait status, or -1.
static int
s_stop_workerd (int timeout_ms)
{
    json_t *reply = ocf_test_call (&s_node, "workerd", "STOP", NULL, NULL);
    json_decref (reply);
    int status = ocf_test_stop (s_workerd, 0, timeout_ms);
    s_workerd = 0;
    return status;
}

static void
s_teardown (void)
{
    if (s_workerd > 0)
        s_stop_workerd (10000);
    for (int i = 0; i < MAX_BACKENDS; i++)
        if (s_backends[i] > 0)
            ocf_test_stop (s_backends[i], SIGKILL, 5000);
    ocf_client_destroy (&s_client);
    ocf_test_stop (s_tabled, SIGTERM, 5000);
    ocf_test_node_cleanup (&s_node);
}

TestSuite (workerd_daemon, .init = s_setup, .fini = s_teardown, .timeout = 90);

//  workerd with the test's health interval; nvidia_smi: the program to run (NULL: none).
static void
s_start_workerd (const char *nvidia_smi, const char *extra_set)
{
    char interval[64], smi[512];
    snprintf (interval, sizeof interval, "workerd.health_interval=%s", s_interval);
    snprintf (smi, sizeof smi, "workerd.nvidia_smi=%s", nvidia_smi ? nvidia_smi : "/nonexistent/nvidia-smi");
    const char *sets[] = { interval, smi, extra_set, NULL };
    s_workerd = ocf_test_start (&s_node, "ocf-workerd", sets, 10000);
    cr_assert_gt (s_workerd, 0, "ocf-workerd did not report READY=1");
}

//  An externally managed ocf-test-backend; returns its slot in s_backends.
static int
s_start_backend (int port, const char *const *extra)
{
    int slot = 0;
    while (slot < MAX_BACKENDS && s_backends[slot] > 0)
        slot++;
    cr_assert_lt (slot, MAX_BACKENDS);
    char listen[64], log[400];
    snprintf (listen, sizeof listen, "127.0.0.1:%d", port);
    snprintf (log, sizeof log, "%s/backend-%d.log", s_node.root, port);
    const char *argv[32] = { ocf_test_bin ("ocf-test-backend"), "--listen", listen };
    int argc = 3;
    for (const char *const *arg = extra; arg && *arg && argc < 30; arg++)
        argv[argc++] = *arg;
    argv[argc] = NULL;
    pid_t pid = fork ();
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        int fd = open (log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2 (fd, STDERR_FILENO);
        dup2 (fd, STDOUT_FILENO);
        execv (argv[0], (char **) argv);
        _exit (127);
    }
    s_backends[slot] = pid;
    return slot;
}

static void
s_stop_backend (int slot, int signal_number)
{
    ocf_test_stop (s_backends[slot], signal_number, 5000);
    s_backends[slot] = 0;
}

//  --------------------------------------------------------------------------
//  What tabled and workerd say

static json_t *
s_call (const char *verb, json_t *body)
{
    json_t *reply;
    char error[256];
    if (ocf_client_call (s_client, verb, body, 5000, &reply, error, sizeof error) != 0) {
        json_decref (reply);
        return NULL;
    }
    return reply;
}

//  This node's row in tabled (caller decrefs), or NULL.
static json_t *
s_row (void)
{
    json_t *reply = s_call ("GET", json_pack ("{s:s}", "id", s_id));
    json_t *row = reply ? json_incref (json_object_get (reply, "row")) : NULL;
    json_decref (reply);
    if (json_is_null (row)) {
        json_decref (row);
        return NULL;
    }
    return row;
}

//  The service as registered in tabled (caller decrefs), or NULL when not registered.
static json_t *
s_registered (const char *name)
{
    json_t *row = s_row ();
    json_t *found = NULL, *service;
    size_t index;
    json_array_foreach (json_object_get (row, "services"), index, service)
        if (strcmp (json_string_value (json_object_get (service, "name")), name) == 0)
            found = json_incref (service);
    json_decref (row);
    return found;
}

static bool
s_is_registered (const char *name)
{
    json_t *service = s_registered (name);
    json_decref (service);
    return service != NULL;
}

static json_t *
s_stats (void)
{
    json_t *reply = ocf_test_call (&s_node, "workerd", "STATS", NULL, NULL);
    cr_assert_not_null (reply, "workerd answers STATS");
    return reply;
}

static json_t *
s_service_stats (json_t *stats, const char *name)
{
    return json_object_get (json_object_get (stats, "services"), name);
}

static const char *
s_state (const char *name)
{
    static char state[32];
    json_t *stats = s_stats ();
    snprintf (state, sizeof state, "%s", json_string_value (json_object_get (s_service_stats (stats, name), "state")));
    json_decref (stats);
    return state;
}

static int64_t
s_stat_integer (const char *name, const char *key)
{
    json_t *stats = s_stats ();
    int64_t value = json_integer_value (json_object_get (s_service_stats (stats, name), key));
    json_decref (stats);
    return value;
}

//  Waits until the service's registration in tabled is (or is not) there; returns the time
//  it took in ms, or -1 on timeout. Polls tabled every 2 ms.
static int64_t
s_wait_registered (const char *name, bool registered, int timeout_ms)
{
    int64_t start = ocf_test_now_us ();
    while (ocf_test_now_us () - start < (int64_t) timeout_ms * 1000) {
        if (s_is_registered (name) == registered)
            return (ocf_test_now_us () - start) / 1000;
        usleep (2000);
    }
    return -1;
}

//  Waits until the registration's identity groups, joined by ",", equal groups.
static bool
s_wait_groups (const char *name, const char *groups, int timeout_ms)
{
    int64_t deadline = ocf_time_mono_ms () + timeout_ms;
    char joined[1024] = "";
    do {
        json_t *service = s_registered (name);
        joined[0] = '\0';
        json_t *group;
        size_t index;
        json_array_foreach (json_object_get (service, "identity_group"), index, group)
            snprintf (joined + strlen (joined), sizeof joined - strlen (joined), "%s%s", index ? "," : "",
                      json_string_value (group));
        json_decref (service);
        if (strcmp (joined, groups) == 0)
            return true;
        usleep (10000);
    } while (ocf_time_mono_ms () < deadline);
    cr_log_error ("identity groups of %s: '%s', expected '%s'", name, joined, groups);
    return false;
}

static bool
s_wait_state (const char *name, const char *state, int timeout_ms)
{
    int64_t deadline = ocf_time_mono_ms () + timeout_ms;
    do {
        if (strcmp (s_state (name), state) == 0)
            return true;
        usleep (10000);
    } while (ocf_time_mono_ms () < deadline);
    return false;
}

static char *
s_log (const char *program)
{
    char path[400];
    snprintf (path, sizeof path, "%s/%s.log", s_node.root, program);
    char *text = ocf_test_read_file (path);
    return text ? text : strdup ("");
}

static bool
s_wait_log (const char *program, const char *text, int timeout_ms)
{
    int64_t deadline = ocf_time_mono_ms () + timeout_ms;
    do {
        char *log = s_log (program);
        bool found = strstr (log, text) != NULL;
        free (log);
        if (found)
            return true;
        usleep (10000);
    } while (ocf_time_mono_ms () < deadline);
    return false;
}

//  Alive and not a zombie: what a backend leaves behind is handed to the test process
//  (the subreaper), which may not have reaped it yet.
static bool
s_alive (pid_t pid)
{
    ocf_procstat_t stat;
    return ocf_procstat_read (pid, &stat) == 0 && stat.state != 'Z';
}

static void
s_touch (const char *path)
{
    FILE *file = fopen (path, "w");
    cr_assert_not_null (file);
    fclose (file);
}

static void
s_write (const char *path, const char *text, mode_t mode)
{
    char temporary[600];
    snprintf (temporary, sizeof temporary, "%s.tmp", path);
    FILE *file = fopen (temporary, "w");
    cr_assert_not_null (file);
    fputs (text, file);
    fclose (file);
    chmod (temporary, mode);
    cr_assert_eq (rename (temporary, path), 0);
}

//  A backend config section launched by workerd; returns the port.
static int
s_launched_service (const char *name, const char *backend_flags, const char *keys)
{
    int port = ocf_test_free_port ();
    char section[2048];
    snprintf (section, sizeof section,
              "[service.%s]\ncommand = %s --listen 127.0.0.1:%d --name %s %s\nport = %d\n"
              "restart_delay = 200ms\nrestart_delay_max = 1s\nstop_timeout = 2s\n%s\n",
              name, ocf_test_bin ("ocf-test-backend"), port, name, backend_flags, port, keys ? keys : "");
    ocf_test_node_config (&s_node, section);
    return port;
}

static int
s_compare (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

//  --------------------------------------------------------------------------
//  Launched backends

Test (workerd_daemon, a_slow_backend_is_registered_only_once_healthy)
{
    s_launched_service ("llm", "--model m1 --startup-delay-ms 2000", "models_path = /v1/models\nmax_inflight = 16");
    s_start_workerd (NULL, NULL);
    int64_t started = ocf_time_mono_ms ();
    //  Loading: checked and failing, never registered.
    while (ocf_time_mono_ms () - started < 1500) {
        cr_assert_not (s_is_registered ("llm"), "registered %lld ms after start, while loading",
                       (long long) (ocf_time_mono_ms () - started));
        usleep (20000);
    }
    cr_assert_str_eq (s_state ("llm"), "starting");
    cr_assert_gt (s_stat_integer ("llm", "health_failures"), 0, "the loading backend was checked");
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0, "registered once healthy");
    cr_assert_geq (ocf_time_mono_ms () - started, 2000 - 100, "not before the backend answered its health check");
    json_t *service = s_registered ("llm");
    json_t *expected_load = json_pack ("{s:i}", "max_inflight", 16);
    cr_assert_str_eq (json_string_value (json_object_get (service, "status")), "ready");
    cr_assert_str_eq (json_string_value (json_array_get (json_object_get (service, "identity_group"), 0)), "model=m1");
    cr_assert (json_equal (json_object_get (service, "load"), expected_load));
    json_decref (expected_load);
    json_decref (service);
    cr_assert_str_eq (s_state ("llm"), "healthy");
    //  Its output is in workerd's log, line by line, under its name.
    char *log = s_log ("ocf-workerd");
    cr_assert (strstr (log, "llm: ocf-test-backend llm listening on"), "backend output logged with its name");
    free (log);
    //  A CPU host: no nvidia-smi, so an empty GPU list, CPUs and memory from /proc.
    json_t *row = s_row ();
    json_t *hardware = json_object_get (row, "hardware");
    cr_assert_eq (json_array_size (json_object_get (hardware, "gpus")), 0);
    cr_assert (json_is_array (json_object_get (hardware, "gpus")));
    cr_assert_eq (json_integer_value (json_object_get (hardware, "cpus")), sysconf (_SC_NPROCESSORS_ONLN));
    cr_assert_gt (json_integer_value (json_object_get (hardware, "memory_mb")), 0);
    json_decref (row);
}

Test (workerd_daemon, a_killed_backend_is_withdrawn_and_restarted)
{
    s_launched_service ("llm", "--model m1", "identity_group = model=m1");
    s_start_workerd (NULL, NULL);
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    int64_t pid = s_stat_integer ("llm", "pid");
    cr_assert_gt (pid, 0);
    cr_assert_eq (kill ((pid_t) pid, SIGKILL), 0);
    int64_t withdrawn = s_wait_registered ("llm", false, 5000);
    cr_assert_geq (withdrawn, 0, "withdrawn when the backend died");
    cr_assert_leq (withdrawn, 1000 + s_interval_ms, "failed -> withdrawn took %lld ms", (long long) withdrawn);
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0, "registered again after the restart");
    cr_assert_eq (s_stat_integer ("llm", "restarts"), 1);
    cr_assert_neq (s_stat_integer ("llm", "pid"), pid, "a new process");
    cr_assert_eq (kill ((pid_t) pid, 0), -1, "the old one is gone (and reaped)");
}

Test (workerd_daemon, a_crash_loop_stops_at_the_limit)
{
    int port = ocf_test_free_port ();
    char section[512];
    snprintf (section, sizeof section, "[service.broken]\ncommand = /bin/sh -c 'echo cannot load the model >&2; exit 3'\n"
              "port = %d\nrestart_delay = 100ms\nrestart_delay_max = 400ms\nrestart_max = 3\n", port);
    ocf_test_node_config (&s_node, section);
    s_start_workerd (NULL, NULL);
    cr_assert (s_wait_state ("broken", "failed", 10000), "gave up");
    json_t *stats = s_stats ();
    json_t *broken = s_service_stats (stats, "broken");
    cr_assert_eq (json_integer_value (json_object_get (broken, "restarts")), 3, "restart_max restarts, then no more");
    cr_assert_eq (json_integer_value (json_object_get (broken, "last_exit_status")), 3 << 8);
    cr_assert_eq (json_integer_value (json_object_get (broken, "registrations")), 0);
    json_decref (stats);
    usleep (1000 * 1000);
    cr_assert_eq (s_stat_integer ("broken", "restarts"), 3, "still given up a second later");
    char *log = s_log ("ocf-workerd");
    cr_assert (strstr (log, "broken: cannot load the model"), "its last words are logged");
    cr_assert (strstr (log, "broken: crash loop: 3 restarts"), "%s", log);
    free (log);
}

Test (workerd_daemon, a_missing_program_is_a_failed_start)
{
    ocf_test_node_config (&s_node, "[service.ghost]\ncommand = /nonexistent/vllm serve\nport = 1\nrestart_max = 1\n"
                                    "restart_delay = 100ms\n");
    s_start_workerd (NULL, NULL);
    cr_assert (s_wait_state ("ghost", "failed", 5000));
    json_t *stats = s_stats ();
    const char *error = json_string_value (json_object_get (s_service_stats (stats, "ghost"), "last_error"));
    cr_assert (error && strstr (error, "/nonexistent/vllm: No such file or directory"), "%s", error);
    json_decref (stats);
}

Test (workerd_daemon, models_added_to_a_backend_become_identity_groups)
{
    char models[400];
    snprintf (models, sizeof models, "%s/models.txt", s_node.root);
    s_write (models, "m1\n", 0644);
    char flags[600];
    snprintf (flags, sizeof flags, "--models-file %s", models);
    s_launched_service ("llm", flags, "models_path = /v1/models\nidentity_group = tier=gold");
    s_start_workerd (NULL, NULL);
    cr_assert (s_wait_groups ("llm", "tier=gold,model=m1", 5000));
    s_write (models, "m1\nm2\n", 0644);
    cr_assert (s_wait_groups ("llm", "tier=gold,model=m1,model=m2", 5000), "a model added appears");
    s_write (models, "m2\n", 0644);
    cr_assert (s_wait_groups ("llm", "tier=gold,model=m2", 5000), "a model removed disappears");
}

Test (workerd_daemon, stop_withdraws_before_stopping_the_backends)
{
    //  The backend runs under a shell that, when workerd's SIGTERM reaches it, asks tabled
    //  for this node's row: by then the service must be gone.
    int port = ocf_test_free_port ();
    char script[600], captured[600], request[600], backend[512], ocfctl[512], text[4096];
    snprintf (script, sizeof script, "%s/backend.sh", s_node.root);
    snprintf (captured, sizeof captured, "%s/row-at-sigterm.json", s_node.root);
    snprintf (request, sizeof request, "%s/get.json", s_node.root);
    snprintf (backend, sizeof backend, "%s", ocf_test_bin ("ocf-test-backend"));
    snprintf (ocfctl, sizeof ocfctl, "%s", ocf_test_bin ("ocfctl"));
    json_t *get = json_pack ("{s:s}", "id", s_id);
    json_dump_file (get, request, 0);
    json_decref (get);
    snprintf (text, sizeof text,
              "#!/bin/sh\n"
              "'%s' --listen 127.0.0.1:%d --name wrapped &\n"
              "child=$!\n"
              "on_term () {\n"
              "    '%s' -r '%s' GET \"$(cat '%s')\" > '%s.tmp' 2>&1\n"
              "    mv '%s.tmp' '%s'\n"
              "    kill $child\n"
              "    exit 0\n"
              "}\n"
              "trap on_term TERM\n"
              "wait $child\n",
              backend, port, ocfctl, s_node.run_dir, request, captured, captured, captured);
    s_write (script, text, 0755);
    char section[1024];
    snprintf (section, sizeof section, "[service.llm]\ncommand = /bin/sh %s\nport = %d\nidentity_group = model=m\n"
              "stop_timeout = 5s\n", script, port);
    ocf_test_node_config (&s_node, section);
    s_start_workerd (NULL, NULL);
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    pid_t shell = (pid_t) s_stat_integer ("llm", "pid");
    int status = s_stop_workerd (10000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "clean exit (status %d)", status);
    cr_assert (ocf_test_wait_notify (&s_node, "STOPPING=1", 1000));
    char *row = ocf_test_read_file (captured);
    cr_assert_not_null (row, "the backend got SIGTERM and asked tabled");
    json_t *reply = json_loads (row, 0, NULL);
    cr_assert_not_null (json_object_get (reply, "row"), "%s", row);
    cr_assert_eq (json_array_size (json_object_get (json_object_get (reply, "row"), "services")), 0,
                  "already withdrawn when the backend was told to stop: %s", row);
    json_decref (reply);
    free (row);
    cr_assert_eq (kill (shell, 0), -1, "the backend is gone");
    char *log = s_log ("ocf-workerd");
    char *withdrawn = strstr (log, "every service is withdrawn from tabled");
    char *terminated = strstr (log, "llm: sending SIGTERM");
    cr_assert (withdrawn && terminated && withdrawn < terminated, "withdrawal logged before SIGTERM");
    free (log);
}

Test (workerd_daemon, backend_environment_and_process_group)
{
    //  The shell prints what the backend gets, leaves a child in its process group, then
    //  becomes the backend.
    int port = ocf_test_free_port ();
    char straggler[400], section[2048];
    snprintf (straggler, sizeof straggler, "%s/straggler.pid", s_node.root);
    snprintf (section, sizeof section,
              "[service.llm]\n"
              "command = /bin/sh -c 'echo \"env: CUDA=$CUDA_VISIBLE_DEVICES FOO=$FOO\n"
              "    NOTIFY=${NOTIFY_SOCKET:-unset} PWD=$(pwd)\"; sleep 1000 & echo $! > %s;\n"
              "    exec %s --listen 127.0.0.1:%d'\n"
              "env = FOO=bar\ngpus = 1,3\nworkdir = %s\nport = %d\nidentity_group = model=m\nrestart = no\n",
              straggler, ocf_test_bin ("ocf-test-backend"), port, s_node.state_dir, port);
    ocf_test_node_config (&s_node, section);
    s_start_workerd (NULL, NULL);
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    char expected[600];
    snprintf (expected, sizeof expected, "llm: env: CUDA=1,3 FOO=bar NOTIFY=unset PWD=%s", s_node.state_dir);
    char *log = s_log ("ocf-workerd");
    cr_assert (strstr (log, expected), "'%s' not in the log", expected);
    free (log);
    char *text = ocf_test_read_file (straggler);
    cr_assert_not_null (text);
    pid_t sleeper = (pid_t) atoi (text);
    free (text);
    cr_assert_eq (kill (sleeper, 0), 0, "the backend's child runs");
    cr_assert_eq (kill ((pid_t) s_stat_integer ("llm", "pid"), SIGKILL), 0);
    int64_t deadline = ocf_time_mono_ms () + 5000;
    while (s_alive (sleeper) && ocf_time_mono_ms () < deadline)
        usleep (10000);
    cr_assert_not (s_alive (sleeper), "what the backend left in its process group went with it");
}

Test (workerd_daemon, a_backend_ignoring_sigterm_is_killed_after_stop_timeout)
{
    int port = ocf_test_free_port ();
    char section[1024];
    snprintf (section, sizeof section, "[service.stubborn]\ncommand = /bin/sh -c 'trap \"\" TERM; exec %s --listen 127.0.0.1:%d'\n"
              "port = %d\nstop_timeout = 1s\n", ocf_test_bin ("ocf-test-backend"), port, port);
    ocf_test_node_config (&s_node, section);
    s_start_workerd (NULL, NULL);
    cr_assert_geq (s_wait_registered ("stubborn", true, 5000), 0);
    int64_t start = ocf_time_mono_ms ();
    int status = s_stop_workerd (10000);
    int64_t took = ocf_time_mono_ms () - start;
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d", status);
    cr_assert_geq (took, 1000, "waited stop_timeout");
    cr_assert_lt (took, 3000);
    char *log = s_log ("ocf-workerd");
    cr_assert (strstr (log, "stubborn: still running 1.0 s after SIGTERM, sending SIGKILL to its process group"));
    cr_assert (strstr (log, "stubborn: backend killed by Killed"));
    free (log);
}

//  --------------------------------------------------------------------------
//  Backends outlive workerd

//  A backend that also writes a line every 50 ms from a process of its group: output that
//  must not kill it (SIGPIPE) once workerd is gone. Returns the port.
static int
s_chatty_service (const char *name, int port, const char *keys)
{
    if (!port)
        port = ocf_test_free_port ();
    char section[2048];
    snprintf (section, sizeof section,
              "[service.%s]\ncommand = /bin/sh -c '(while sleep 0.05; do echo tick; done) &\n"
              "    exec %s --listen 127.0.0.1:%d --name %s --model m1'\n"
              "port = %d\nmodels_path = /v1/models\nrestart_delay = 200ms\nstop_timeout = 2s\n%s\n",
              name, ocf_test_bin ("ocf-test-backend"), port, name, port, keys ? keys : "");
    ocf_test_node_config (&s_node, section);
    return port;
}

static off_t
s_size (const char *path)
{
    struct stat info;
    return stat (path, &info) == 0 ? info.st_size : -1;
}

//  workerd ended by signal_number: the backend runs on, writing to its log file, and its
//  service stays registered.
static pid_t
s_check_outlives (int signal_number)
{
    s_chatty_service ("llm", 0, NULL);
    s_start_workerd (NULL, NULL);
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    cr_assert (s_wait_log ("ocf-workerd", "llm: tick", 5000), "its output reaches workerd's log while workerd runs");
    pid_t backend = (pid_t) s_stat_integer ("llm", "pid");
    int status = ocf_test_stop (s_workerd, signal_number, 5000);
    s_workerd = 0;
    if (signal_number == SIGTERM)
        cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "clean exit (status %d)", status);
    else
        cr_assert (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
    char log[400];
    snprintf (log, sizeof log, "%s/backends/llm.log", s_node.state_dir);
    off_t before = s_size (log);
    cr_assert_geq (before, 0, "the backend's output is in %s", log);
    usleep (1000 * 1000);
    cr_assert (s_alive (backend), "the backend outlives workerd");
    cr_assert_gt (s_size (log), before, "and goes on writing its output (no SIGPIPE)");
    cr_assert (s_is_registered ("llm"), "its service stays registered");
    char *text = s_log ("ocf-workerd");
    if (signal_number == SIGTERM) {
        cr_assert (strstr (text, "exiting with 1 backend left running"), "%s", text);
        cr_assert_null (strstr (text, "withdrawing"), "nothing withdrawn: %s", text);
    }
    free (text);
    return backend;
}

static bool
s_adopted (void *arg)
{
    json_t *stats = ocf_test_call (&s_node, "workerd", "STATS", NULL, NULL);
    json_t *service = s_service_stats (stats, "llm");
    bool adopted = json_is_true (json_object_get (service, "adopted"))
                && json_integer_value (json_object_get (service, "health_checks")) >= 3;
    json_decref (stats);
    return adopted;
}

//  A workerd that ended by signal_number is started again: it adopts the running backend,
//  which stays registered without a single change to the row, then watches it.
static void
s_check_adoption (int signal_number)
{
    pid_t backend = s_check_outlives (signal_number);
    json_t *before = s_row ();
    s_start_workerd (NULL, NULL);
    cr_assert (ocf_test_wait_for (s_adopted, NULL, 5000), "adopted and checked");
    cr_assert_eq (s_stat_integer ("llm", "pid"), backend, "the same backend");
    cr_assert_str_eq (s_state ("llm"), "healthy");
    cr_assert_eq (s_stat_integer ("llm", "withdrawals"), 0);
    json_t *after = s_row ();
    //  The new workerd reports the hardware as it measures it now (memory in use moves), which
    //  may make a version of the row; nothing else changed: no withdrawal, no new registration.
    bool new_version = !json_equal (json_object_get (before, "version"), json_object_get (after, "version"));
    cr_assert (!new_version || !json_equal (json_object_get (before, "hardware"), json_object_get (after, "hardware")),
               "a new version of the row, with the same hardware");
    const char *moving[] = { "hardware", "version", "sig", NULL };
    for (const char **key = moving; *key; key++) {
        json_object_del (before, *key);
        json_object_del (after, *key);
    }
    char *was = json_dumps (before, JSON_SORT_KEYS), *is = json_dumps (after, JSON_SORT_KEYS);
    cr_assert (json_equal (before, after), "the row changed beyond its hardware: %s, now %s", was, is);
    free (was);
    free (is);
    json_decref (before);
    json_decref (after);
    char *log = s_log ("ocf-workerd");
    cr_assert (strstr (log, "llm: adopted the running backend; it stays registered"), "%s", log);
    char *adopted = strstr (log, "1 running backend adopted, ");
    cr_assert_not_null (adopted);
    long took = atol (adopted + strlen ("1 running backend adopted, "));
    cr_log_info ("adoption %ld ms after workerd started", took);
    cr_assert_leq (took, 1000, "adopted %ld ms after workerd started", took);
    free (log);
    //  Not its child, still watched: a death is seen at once, and it is restarted.
    cr_assert_eq (kill (backend, SIGKILL), 0);
    cr_assert_geq (s_wait_registered ("llm", false, 2000), 0, "withdrawn when the adopted backend died");
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0, "registered again after the restart");
    cr_assert_neq (s_stat_integer ("llm", "pid"), backend);
    log = s_log ("ocf-workerd");
    cr_assert (strstr (log, "llm: backend ended (exit status unknown: not a child of workerd)"), "%s", log);
    free (log);
}

Test (workerd_daemon, a_workerd_restarted_after_sigterm_adopts_the_backend)
{
    s_check_adoption (SIGTERM);
}

Test (workerd_daemon, a_workerd_restarted_after_kill_9_adopts_the_backend)
{
    s_check_adoption (SIGKILL);
}

Test (workerd_daemon, a_backend_that_died_meanwhile_is_started_again)
{
    pid_t backend = s_check_outlives (SIGKILL);
    cr_assert_eq (kill (backend, SIGKILL), 0);
    usleep (100 * 1000);
    s_start_workerd (NULL, NULL);
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    cr_assert_neq (s_stat_integer ("llm", "pid"), backend);
    char expected[200];
    snprintf (expected, sizeof expected, "llm: the backend recorded as pid %d is not running (it is gone); starting it",
              (int) backend);
    char *log = s_log ("ocf-workerd");
    cr_assert (strstr (log, expected), "%s", log);
    free (log);
}

Test (workerd_daemon, a_record_that_does_not_match_is_discarded)
{
    //  Damaged, then naming a live process that is not the backend (pid reused).
    s_chatty_service ("llm", 0, NULL);
    char record[400], text[600];
    snprintf (record, sizeof record, "%s/backends", s_node.state_dir);
    mkdir (s_node.state_dir, 0750);
    mkdir (record, 0750);
    snprintf (record, sizeof record, "%s/backends/llm.json", s_node.state_dir);
    s_write (record, "{\"version\": 1, \"pid\": ", 0640);
    s_start_workerd (NULL, NULL);
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    cr_assert (s_wait_log ("ocf-workerd", "backends/llm.json is not a backend record: not JSON", 1000));
    cr_assert_eq (ocf_test_stop (s_workerd, SIGKILL, 5000) & 0x7f, SIGKILL);
    s_workerd = 0;
    //  Now the record names tabled, whose start time is not the recorded one.
    char *json = ocf_test_read_file (record);
    cr_assert_not_null (json, "the new backend is recorded");
    json_t *parsed = json_loads (json, 0, NULL);
    free (json);
    pid_t backend = (pid_t) json_integer_value (json_object_get (parsed, "pid"));
    json_object_set_new (parsed, "pid", json_integer (s_tabled));
    json_dump_file (parsed, record, 0);
    json_decref (parsed);
    kill (-backend, SIGKILL);    //  the port must be free for the next one
    s_start_workerd (NULL, NULL);
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    snprintf (text, sizeof text, "llm: the backend recorded as pid %d is not running (pid %d is now another process "
              "(ocf-tabled, started at tick", (int) s_tabled, (int) s_tabled);
    cr_assert (s_wait_log ("ocf-workerd", text, 1000), "%s", text);
    cr_assert_eq (kill (s_tabled, 0), 0, "tabled was left alone");
}

Test (workerd_daemon, a_backend_started_with_another_command_is_replaced)
{
    int port = s_chatty_service ("llm", 0, NULL);
    s_start_workerd (NULL, NULL);
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    pid_t old = (pid_t) s_stat_integer ("llm", "pid");
    cr_assert_eq (ocf_test_stop (s_workerd, SIGTERM, 5000), 0);
    s_workerd = 0;
    FILE *file = fopen (s_node.config, "w");
    fclose (file);
    s_chatty_service ("llm", port, "env = MODEL_VERSION=2");
    s_start_workerd (NULL, NULL);
    cr_assert (s_wait_log ("ocf-workerd", "llm: the running backend was started with another command, env, gpus or "
                           "workdir than configured now: stopping it, then starting the configured one", 2000));
    cr_assert (s_wait_state ("llm", "healthy", 5000));
    cr_assert_neq (s_stat_integer ("llm", "pid"), old);
    cr_assert_not (s_alive (old), "the outdated backend is gone");
    cr_assert_eq (s_stat_integer ("llm", "restarts"), 0);
}

Test (workerd_daemon, sigterm_leaves_the_backend_running_and_registered)
{
    s_check_outlives (SIGTERM);
}


Test (workerd_daemon, kill_9_leaves_the_backend_running_and_registered)
{
    s_check_outlives (SIGKILL);
}

//  Under a load of streamed completions through ocf-proxyd, workerd killed with -9 and
//  started again, then stopped with SIGTERM and started again: not a request fails, not a
//  stream is cut, the backend keeps its pid, and the adoption takes at most 1 s from the
//  new workerd's start (printed: "TIMING adoption ...").
Test (workerd_daemon, restarts_of_workerd_under_streamed_load_lose_nothing, .timeout = 120)
{
    enum { STREAMS = 8, TOKENS = 30 };
    s_launched_service ("llm", "--model m1 --threads 2 --tokens 30 --token-delay-ms 50", "models_path = /v1/models");
    int api = ocf_test_free_port ();
    char listen[64];
    snprintf (listen, sizeof listen, "proxyd.listen=127.0.0.1:%d", api);
    const char *proxyd_sets[] = { listen, "proxyd.fabric_listen=off", NULL };
    pid_t proxyd = ocf_test_start (&s_node, "ocf-proxyd", proxyd_sets, 10000);
    cr_assert_gt (proxyd, 0);
    s_start_workerd (NULL, NULL);
    char command[600], url[200];
    snprintf (command, sizeof command, "curl -sf http://127.0.0.1:%d/v1/models", api);
    int64_t deadline = ocf_time_mono_ms () + 10000;
    bool routable = false;
    while (!routable && ocf_time_mono_ms () < deadline) {
        int status;
        char *models = ocf_test_run (command, &status);
        routable = status == 0 && models && strstr (models, "\"m1\"");
        free (models);
        usleep (50000);
    }
    cr_assert (routable, "proxyd routes to the backend");
    pid_t backend = (pid_t) s_stat_integer ("llm", "pid");
    snprintf (url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", api);
    const int signals[] = { SIGKILL, SIGTERM };
    for (int round = 0; round < 2; round++) {
        pid_t clients[STREAMS];
        char outputs[STREAMS][400];
        for (int i = 0; i < STREAMS; i++) {
            snprintf (outputs[i], sizeof outputs[i], "%s/stream-%d-%d", s_node.root, round, i);
            const char *argv[] = { "curl", "-sSNf", "--max-time", "30", "-o", outputs[i], url, "-H",
                                   "Content-Type: application/json", "-d",
                                   "{\"model\": \"m1\", \"stream\": true, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}",
                                   NULL };
            char log[400];
            snprintf (log, sizeof log, "%s.log", outputs[i]);
            clients[i] = ocf_test_exec (argv, log, NULL);
        }
        usleep (300 * 1000);     //  the streams are under way
        ocf_test_stop (s_workerd, signals[round], 5000);
        int64_t started = ocf_test_now_us ();
        s_start_workerd (NULL, NULL);
        cr_assert (ocf_test_wait_for (s_adopted, NULL, 5000), "adopted");
        int64_t outside_ms = (ocf_test_now_us () - started) / 1000;
        char *log = s_log ("ocf-workerd");
        char *line = NULL, *found = log;
        while ((found = strstr (found, "1 running backend adopted, ")))
            line = found++;
        cr_assert_not_null (line);
        long inside_ms = atol (line + strlen ("1 running backend adopted, "));
        free (log);
        fprintf (stderr, "TIMING adoption after %s: %ld ms after workerd started (its log), %lld ms from its "
                 "start to STATS showing it adopted and checked 3 times\n", round ? "SIGTERM" : "kill -9", inside_ms,
                 (long long) outside_ms);
        cr_assert_leq (inside_ms, 1000, "adoption within 1 s of workerd's start");
        for (int i = 0; i < STREAMS; i++) {
            int status = ocf_test_stop (clients[i], 0, 30000);
            cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "request %d did not fail (status %d)", i, status);
            char *stream = ocf_test_read_file (outputs[i]);
            cr_assert_not_null (stream);
            int tokens = 0;
            for (char *at = stream; (at = strstr (at, "\"content\"")); at++)
                tokens++;
            cr_assert_geq (tokens, TOKENS, "stream %d not cut: %d tokens", i, tokens);
            cr_assert (strstr (stream, "data: [DONE]"), "stream %d ended with [DONE]", i);
            free (stream);
        }
        cr_assert_eq (s_stat_integer ("llm", "pid"), backend, "the same backend");
        cr_assert (s_is_registered ("llm"));
    }
    ocf_test_stop (proxyd, SIGTERM, 5000);
}

//  launcher = systemd, with tests/workerd/fixtures/systemctl standing in for systemctl: it
//  runs the unit's ExecStart (the real ocf-backend-exec) detached, as systemd would.
static void
s_fake_systemd (void)
{
    char path[2048];
    snprintf (path, sizeof path, "%s/systemctl:%s", FIXTURES, getenv ("PATH"));
    setenv ("PATH", path, 1);
    setenv ("OCF_TEST_STATE_DIR", s_node.state_dir, 1);
    setenv ("OCF_TEST_BACKEND_EXEC", ocf_test_bin ("ocf-backend-exec"), 1);
}

Test (workerd_daemon, backends_in_systemd_units_are_started_watched_and_adopted)
{
    s_fake_systemd ();
    s_launched_service ("llm", "--model m1", "identity_group = model=m1\nenv = FOO=bar");
    s_start_workerd (NULL, "workerd.launcher=systemd");
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    pid_t backend = (pid_t) s_stat_integer ("llm", "pid");
    char expected[300];
    snprintf (expected, sizeof expected, "llm: started %s in ocf-backend@llm.service (pid %d)",
              ocf_test_bin ("ocf-test-backend"), (int) backend);
    cr_assert (s_wait_log ("ocf-workerd", expected, 1000), "%s", expected);
    char environ_path[64];
    snprintf (environ_path, sizeof environ_path, "/proc/%d/environ", (int) backend);
    FILE *file = fopen (environ_path, "r");
    char environment[65536];
    size_t got = fread (environment, 1, sizeof environment - 1, file);
    fclose (file);
    bool foo = false;
    for (size_t at = 0; at < got; at += strlen (environment + at) + 1)
        foo |= strcmp (environment + at, "FOO=bar") == 0;
    cr_assert (foo, "the unit's backend got the service's env");
    //  A restart of workerd adopts it.
    cr_assert_eq (ocf_test_stop (s_workerd, SIGTERM, 5000), 0);
    s_start_workerd (NULL, "workerd.launcher=systemd");
    cr_assert (ocf_test_wait_for (s_adopted, NULL, 5000));
    cr_assert_eq (s_stat_integer ("llm", "pid"), backend);
    cr_assert (s_is_registered ("llm"));
    //  Its death is seen through the pidfd, and a new unit start follows.
    cr_assert_eq (kill (backend, SIGKILL), 0);
    cr_assert_geq (s_wait_registered ("llm", false, 2000), 0);
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    cr_assert_neq (s_stat_integer ("llm", "pid"), backend);
}

//  A reload that changes the model with swap = beside: the new backend in a second unit,
//  ocf-backend@llm.swap, on swap_port; the old unit's backend stopped once drained (no proxyd
//  here to count what is in flight: drain_timeout, 1 s, ends the drain).
Test (workerd_daemon, a_swap_beside_under_systemd_starts_the_new_backend_in_a_second_unit)
{
    s_fake_systemd ();
    int port = ocf_test_free_port (), swap_port = ocf_test_free_port ();
    char section[2048];
    snprintf (section, sizeof section, "[workerd]\ndrain_timeout = 1s\n[service.llm]\ncommand = %s --listen "
              "127.0.0.1:{port} --name old --model m1\nport = %d\nswap = beside\nswap_port = %d\n"
              "models_path = /v1/models\nstop_timeout = 2s\n", ocf_test_bin ("ocf-test-backend"), port, swap_port);
    ocf_test_node_config (&s_node, section);
    s_start_workerd (NULL, "workerd.launcher=systemd");
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    pid_t old = (pid_t) s_stat_integer ("llm", "pid");
    char *text = ocf_test_read_file (s_node.config);
    char *at = strstr (text, "--name old --model m1");
    cr_assert_not_null (at);
    memcpy (at, "--name new --model m2", strlen ("--name new --model m2"));
    s_write (s_node.config, text, 0644);
    free (text);
    cr_assert_eq (kill (s_workerd, SIGHUP), 0);
    char expected[600];
    snprintf (expected, sizeof expected, "llm: started %s in ocf-backend@llm.swap.service", ocf_test_bin ("ocf-test-backend"));
    cr_assert (s_wait_log ("ocf-workerd", expected, 5000), "%s", expected);
    cr_assert (s_wait_log ("ocf-workerd", "llm: swap done in", 10000));
    cr_assert_eq (s_stat_integer ("llm", "port"), swap_port);
    cr_assert_neq (s_stat_integer ("llm", "pid"), old);
    cr_assert_not (s_alive (old), "the old backend is gone");
    json_t *service = s_registered ("llm");
    cr_assert_not_null (service);
    cr_assert_eq (json_integer_value (json_object_get (service, "port")), swap_port);
    char *groups = json_dumps (json_object_get (service, "identity_group"), JSON_COMPACT);
    cr_assert_str_eq (groups, "[\"model=m2\"]");
    free (groups);
    json_decref (service);
}

Test (workerd_daemon, a_unit_that_cannot_be_started_is_a_failed_start)
{
    //  What polkit says to a unit that is not ocf-backend@*: here, what systemctl says is
    //  the reason, and the crash loop limit applies as for a program that cannot run.
    s_fake_systemd ();
    ocf_test_node_config (&s_node, "[service.llm]\ncommand = /bin/true\nport = 1\nrestart_max = 1\n"
                                    "restart_delay = 100ms\n");
    char bin[600];
    snprintf (bin, sizeof bin, "%s/fake-bin", s_node.root);
    mkdir (bin, 0755);
    char script[700];
    snprintf (script, sizeof script, "%s/systemctl", bin);
    s_write (script, "#!/bin/sh\necho 'Failed to restart unit: Access denied' >&2\nexit 4\n", 0755);
    char path[2048];
    snprintf (path, sizeof path, "%s:%s", bin, getenv ("PATH"));
    setenv ("PATH", path, 1);
    s_start_workerd (NULL, "workerd.launcher=systemd");
    cr_assert (s_wait_state ("llm", "failed", 5000));
    json_t *stats = s_stats ();
    const char *error = json_string_value (json_object_get (s_service_stats (stats, "llm"), "last_error"));
    cr_assert (error && strstr (error, "systemctl restart ocf-backend@llm.service failed: Failed to restart unit: Access denied"),
               "%s", error);
    json_decref (stats);
}

Test (workerd_daemon, a_foreign_listener_on_the_port_is_not_registered)
{
    //  Another process answers health checks on the port; the launched "backend" never
    //  listens. The answers are not the backend's: not registered, and the log says who.
    int port = ocf_test_free_port ();
    const char *flags[] = { "--model", "m", NULL };
    int slot = s_start_backend (port, flags);
    char section[512];
    snprintf (section, sizeof section, "[service.llm]\ncommand = /bin/sleep 1000\nport = %d\nidentity_group = model=m\n",
              port);
    ocf_test_node_config (&s_node, section);
    s_start_workerd (NULL, NULL);
    char expected[200];
    snprintf (expected, sizeof expected, "llm: not ready: port %d is held by pid %d (ocf-test-backen), not by the backend",
              port, (int) s_backends[slot]);
    cr_assert (s_wait_log ("ocf-workerd", expected, 5000), "'%s' logged", expected);
    usleep (3 * s_interval_ms * 1000);
    cr_assert_not (s_is_registered ("llm"));
    cr_assert_str_eq (s_state ("llm"), "starting");
    char *log = s_log ("ocf-workerd");
    char *first = strstr (log, "llm: not ready");
    cr_assert_null (strstr (first + 1, "llm: not ready"), "said once, not at every check");
    free (log);
}

//  --------------------------------------------------------------------------
//  Externally managed backends

Test (workerd_daemon, an_external_backend_is_registered_and_withdrawn_by_health_alone)
{
    int port = ocf_test_free_port ();
    char sick[400], section[512];
    snprintf (sick, sizeof sick, "%s/sick", s_node.root);
    snprintf (section, sizeof section, "[service.ext]\nport = %d\nidentity_group = model=ext\n", port);
    ocf_test_node_config (&s_node, section);
    s_start_workerd (NULL, NULL);
    usleep (3 * s_interval_ms * 1000);
    cr_assert_not (s_is_registered ("ext"), "nothing listens yet");
    cr_assert_str_eq (s_state ("ext"), "unhealthy");
    const char *flags[] = { "--model", "ext", "--sick-file", sick, NULL };
    int slot = s_start_backend (port, flags);
    cr_assert_geq (s_wait_registered ("ext", true, 5000), 0, "registered when it answers");
    s_touch (sick);
    cr_assert_geq (s_wait_registered ("ext", false, 5000), 0, "withdrawn after failure_threshold failed checks");
    cr_assert_str_eq (s_state ("ext"), "unhealthy");
    unlink (sick);
    cr_assert (s_wait_groups ("ext", "model=ext", 5000), "registered again, with its groups");
    s_stop_backend (slot, SIGKILL);
    cr_assert_geq (s_wait_registered ("ext", false, 5000), 0, "withdrawn when nothing listens");
    json_t *stats = s_stats ();
    json_t *ext = s_service_stats (stats, "ext");
    cr_assert_not (json_boolean_value (json_object_get (ext, "launched")));
    cr_assert (json_is_null (json_object_get (ext, "pid")), "workerd never started anything");
    cr_assert_eq (json_integer_value (json_object_get (ext, "registrations")), 2);
    cr_assert_eq (json_integer_value (json_object_get (ext, "withdrawals")), 2);
    json_decref (stats);
}

Test (workerd_daemon, a_hung_backend_is_withdrawn_after_its_checks_time_out)
{
    //  A stopped process still completes TCP handshakes (the kernel does) but never answers:
    //  each check times out, and failure_threshold of them withdraw it.
    int port = ocf_test_free_port ();
    char section[256];
    snprintf (section, sizeof section, "[service.ext]\nport = %d\nidentity_group = model=ext\n", port);
    ocf_test_node_config (&s_node, section);
    const char *flags[] = { "--model", "ext", NULL };
    int slot = s_start_backend (port, flags);
    s_start_workerd (NULL, NULL);
    cr_assert_geq (s_wait_registered ("ext", true, 5000), 0);
    cr_assert_eq (kill (s_backends[slot], SIGSTOP), 0);
    int64_t withdrawn = s_wait_registered ("ext", false, 10000);
    cr_assert_geq (withdrawn, 0, "withdrawn while hung");
    //  3 checks, each waiting its timeout (the interval, at least 1 s).
    cr_assert_geq (withdrawn, 2000, "not before failure_threshold timeouts (%lld ms)", (long long) withdrawn);
    json_t *stats = s_stats ();
    const char *error = json_string_value (json_object_get (s_service_stats (stats, "ext"), "last_error"));
    cr_assert (error && strstr (error, "timed out"), "%s", error);
    json_decref (stats);
    cr_assert_eq (kill (s_backends[slot], SIGCONT), 0);
    cr_assert_geq (s_wait_registered ("ext", true, 5000), 0, "back when it answers again");
}

Test (workerd_daemon, stop_without_tabled_still_stops_the_backends)
{
    s_launched_service ("llm", "--model m1", NULL);
    s_start_workerd (NULL, NULL);
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    pid_t backend = (pid_t) s_stat_integer ("llm", "pid");
    ocf_test_stop (s_tabled, SIGTERM, 5000);
    s_tabled = 0;
    int64_t start = ocf_time_mono_ms ();
    int status = s_stop_workerd (10000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 0, "status %d", status);
    cr_assert_lt (ocf_time_mono_ms () - start, 4000, "gives up on tabled after 2 s");
    cr_assert_eq (kill (backend, 0), -1);
    char *log = s_log ("ocf-workerd");
    cr_assert (strstr (log, "tabled did not confirm the withdrawal within 2000 ms; stopping the backends anyway"));
    free (log);
}

Test (workerd_daemon, a_stale_registration_of_an_earlier_run_is_withdrawn)
{
    //  A workerd killed with -9 leaves its services in the record; the next one, whose
    //  backend is not healthy, must not keep announcing them.
    json_t *reply = s_call ("SERVICE.UP", json_pack ("{s:{s:s, s:[s], s:s, s:i}}", "service", "name", "llm",
                                                     "identity_group", "model=old", "status", "ready", "port", 1));
    cr_assert_not_null (reply);
    json_decref (reply);
    cr_assert (s_is_registered ("llm"));
    char section[256];
    snprintf (section, sizeof section, "[service.llm]\nport = %d\n", ocf_test_free_port ());
    ocf_test_node_config (&s_node, section);
    s_start_workerd (NULL, NULL);
    cr_assert_geq (s_wait_registered ("llm", false, 3000), 0);
}

Test (workerd_daemon, backend_load_from_its_metrics)
{
    //  --max-running 1: of two streams in flight, one runs (5% KV cache) and one waits.
    int port = s_launched_service ("llm", "--model m --max-running 1", "metrics_path = /metrics\nmax_inflight = 4");
    s_start_workerd (NULL, "workerd.metrics_interval=200ms");
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    int streams[2];
    for (int i = 0; i < 2; i++) {
        streams[i] = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port),
                                    .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
        cr_assert_eq (connect (streams[i], (struct sockaddr *) &addr, sizeof addr), 0);
        const char *body = "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
        char request[512];
        int len = snprintf (request, sizeof request,
                            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "X-Test-Tokens: 1000\r\nX-Test-Token-Delay-Ms: 100\r\nContent-Length: %zu\r\n\r\n%s",
                            strlen (body), body);
        cr_assert_eq (write (streams[i], request, (size_t) len), len);
    }
    int64_t deadline = ocf_time_mono_ms () + 5000;
    json_t *load = NULL;
    while (ocf_time_mono_ms () < deadline) {
        json_t *service = s_registered ("llm");
        json_decref (load);
        load = json_incref (json_object_get (service, "load"));
        json_decref (service);
        if (json_integer_value (json_object_get (load, "queue_depth")) == 1)
            break;
        usleep (20000);
    }
    cr_assert_eq (json_integer_value (json_object_get (load, "queue_depth")), 1, "one request waits");
    cr_assert_float_eq (json_real_value (json_object_get (load, "kv_cache")), 0.05, 1e-9);
    cr_assert_eq (json_integer_value (json_object_get (load, "max_inflight")), 4, "kept by SERVICE.LOAD");
    json_decref (load);
    for (int i = 0; i < 2; i++)
        close (streams[i]);
    deadline = ocf_time_mono_ms () + 5000;
    int64_t queue = -1;
    while (ocf_time_mono_ms () < deadline && queue != 0) {
        json_t *service = s_registered ("llm");
        queue = json_integer_value (json_object_get (json_object_get (service, "load"), "queue_depth"));
        json_decref (service);
        usleep (20000);
    }
    cr_assert_eq (queue, 0, "the queue drained");
}

//  One streamed chat completion, read to its end.
static void
s_stream_to_end (int port, const char *body)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port),
                                .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    cr_assert_eq (connect (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    char request[4096];
    int len = snprintf (request, sizeof request,
                        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "X-Test-Tokens: 2\r\nX-Test-Token-Delay-Ms: 1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
                        strlen (body), body);
    cr_assert_eq (write (fd, request, (size_t) len), len);
    char reply[8192];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof reply - 1 && (n = read (fd, reply + got, sizeof reply - 1 - got)) > 0)
        got += (size_t) n;
    reply[got] = '\0';
    close (fd);
    cr_assert (strstr (reply, "[DONE]"), "no whole stream: %s", reply);
}

Test (workerd_daemon, prefix_cache_hit_rate_from_the_backend)
{
    //  The test backend's simulated prefix cache counts as vLLM's does: the same prompt twice
    //  is all misses then all hits (hit rate 0.5 over both, or 1.0 over the second alone).
    int port = s_launched_service ("llm", "--model m --prefix-cache-blocks 100", "metrics_path = /metrics");
    s_start_workerd (NULL, "workerd.metrics_interval=200ms");
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    char body[2048], text[1200];
    memset (text, 'p', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    snprintf (body, sizeof body, "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}", text);
    s_stream_to_end (port, body);
    s_stream_to_end (port, body);
    int64_t deadline = ocf_time_mono_ms () + 5000;
    double rate = -1;
    while (ocf_time_mono_ms () < deadline && rate < 0.5) {
        json_t *service = s_registered ("llm");
        json_t *value = json_object_get (json_object_get (service, "load"), "prefix_hit_rate");
        rate = json_is_number (value) ? json_number_value (value) : -1;
        json_decref (service);
        usleep (20000);
    }
    cr_assert (rate == 0.5 || rate == 1.0, "prefix_hit_rate %g", rate);
}

//  --------------------------------------------------------------------------
//  Host: GPUs, labels, tabled restarts

//  A fake nvidia-smi that prints the fixture named in a file (so tests switch it), with an
//  exit status in another.
static void
s_fake_nvidia_smi (char *program, size_t size, const char *fixture, int status)
{
    char choice[400], code[400], text[1600];
    snprintf (program, size, "%s/nvidia-smi", s_node.root);
    snprintf (choice, sizeof choice, "%s/nvidia-smi.fixture", s_node.root);
    snprintf (code, sizeof code, "%s/nvidia-smi.status", s_node.root);
    snprintf (text, sizeof text, "#!/bin/sh\n"
                                 "case \"$*\" in *--query-gpu=index,name,uuid,memory.total,memory.used,utilization.gpu,"
                                 "temperature.gpu*--format=csv,noheader,nounits*) ;; *) echo \"unexpected: $*\"; exit 2;; esac\n"
                                 "cat \"$(cat '%s')\"\nexit $(cat '%s')\n", choice, code);
    s_write (program, text, 0755);
    char path[400], number[16];
    snprintf (path, sizeof path, FIXTURES "/nvidia-smi/%s", fixture);
    snprintf (number, sizeof number, "%d", status);
    s_write (choice, path, 0644);
    s_write (code, number, 0644);
}

static int64_t
s_gpu_count_wait (size_t count, int timeout_ms)
{
    int64_t deadline = ocf_time_mono_ms () + timeout_ms;
    do {
        json_t *row = s_row ();
        size_t got = json_array_size (json_object_get (json_object_get (row, "hardware"), "gpus"));
        bool present = json_is_array (json_object_get (json_object_get (row, "hardware"), "gpus"));
        json_decref (row);
        if (present && got == count)
            return 0;
        usleep (20000);
    } while (ocf_time_mono_ms () < deadline);
    return -1;
}

Test (workerd_daemon, gpu_inventory_from_nvidia_smi)
{
    char program[400];
    s_fake_nvidia_smi (program, sizeof program, "titan-x-8gpu.csv", 0);
    s_start_workerd (program, "workerd.gpu_interval=200ms");
    cr_assert_eq (s_gpu_count_wait (8, 5000), 0, "8 GPUs in the record");
    json_t *row = s_row ();
    json_t *gpu = json_array_get (json_object_get (json_object_get (row, "hardware"), "gpus"), 1);
    json_t *expected = json_pack ("{s:i, s:s, s:s, s:i, s:i, s:i, s:i}", "index", 1, "name", "GeForce GTX TITAN X",
                                  "uuid", "GPU-86fe97db-bf54-a056-4e8d-9b07e1a298e7", "memory_total_mb", 12206,
                                  "memory_used_mb", 10032, "utilization", 86, "temperature", 54);
    cr_assert (json_equal (gpu, expected), "got %s", json_dumps (gpu, JSON_COMPACT));
    json_decref (expected);
    json_decref (row);
    //  tabled's gpus view, as people query it.
    char command[600];
    snprintf (command, sizeof command, "sqlite3 -readonly '%s/table.db' \"SELECT count(*), sum(memory_total_mb) FROM gpus\"",
              s_node.state_dir);
    int status;
    char *out = ocf_test_run (command, &status);
    cr_assert_eq (status, 0);
    cr_assert_str_eq (out, "8|97648\n");
    free (out);
    //  Refreshed: MIG enabled now, utilization unknown.
    s_fake_nvidia_smi (program, sizeof program, "h100-mig.csv", 0);
    cr_assert_eq (s_gpu_count_wait (1, 5000), 0);
    row = s_row ();
    gpu = json_array_get (json_object_get (json_object_get (row, "hardware"), "gpus"), 0);
    cr_assert (json_is_null (json_object_get (gpu, "utilization")));
    cr_assert_eq (json_integer_value (json_object_get (gpu, "memory_used_mb")), 11125);
    json_decref (row);
    //  A broken driver keeps the last inventory and says why, once.
    s_fake_nvidia_smi (program, sizeof program, "driver-mismatch.txt", 18);
    usleep (1000 * 1000);
    cr_assert_eq (s_gpu_count_wait (1, 100), 0, "kept");
    char *log = s_log ("ocf-workerd");
    char *first = strstr (log, "exited with status 18: Failed to initialize NVML: Driver/library version mismatch");
    cr_assert_not_null (first, "%s", log);
    cr_assert_null (strstr (first + 1, "exited with status 18"), "logged once, not at every refresh");
    free (log);
    json_t *stats = s_stats ();
    cr_assert_gt (json_integer_value (json_object_get (json_object_get (stats, "counters"), "gpu_probe_failures")), 1);
    json_decref (stats);
    //  The driver is gone altogether: no GPU now.
    s_fake_nvidia_smi (program, sizeof program, "no-devices.txt", 6);
    cr_assert_eq (s_gpu_count_wait (0, 5000), 0);
}

Test (workerd_daemon, slurm_job_variables_become_labels)
{
    ocf_test_node_config (&s_node, "[node]\nlabels = rack=b4\n");
    //  tabled was started before this config: restart it so the configured label is in.
    ocf_test_stop (s_tabled, SIGTERM, 5000);
    s_tabled = ocf_test_start (&s_node, "ocf-tabled", NULL, 10000);
    setenv ("SLURM_JOB_ID", "4242", 1);
    setenv ("SLURM_JOB_NAME", "serve-llama", 1);
    setenv ("SLURM_JOB_PARTITION", "gpu", 1);
    setenv ("SLURM_NODELIST", "gpu[001-002]", 1);
    s_start_workerd (NULL, NULL);
    json_t *expected = json_pack ("{s:s, s:s, s:s, s:s, s:s}", "rack", "b4", "slurm_job_id", "4242",
                                  "slurm_job_name", "serve-llama", "slurm_job_partition", "gpu",
                                  "slurm_job_nodelist", "gpu[001-002]");
    json_t *labels = NULL;
    int64_t deadline = ocf_time_mono_ms () + 5000;
    while (ocf_time_mono_ms () < deadline) {
        json_t *row = s_row ();
        json_decref (labels);
        labels = json_incref (json_object_get (row, "labels"));
        json_decref (row);
        if (json_equal (labels, expected))
            break;
        usleep (20000);
    }
    cr_assert (json_equal (labels, expected), "labels %s", json_dumps (labels, JSON_COMPACT | JSON_SORT_KEYS));
    json_decref (labels);
    json_decref (expected);
}

Test (workerd_daemon, everything_is_sent_again_after_a_tabled_restart)
{
    s_launched_service ("llm", "--model m1", "identity_group = model=m1");
    s_launched_service ("once", "--model m2", "identity_group = model=m2\nrestart = no");
    char program[400];
    s_fake_nvidia_smi (program, sizeof program, "l40s.csv", 0);
    s_start_workerd (program, NULL);
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    cr_assert_geq (s_wait_registered ("once", true, 5000), 0);
    cr_assert_eq (s_gpu_count_wait (1, 5000), 0);
    //  A tabled that lost its database starts from an empty record.
    ocf_test_stop (s_tabled, SIGTERM, 5000);
    char command[600];
    snprintf (command, sizeof command, "rm -f '%s'/table.db*", s_node.state_dir);
    cr_assert_eq (system (command), 0);
    s_tabled = ocf_test_start (&s_node, "ocf-tabled", NULL, 10000);
    cr_assert_gt (s_tabled, 0);
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0, "the services are back");
    cr_assert_geq (s_wait_registered ("once", true, 5000), 0);
    cr_assert_eq (s_gpu_count_wait (1, 5000), 0, "and the hardware");
    //  A backend that dies while tabled is down: its registration, which tabled kept in
    //  table.db, is withdrawn once tabled is back.
    ocf_test_stop (s_tabled, SIGTERM, 5000);
    cr_assert_eq (kill ((pid_t) s_stat_integer ("once", "pid"), SIGKILL), 0);
    cr_assert (s_wait_state ("once", "failed", 5000), "restart = no");
    s_tabled = ocf_test_start (&s_node, "ocf-tabled", NULL, 10000);
    cr_assert_geq (s_wait_registered ("once", false, 5000), 0, "withdrawn after the outage");
    cr_assert (s_is_registered ("llm"));
}

//  An HTTP request to a local proxyd with curl; returns the status, the body in *body
//  (caller frees) when body is not NULL.
static int
s_http (int port, const char *method, const char *payload, char **body)
{
    char command[1024];
    snprintf (command, sizeof command, "curl -s -X %s -w '\\n%%{http_code}' http://127.0.0.1:%d/v1/dnt/_node%s%s%s", method,
              port, payload ? " -d '" : "", payload ? payload : "", payload ? "'" : "");
    int status;
    char *output = ocf_test_run (command, &status);
    cr_assert_eq (status, 0, "%s", command);
    char *last = strrchr (output, '\n');
    int code = last ? atoi (last + 1) : 0;
    if (last)
        *last = '\0';
    if (body)
        *body = output;
    else
        free (output);
    return code;
}

//  The services workerd registers are its own: through proxyd's HTTP API a registration of
//  the same name is refused (409) and DELETE /v1/dnt/_node leaves them; one that someone
//  withdraws anyway (an operator's ocfctl may) is registered again within a heartbeat.
Test (workerd_daemon, its_services_stay_its_own)
{
    int port = ocf_test_free_port (), http = ocf_test_free_port ();
    char section[512];
    snprintf (section, sizeof section, "[service.ext]\nport = %d\nidentity_group = model=ext\n", port);
    ocf_test_node_config (&s_node, section);
    s_start_workerd (NULL, NULL);
    const char *flags[] = { "--model", "ext", NULL };
    s_start_backend (port, flags);
    cr_assert_geq (s_wait_registered ("ext", true, 5000), 0);
    char listen[64];
    snprintf (listen, sizeof listen, "proxyd.listen=127.0.0.1:%d", http);
    const char *sets[] = { listen, "proxyd.fabric_listen=off", NULL };
    pid_t proxyd = ocf_test_start (&s_node, "ocf-proxyd", sets, 10000);
    cr_assert_gt (proxyd, 0, "ocf-proxyd did not start");

    char *body;
    int code = s_http (http, "POST", "{\"service\": [{\"name\": \"ext\", \"port\": 9}]}", &body);
    cr_assert_eq (code, 409, "%s", body);
    cr_assert (strstr (body, "\"service_owned\"") && strstr (body, "ocf-workerd"), "%s", body);
    free (body);
    json_t *service = s_registered ("ext");
    cr_assert_eq (json_integer_value (json_object_get (service, "port")), port, "workerd's registration is untouched");
    cr_assert_str_eq (json_string_value (json_object_get (service, "owner")), "ocf-workerd");
    json_decref (service);
    code = s_http (http, "DELETE", "{\"service\": [{\"name\": \"ext\"}]}", &body);
    cr_assert_eq (code, 409, "%s", body);
    free (body);
    //  An empty DELETE withdraws what this API registered: another service, not workerd's.
    cr_assert_eq (s_http (http, "POST", "{\"service\": [{\"name\": \"mine\", \"port\": 9}]}", NULL), 200);
    code = s_http (http, "DELETE", "{}", &body);
    cr_assert_eq (code, 200, "%s", body);
    cr_assert (strstr (body, "\"mine\"") && !strstr (body, "\"ext\""), "%s", body);
    free (body);
    cr_assert_not (s_is_registered ("mine"));
    cr_assert (s_is_registered ("ext"), "DELETE {} withdrew workerd's service");

    //  An operator's SERVICE.DOWN names no owner and may: workerd puts the service back once
    //  its next HELLO shows a version of the record it did not write.
    json_decref (s_call ("SERVICE.DOWN", json_pack ("{s:s}", "name", "ext")));
    cr_assert_not (s_is_registered ("ext"));
    int64_t back = s_wait_registered ("ext", true, 5000);
    cr_assert_geq (back, 0, "workerd did not register its service again");
    cr_assert_lt (back, 2 * 1000 + 500, "registered again after %lld ms, more than two heartbeats", (long long) back);
    fprintf (stderr, "TIMING re-registered %lld ms after an outside SERVICE.DOWN\n", (long long) back);
    cr_assert_eq (ocf_test_stop (proxyd, SIGTERM, 5000), 0);
}

//  --------------------------------------------------------------------------
//  The daemon itself

Test (workerd_daemon, local_api_and_single_instance)
{
    s_launched_service ("llm", "--model m1", NULL);
    s_start_workerd (NULL, NULL);
    bool ok;
    json_t *hello = ocf_test_call (&s_node, "workerd", "HELLO", NULL, &ok);
    cr_assert (ok);
    cr_assert_str_eq (json_string_value (json_object_get (hello, "daemon")), "ocf-workerd");
    cr_assert_str_eq (json_string_value (json_array_get (json_object_get (hello, "services"), 0)), "llm");
    json_decref (hello);
    json_t *error = ocf_test_call (&s_node, "workerd", "RESTART", NULL, &ok);
    cr_assert_not (ok);
    cr_assert (strstr (json_string_value (json_object_get (error, "error")), "unknown verb RESTART"));
    json_decref (error);
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    json_t *stats = s_stats ();
    cr_assert_eq (json_integer_value (json_object_get (stats, "services_healthy")), 1);
    cr_assert (json_is_true (json_object_get (json_object_get (stats, "tabled"), "connected")));
    cr_assert (json_is_number (json_object_get (s_service_stats (stats, "llm"), "health_latency_ms")));
    json_decref (stats);
    //  A second instance refuses instead of stealing the socket.
    pid_t second = ocf_test_spawn (&s_node, "ocf-workerd", NULL);
    int status = ocf_test_stop (second, 0, 5000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 1, "status %d", status);
    char *log = s_log ("ocf-workerd");
    cr_assert (strstr (log, "refusing to start: another instance holds"));
    free (log);
}

Test (workerd_daemon, configuration_errors_name_section_and_key)
{
    ocf_test_node_config (&s_node,
                          "[workerd]\nhealth_interval = often\n"
                          "[service.a]\nport = 8000\nrestart = sometimes\n"
                          "[service.b]\nport = 8000\ncommand = \"vllm serve\n"
                          "[service.c]\nmodels_path = v1/models\ncolour = blue\n");
    char command[600];
    snprintf (command, sizeof command, "'%s' -c '%s' --check-config 2>&1", ocf_test_bin ("ocf-workerd"), s_node.config);
    int status;
    char *out = ocf_test_run (command, &status);
    cr_assert_eq (status, 1);
    const char *expected[] = {
        ":2: [workerd] health_interval: 'often' is not a duration",
        ":5: [service.a] restart: 'sometimes' is not one of always|on-failure|no",
        "[service.b] port: 8000 is also the port of [service.a]",
        "[service.b] command: unterminated \" quote",
        "[service.c] port: missing",
        "[service.c] models_path: 'v1/models' must start with /",
        ":11: [service.c] colour: unknown key",
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        cr_assert (strstr (out, expected[i]), "'%s' not in:\n%s", expected[i], out);
    free (out);
    //  Started for real, it exits with EX_CONFIG (78) before doing anything.
    pid_t pid = ocf_test_spawn (&s_node, "ocf-workerd", NULL);
    status = ocf_test_stop (pid, 0, 5000);
    cr_assert (WIFEXITED (status) && WEXITSTATUS (status) == 78, "status %d", status);
}

//  --------------------------------------------------------------------------
//  Timing: healthy -> registered and failed -> withdrawn, against the bound of
//  1 s + one health interval. failure_threshold = 1 here: with N, a failing check needs N
//  intervals by definition (a refused connection withdraws at once whatever N is).

#define MAX_SAMPLES 101

static int64_t
s_median (int64_t *values, int count)
{
    qsort (values, (size_t) count, sizeof *values, s_compare);
    return values[count / 2];
}

Test (workerd_daemon, timing_of_registration_and_withdrawal, .timeout = 600)
{
    //  OCF_TEST_TIMING_SAMPLES (default 7) samples of each.
    const char *wanted = getenv ("OCF_TEST_TIMING_SAMPLES");
    int samples = wanted && atoi (wanted) > 0 ? atoi (wanted) : 7;
    if (samples > MAX_SAMPLES)
        samples = MAX_SAMPLES;
    int port = ocf_test_free_port ();
    char sick[400], section[512];
    snprintf (sick, sizeof sick, "%s/sick", s_node.root);
    snprintf (section, sizeof section, "[service.ext]\nport = %d\nidentity_group = model=ext\n", port);
    ocf_test_node_config (&s_node, section);
    s_launched_service ("launched", "--model l", "identity_group = model=l\nrestart_max = 100");
    s_touch (sick);
    const char *flags[] = { "--model", "ext", "--sick-file", sick, NULL };
    int slot = s_start_backend (port, flags);
    s_start_workerd (NULL, "workerd.failure_threshold=1");
    usleep (2 * s_interval_ms * 1000);
    int64_t registered[MAX_SAMPLES], withdrawn[MAX_SAMPLES], refused[MAX_SAMPLES];
    int64_t bound = 1000 + s_interval_ms;
    for (int i = 0; i < samples; i++) {
        //  Random phase against the check interval, as in real life.
        usleep ((useconds_t) (rand () % (int) s_interval_ms) * 1000);
        unlink (sick);
        registered[i] = s_wait_registered ("ext", true, (int) bound * 3);
        cr_assert_geq (registered[i], 0, "registered (sample %d)", i);
        usleep ((useconds_t) (rand () % (int) s_interval_ms) * 1000);
        s_touch (sick);
        withdrawn[i] = s_wait_registered ("ext", false, (int) bound * 3);
        cr_assert_geq (withdrawn[i], 0, "withdrawn (sample %d)", i);
    }
    //  The backend dies: a refused connection.
    unlink (sick);
    for (int i = 0; i < samples; i++) {
        cr_assert_geq (s_wait_registered ("ext", true, (int) bound * 3), 0);
        usleep ((useconds_t) (rand () % (int) s_interval_ms) * 1000);
        s_stop_backend (slot, SIGKILL);
        refused[i] = s_wait_registered ("ext", false, (int) bound * 3);
        cr_assert_geq (refused[i], 0);
        slot = s_start_backend (port, flags);
    }
    //  A launched backend dies: SIGCHLD, no check needed.
    int64_t exited[MAX_SAMPLES];
    for (int i = 0; i < samples; i++) {
        cr_assert_geq (s_wait_registered ("launched", true, (int) bound * 3), 0);
        pid_t pid = (pid_t) s_stat_integer ("launched", "pid");
        usleep ((useconds_t) (rand () % (int) s_interval_ms) * 1000);
        cr_assert_eq (kill (pid, SIGKILL), 0);
        exited[i] = s_wait_registered ("launched", false, (int) bound * 3);
        cr_assert_geq (exited[i], 0);
    }
    for (int i = 0; i < samples; i++) {
        cr_assert_leq (exited[i], bound, "exit -> withdrawn took %lld ms", (long long) exited[i]);
        cr_assert_leq (registered[i], bound, "healthy -> registered took %lld ms", (long long) registered[i]);
        cr_assert_leq (withdrawn[i], bound, "failed -> withdrawn took %lld ms", (long long) withdrawn[i]);
        cr_assert_leq (refused[i], bound, "killed -> withdrawn took %lld ms", (long long) refused[i]);
    }
    int64_t medians[] = { s_median (registered, samples), s_median (withdrawn, samples), s_median (refused, samples),
                           s_median (exited, samples) };
    fprintf (stderr, "TIMING health_interval=%lldms samples=%d: healthy->registered median %lld ms (max %lld), "
             "failed->withdrawn (503, failure_threshold=1) median %lld ms (max %lld), "
             "external killed->withdrawn (refused) median %lld ms (max %lld), "
             "launched killed->withdrawn (exit) median %lld ms (max %lld), bound %lld ms\n",
             (long long) s_interval_ms, samples, (long long) medians[0], (long long) registered[samples - 1],
             (long long) medians[1], (long long) withdrawn[samples - 1], (long long) medians[2],
             (long long) refused[samples - 1], (long long) medians[3], (long long) exited[samples - 1],
             (long long) bound);
}

//  --------------------------------------------------------------------------
//  Drain (here without proxyd: the in-flight count is unknown, so drain_timeout decides;
//  tests/proxyd/test_drain.c drains under load with proxyd counting)

//  The service's status in tabled's services view, as people query it ("" when not there).
static char *
s_view_status (const char *name)
{
    char command[700];
    snprintf (command, sizeof command, "sqlite3 -readonly '%s/table.db' \"SELECT DISTINCT status FROM services "
              "WHERE service = '%s' AND node_id = '%s'\"", s_node.state_dir, name, s_id);
    int status;
    char *out = ocf_test_run (command, &status);
    cr_assert_eq (status, 0, "sqlite3: %s", out);
    out[strcspn (out, "\n")] = '\0';
    return out;
}

static json_t *
s_workerd_call (const char *verb, json_t *body, bool *ok)
{
    json_t *reply = ocf_test_call (&s_node, "workerd", verb, body, ok);
    cr_assert_not_null (reply, "workerd answers %s", verb);
    return reply;
}

Test (workerd_daemon, drain_marks_draining_then_withdraws_and_undrain_registers_again)
{
    int port = s_launched_service ("llm", "--model m", "models_path = /v1/models\n");
    s_start_workerd (NULL, "workerd.drain_timeout=2s");
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    char *status = s_view_status ("llm");
    cr_assert_str_eq (status, "ready");
    free (status);
    //  Bad requests are refused with the reason.
    bool ok;
    json_t *reply = s_workerd_call ("DRAIN", json_pack ("{s:s}", "service", "nope"), &ok);
    cr_assert_not (ok);
    cr_assert_str_eq (json_string_value (json_object_get (reply, "error")), "no service 'nope' on this host");
    json_decref (reply);
    reply = s_workerd_call ("DRAIN", json_pack ("{s:i}", "colour", 1), &ok);
    cr_assert_not (ok);
    json_decref (reply);
    int64_t started = ocf_time_mono_ms ();
    reply = s_workerd_call ("DRAIN", NULL, &ok);
    cr_assert (ok, "%s", json_dumps (reply, 0));
    cr_assert_str_eq (json_string_value (json_object_get (json_object_get (json_object_get (reply, "services"), "llm"),
                                                          "drain")), "draining");
    json_decref (reply);
    //  Marked in tabled (and so in the view people read) while the backend still serves.
    json_t *service = NULL;
    for (int i = 0; i < 100; i++) {
        json_decref (service);
        service = s_registered ("llm");
        if (service && strcmp (json_string_value (json_object_get (service, "status")), "draining") == 0)
            break;
        usleep (5000);
    }
    cr_assert_str_eq (json_string_value (json_object_get (service, "status")), "draining");
    json_decref (service);
    status = s_view_status ("llm");
    cr_assert_str_eq (status, "draining");
    free (status);
    json_t *stats = s_stats ();
    cr_assert_str_eq (json_string_value (json_object_get (s_service_stats (stats, "llm"), "drain")), "draining");
    json_decref (stats);
    //  No proxyd to say nothing is in flight: withdrawn at drain_timeout, not before.
    cr_assert_geq (s_wait_registered ("llm", false, 5000), 0);
    int64_t took = ocf_time_mono_ms () - started;
    cr_assert_geq (took, 2000, "withdrawn after %lld ms, before drain_timeout", (long long) took);
    cr_assert_str_eq (s_state ("llm"), "healthy", "the backend still runs and answers");
    char *log = s_log ("ocf-workerd");
    cr_assert (strstr (log, "llm: cannot learn the requests in flight from proxyd"), "%s", log);
    cr_assert (strstr (log, "llm: drain_timeout (2 s) reached"), "%s", log);
    free (log);
    //  Still drained some checks later; UNDRAIN registers it again.
    usleep (3 * (useconds_t) s_interval_ms * 1000);
    cr_assert_not (s_is_registered ("llm"));
    reply = s_workerd_call ("UNDRAIN", NULL, &ok);
    cr_assert (ok);
    json_decref (reply);
    cr_assert_geq (s_wait_registered ("llm", true, 2000), 0);
    service = s_registered ("llm");
    cr_assert_str_eq (json_string_value (json_object_get (service, "status")), "ready");
    json_decref (service);
    (void) port;
}

Test (workerd_daemon, drain_with_wait_and_stop_answers_once_the_backend_is_gone)
{
    s_launched_service ("llm", "", "identity_group = model=m\n");
    s_launched_service ("other", "", "identity_group = model=o\n");
    //  Checks a minute apart once healthy: the stop must follow the end of the drain at once,
    //  not wait for the next event of the service.
    ocf_test_node_config (&s_node, "[workerd]\ndrain_timeout = 500ms\n");
    s_start_workerd (NULL, "workerd.health_interval=60s");
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    cr_assert_geq (s_wait_registered ("other", true, 5000), 0);
    pid_t pid = (pid_t) s_stat_integer ("llm", "pid");
    int64_t started = ocf_time_mono_ms ();
    bool ok;
    json_t *reply = s_workerd_call ("DRAIN", json_pack ("{s:s, s:b, s:b}", "service", "llm", "wait", 1, "stop", 1), &ok);
    cr_assert (ok, "%s", json_dumps (reply, 0));
    int64_t took = ocf_time_mono_ms () - started;
    cr_assert_geq (took, 500, "answered at the end of the drain (%lld ms)", (long long) took);
    cr_assert (json_is_true (json_object_get (reply, "drained")));
    json_t *llm = json_object_get (json_object_get (reply, "services"), "llm");
    cr_assert_str_eq (json_string_value (json_object_get (llm, "drain")), "drained");
    cr_assert (json_is_false (json_object_get (llm, "running")));
    cr_assert_null (json_object_get (json_object_get (reply, "services"), "other"), "only the service named");
    json_decref (reply);
    cr_assert_eq (kill (pid, 0), -1, "the backend is gone");
    cr_assert_not (s_is_registered ("llm"));
    cr_assert (s_is_registered ("other"), "the other service is untouched");
    cr_assert_str_eq (s_state ("llm"), "stopped", "not restarted");
    char path[600];
    snprintf (path, sizeof path, "%s/drained", s_node.state_dir);
    cr_assert_eq (access (path, F_OK), -1, "a drain with stop (ocf.target stopping) is not kept across restarts");
    //  UNDRAIN starts it again.
    reply = s_workerd_call ("UNDRAIN", json_pack ("{s:s}", "service", "llm"), &ok);
    cr_assert (ok);
    json_decref (reply);
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    cr_assert_neq ((pid_t) s_stat_integer ("llm", "pid"), pid);
}

Test (workerd_daemon, a_drain_outlives_a_restart_of_workerd_until_undrain)
{
    s_launched_service ("llm", "", "identity_group = model=m\n");
    s_start_workerd (NULL, "workerd.drain_timeout=200ms");
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    bool ok;
    json_t *reply = s_workerd_call ("DRAIN", json_pack ("{s:b}", "wait", 1), &ok);
    cr_assert (ok, "%s", json_dumps (reply, 0));
    json_decref (reply);
    char path[600];
    snprintf (path, sizeof path, "%s/drained", s_node.state_dir);
    char *kept = ocf_test_read_file (path);
    cr_assert_str_eq (kept ? kept : "(none)", "llm\n");
    free (kept);
    //  Restarted (an upgrade in the middle of maintenance): the backend runs, is healthy,
    //  and stays out of the table.
    ocf_test_stop (s_workerd, SIGTERM, 10000);
    s_start_workerd (NULL, "workerd.drain_timeout=200ms");
    cr_assert (s_wait_state ("llm", "healthy", 5000));
    usleep (3 * (useconds_t) s_interval_ms * 1000);
    cr_assert_not (s_is_registered ("llm"), "still drained after the restart");
    cr_assert (ocf_test_wait_notify (&s_node, "STATUS=1/1 services healthy (0 draining, 1 drained), 0 GPUs, tabled connected",
                                     6000), "systemctl status says the host is drained");
    char *log = s_log ("ocf-workerd");
    cr_assert (strstr (log, "llm: kept drained (listed in"), "%s", log);
    free (log);
    reply = s_workerd_call ("UNDRAIN", NULL, &ok);
    cr_assert (ok);
    json_decref (reply);
    cr_assert_geq (s_wait_registered ("llm", true, 2000), 0);
    cr_assert_eq (access (path, F_OK), -1, "nothing kept drained any more");
}

Test (workerd_daemon, undrain_answers_whoever_waits_for_the_drain)
{
    s_launched_service ("llm", "", "identity_group = model=m\n");
    s_start_workerd (NULL, "workerd.drain_timeout=60s");
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    //  No proxyd: the drain would wait its minute. A caller waits for it in the background.
    char out[600], command[2000];
    snprintf (out, sizeof out, "%s/drain-wait.out", s_node.root);
    snprintf (command, sizeof command, "('%s' -r '%s' -d workerd -t 30000 DRAIN '{\"wait\": true}'; echo \"exit $?\") > '%s' 2>&1 &",
              ocf_test_bin ("ocfctl"), s_node.run_dir, out);
    cr_assert_eq (system (command), 0);
    cr_assert (s_wait_state ("llm", "healthy", 1000));
    json_t *service = NULL;
    for (int i = 0; i < 200; i++) {
        json_decref (service);
        service = s_registered ("llm");
        if (service && strcmp (json_string_value (json_object_get (service, "status")), "draining") == 0)
            break;
        usleep (10000);
    }
    cr_assert_str_eq (json_string_value (json_object_get (service, "status")), "draining");
    json_decref (service);
    bool ok;
    json_t *reply = s_workerd_call ("UNDRAIN", NULL, &ok);
    cr_assert (ok);
    json_decref (reply);
    char *text = NULL;
    for (int i = 0; i < 200 && !(text && strstr (text, "exit ")); i++) {
        free (text);
        usleep (10000);
        text = ocf_test_read_file (out);
    }
    cr_assert (text && strstr (text, "undrained before the drain was complete") && strstr (text, "exit 1"),
               "the waiting caller was told: %s", text ? text : "(nothing)");
    free (text);
    cr_assert_geq (s_wait_registered ("llm", true, 2000), 0);
}

//  ocfctl's drain and undrain (for people) against this workerd: output and exit status.
static char *
s_ocfctl (const char *arguments, int *status)
{
    char command[1200];
    snprintf (command, sizeof command, "'%s' -r '%s' %s 2>&1", ocf_test_bin ("ocfctl"), s_node.run_dir, arguments);
    return ocf_test_run (command, status);
}

Test (workerd_daemon, ocfctl_drain_waits_for_the_drain_and_undrain_puts_it_back)
{
    s_launched_service ("llm", "", "identity_group = model=m\n");
    s_start_workerd (NULL, "workerd.drain_timeout=1s");
    cr_assert_geq (s_wait_registered ("llm", true, 5000), 0);
    int status;
    char *output = s_ocfctl ("drain nope", &status);
    cr_assert_eq (status, 1, "%s", output);
    cr_assert (strstr (output, "no service 'nope' on this host"), "%s", output);
    free (output);
    //  No proxyd here: the drain ends at drain_timeout, and drain waits for it.
    int64_t started = ocf_time_mono_ms ();
    output = s_ocfctl ("drain llm", &status);
    int64_t took = ocf_time_mono_ms () - started;
    cr_assert_eq (status, 0, "%s", output);
    cr_assert_geq (took, 1000, "returned after %lld ms, before the drain was complete", (long long) took);
    cr_assert (strstr (output, "SERVICE") && strstr (output, "DRAIN") && strstr (output, "BACKEND RUNNING"), "%s", output);
    cr_assert (strstr (output, "llm") && strstr (output, "drained") && strstr (output, "yes"), "%s", output);
    free (output);
    cr_assert_not (s_is_registered ("llm"));
    output = s_ocfctl ("undrain --json", &status);
    cr_assert_eq (status, 0, "%s", output);
    json_t *reply = json_loads (output, 0, NULL);
    cr_assert (json_is_object (json_object_get (json_object_get (reply, "services"), "llm")), "%s", output);
    json_decref (reply);
    free (output);
    cr_assert_geq (s_wait_registered ("llm", true, 2000), 0);
    //  --no-wait: the answer at once, the service draining.
    output = s_ocfctl ("drain --no-wait", &status);
    cr_assert_eq (status, 0, "%s", output);
    cr_assert (strstr (output, "draining"), "%s", output);
    free (output);
    free (s_ocfctl ("undrain llm", &status));
    cr_assert_eq (status, 0);
}

/*  ocf-workerd: this host's agent: it runs and watches the backends and reports the hardware.
    The daemon around ocf_agent: configuration, signals (SIGTERM/SIGINT exit and leave the
    backends running, SIGHUP reads the configuration again for ocf_agent_reload, SIGCHLD
    reaps), systemd notifications, and the local API on run_dir/workerd.api (ROUTER) with
    HELLO, STATS, DRAIN, UNDRAIN and STOP (withdraw, stop the backends, exit), guarded by
    run_dir/workerd.lock.  */
#include "ocf_alloc.h"
#include "ocf_daemon.h"
#include "ocf_lock.h"
#include "ocf_log.h"
#include "ocf_msg.h"
#include "ocf_sdnotify.h"
#include "ocf_signals.h"
#include "ocf_agent.h"

#include <curl/curl.h>

#define MAX_REQUEST 65536
#define STATUS_INTERVAL_MS 5000
#define MAX_WAITERS 64           //  DRAIN {"wait": true} callers answered once the drain is complete

//  A DRAIN caller waiting for the end of the drain: its reply's envelope and what it drains.
typedef struct {
    zmsg_t *reply;
    char *service;               //  NULL: every service
} waiter_t;

typedef struct {
    ocf_config_t *config;
    ocf_signals_t *signals;
    ocf_agent_t *agent;
    zsock_t *api;
    char status[256];            //  the last STATUS= sent
    waiter_t waiters[MAX_WAITERS];
    size_t waiter_count;
} daemon_t;

static void
s_send (daemon_t *daemon, zmsg_t **reply)
{
    //  Never blocks (SNDTIMEO 0): a client gone or too slow loses its reply.
    if (zmsg_send (reply, daemon->api) != 0)
        zmsg_destroy (reply);
}

//  Answers waiter index (body taken) and forgets it: the last one takes its place.
static void
s_answer_waiter (daemon_t *daemon, size_t index, const char *verb, json_t *body)
{
    waiter_t *waiter = &daemon->waiters[index];
    ocf_msg_append (waiter->reply, verb, body);
    s_send (daemon, &waiter->reply);
    free (waiter->service);
    daemon->waiters[index] = daemon->waiters[--daemon->waiter_count];
}

//  After every event of the agent: answer the waiters whose drain is complete.
static void
s_on_drain_progress (void *arg)
{
    daemon_t *daemon = arg;
    for (size_t i = 0; i < daemon->waiter_count;)
        if (ocf_agent_drained (daemon->agent, daemon->waiters[i].service))
            s_answer_waiter (daemon, i, "OK", ocf_agent_drain_view (daemon->agent, daemon->waiters[i].service));
        else
            i++;
}

//  DRAIN and UNDRAIN: {"service": NAME} (default: every service); DRAIN also {"wait": true}
//  (answer once drained) and {"stop": true} (stop the backends once drained).
static json_t *
s_drain (daemon_t *daemon, ocf_msg_t *msg, zmsg_t **reply, const char **verb)
{
    *verb = "ERR";
    bool drain = strcmp (msg->verb, "DRAIN") == 0;
    const char *key;
    json_t *value;
    json_object_foreach (msg->body, key, value) {
        bool known = strcmp (key, "v") == 0 || strcmp (key, "service") == 0
                  || (drain && (strcmp (key, "wait") == 0 || strcmp (key, "stop") == 0));
        if (!known)
            return ocf_msg_error_body ("%s: unknown member \"%s\" (known: service%s)", msg->verb, key,
                                       drain ? ", wait, stop" : "");
    }
    json_t *service = json_object_get (msg->body, "service");
    json_t *wait = json_object_get (msg->body, "wait"), *stop = json_object_get (msg->body, "stop");
    if ((service && !json_is_string (service)) || (wait && !json_is_boolean (wait)) || (stop && !json_is_boolean (stop)))
        return ocf_msg_error_body ("%s: \"service\" must be a string, \"wait\" and \"stop\" booleans", msg->verb);
    const char *name = json_string_value (service);
    char error[256];
    int rc = drain ? ocf_agent_drain (daemon->agent, name, json_is_true (stop), error, sizeof error)
                   : ocf_agent_undrain (daemon->agent, name, error, sizeof error);
    if (rc != 0)
        return ocf_msg_error_body ("%s", error);
    //  An UNDRAIN ends the drains it covers: whoever waits for them is told.
    for (size_t i = 0; !drain && i < daemon->waiter_count;)
        if (!name || !daemon->waiters[i].service || strcmp (name, daemon->waiters[i].service) == 0)
            s_answer_waiter (daemon, i, "ERR", ocf_msg_error_body ("undrained before the drain was complete"));
        else
            i++;
    if (drain && json_is_true (wait) && !ocf_agent_drained (daemon->agent, name)) {
        if (daemon->waiter_count == MAX_WAITERS)
            return ocf_msg_error_body ("DRAIN: %d callers wait already", MAX_WAITERS);
        daemon->waiters[daemon->waiter_count++] = (waiter_t) { *reply, name ? ocf_strdup (name) : NULL };
        *reply = NULL;
        return NULL;
    }
    *verb = "OK";
    return ocf_agent_drain_view (daemon->agent, name);
}

//  Returns -1 when the request ended the daemon (STOP with nothing left to stop).
static int
s_answer (daemon_t *daemon, zmsg_t *request)
{
    int rc = 0;
    zmsg_t *reply = ocf_msg_take_envelope (request);
    ocf_msg_t msg;
    char error[512];
    if (ocf_msg_decode_zmsg (&msg, request, MAX_REQUEST, error, sizeof error) != 0) {
        ocf_log_warning ("rejected a request: %s", error);
        ocf_msg_append (reply, "ERR", json_pack ("{s:s}", "error", error));
    }
    else {
        if (strcmp (msg.verb, "HELLO") == 0)
            ocf_msg_append (reply, "OK", ocf_agent_hello (daemon->agent));
        else
        if (strcmp (msg.verb, "STATS") == 0)
            ocf_msg_append (reply, "OK", ocf_agent_stats (daemon->agent));
        else
        if (strcmp (msg.verb, "DRAIN") == 0 || strcmp (msg.verb, "UNDRAIN") == 0) {
            const char *verb = NULL;
            json_t *body = s_drain (daemon, &msg, &reply, &verb);
            if (reply)
                ocf_msg_append (reply, verb, body);
        }
        else
        if (strcmp (msg.verb, "STOP") == 0) {
            if (!ocf_agent_stopping (daemon->agent)) {
                ocf_log_notice ("asked to STOP: withdrawing the services, stopping the backends, then exiting");
                ocf_sdnotify ("STOPPING=1");
            }
            rc = ocf_agent_shutdown (daemon->agent);
            ocf_msg_append (reply, "OK", json_pack ("{s:b}", "stopping", true));
        }
        else
            ocf_msg_append (reply, "ERR", ocf_msg_error_body ("unknown verb %s (known: HELLO STATS DRAIN UNDRAIN STOP)", msg.verb));
        ocf_msg_clear (&msg);
    }
    if (reply)
        s_send (daemon, &reply);
    return rc;
}

static int
s_on_api (zloop_t *loop, zsock_t *sock, void *arg)
{
    for (int count = 0; count < 100 && (zsock_events (sock) & ZMQ_POLLIN); count++) {
        zmsg_t *request = zmsg_recv_nowait (sock);
        if (!request)
            break;
        int rc = s_answer (arg, request);
        zmsg_destroy (&request);
        if (rc == -1)
            return -1;           //  ends zloop_start
    }
    return 0;
}

static int
s_on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    daemon_t *daemon = arg;
    int signal_number, rc = 0;
    while ((signal_number = ocf_signals_next (daemon->signals))) {
        if (signal_number == SIGCHLD)
            rc = ocf_agent_reap (daemon->agent);
        else
        if (signal_number == SIGTERM || signal_number == SIGINT) {
            //  A restart or an upgrade of workerd must not cost the minutes a model takes to
            //  load: the backends stay, serving and registered, and the next workerd adopts them.
            if (!ocf_agent_stopping (daemon->agent)) {
                ocf_log_info ("received %s, exiting", strsignal (signal_number));
                ocf_sdnotify ("STOPPING=1");
            }
            rc = ocf_agent_leave (daemon->agent);
        }
        else
        if (signal_number == SIGHUP) {
            ocf_log_notice ("received SIGHUP: reading the configuration again");
            ocf_config_t *config = ocf_daemon_reload ();
            if (config)
                ocf_agent_reload (daemon->agent, config);
        }
        if (rc == -1)
            return -1;           //  ends zloop_start
    }
    return 0;
}

static int
s_on_status (zloop_t *loop, int timer_id, void *arg)
{
    daemon_t *daemon = arg;
    char status[256];
    ocf_agent_status_line (daemon->agent, status, sizeof status);
    if (strcmp (status, daemon->status) != 0) {
        ocf_sdnotify_status ("%s", status);
        snprintf (daemon->status, sizeof daemon->status, "%s", status);
    }
    return 0;
}

int
main (int argc, char **argv)
{
    ocf_config_t *config = ocf_daemon_start (argc, argv, "ocf-workerd",
                                             "Launches, supervises and health-checks this host's backends and registers them with tabled.");
    //  Blocked before any thread starts (libzmq's, curl's), so every thread inherits the mask
    //  and SIGCHLD can only arrive through the signalfd.
    static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD, 0 };
    daemon_t daemon = { .config = config, .signals = ocf_signals_new (signals) };
    char error[1024], endpoint[4200];
    int status = 1;
    ocf_lock_t *lock = NULL;
    if (!daemon.signals) {
        ocf_log_error ("cannot set up signal handling: %s", strerror (errno));
        goto done;
    }
    lock = ocf_daemon_claim (config, "workerd");
    if (!lock)
        goto done;
    if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        ocf_log_error ("cannot initialise libcurl");
        goto done;
    }
    daemon.api = zsock_new (ZMQ_ROUTER);
    zsock_set_sndtimeo (daemon.api, 0);
    zsock_set_router_mandatory (daemon.api, 1);
    zsock_set_maxmsgsize (daemon.api, MAX_REQUEST * 4);
    if (zsock_bind (daemon.api, "%s", ocf_daemon_endpoint (config, "workerd.api", endpoint, sizeof endpoint)) != 0) {
        ocf_log_error ("cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        goto stop;
    }
    zloop_t *loop = zloop_new ();
    daemon.agent = ocf_agent_new (config, loop, error, sizeof error);
    if (!daemon.agent) {
        ocf_log_error ("%s", error);
        zloop_destroy (&loop);
        goto stop;
    }
    ocf_agent_set_drain_handler (daemon.agent, s_on_drain_progress, &daemon);
    zloop_reader (loop, daemon.api, s_on_api, &daemon);
    zmq_pollitem_t signal_item = { NULL, ocf_signals_fd (daemon.signals), ZMQ_POLLIN, 0 };
    zloop_poller (loop, &signal_item, s_on_signal, &daemon);
    zloop_timer (loop, STATUS_INTERVAL_MS, 0, s_on_status, &daemon);
    ocf_daemon_watchdog (loop);
    ocf_log_info ("ready: %zu service%s; API on %s/workerd.api", config->service_count,
                  config->service_count == 1 ? "" : "s", config->node.run_dir);
    s_on_status (loop, 0, &daemon);
    //  Ready means supervising: backends become healthy later, each in its own time.
    ocf_sdnotify ("READY=1");
    zloop_start (loop);
    //  Exiting ends the waits for drains: a STOP withdrew every service, and a drain that
    //  SIGTERM interrupts goes on in the next workerd (state_dir/drained).
    while (daemon.waiter_count)
        s_answer_waiter (&daemon, 0, "ERR", ocf_msg_error_body ("workerd stopped during the drain"));
    ocf_agent_destroy (&daemon.agent);
    zloop_destroy (&loop);
    status = 0;
stop:
    zsock_destroy (&daemon.api);
    curl_global_cleanup ();
    ocf_log_info ("stopped");
done:
    ocf_lock_destroy (&lock);
    ocf_signals_destroy (&daemon.signals);
    ocf_config_destroy (&config);
    return status;
}
